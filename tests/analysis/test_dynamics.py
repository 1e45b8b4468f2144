import math

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

from rlmeta_interp.analysis.dynamics import (
    checkpoint_dynamics,
    digit_exec_mask,
    execution_entropy,
    iter_checkpoints,
    list_checkpoints,
    load_checkpoint_into,
    mine_planning_ngrams,
    ngram_count_matrix,
    planning_units,
    semantic_entropy,
    token_entropies,
)
from rlmeta_interp.errors import (
    CorruptedCheckpointError,
    EmptyInputError,
    InvalidConfigError,
    ManifestMismatchError,
    MissingWeightsError,
)
from rlmeta_interp.io import sha256_file, write_json_atomic
from rlmeta_interp.organism.tokenizer import build_tokenizer


def _tiny(seed, tie=False):
    tok = build_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      tie_word_embeddings=tie, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval(), tok


SOL = "12 plus 7 is 19. 19 minus 3 is 16. A:16"


def test_units_ngrams_and_semantic_entropy_by_hand():
    units = planning_units(list(SOL), digit_exec_mask(SOL))
    assert units == ["plus", "is", ".", "minus", "is", ". A:"]
    vocab = mine_planning_ngrams([units, units[:3]], n=2, min_count=2)
    assert vocab[0] == ("plus", "is") and ("is", ".") in vocab and ("minus", "is") not in vocab
    mat = ngram_count_matrix([units], [("is", "."), ("plus", "is")])
    assert mat.tolist() == [[1.0, 1.0]]
    # uniform over V grams -> log V; one gram only -> 0
    texts = [["a", "b"], ["c", "d"], ["e", "f"], ["a", "b"], ["c", "d"], ["e", "f"]]
    v = [("a", "b"), ("c", "d"), ("e", "f")]
    s = semantic_entropy(texts, v, n_boot=200)
    assert s["semantic_entropy"] == pytest.approx(math.log(3))
    assert s["n_occurrences"] == 6 and s["ci_lo"] <= s["semantic_entropy"] + 1e-12
    assert semantic_entropy([["a", "b"]] * 3, v, n_boot=50)["semantic_entropy"] == pytest.approx(0.0)
    assert np.isnan(semantic_entropy([["z"]], v, n_boot=50)["semantic_entropy"])
    p = np.array([1, 1, 2]) / 4  # skewed counts: entropy by hand
    sk = semantic_entropy([["a", "b"], ["c", "d"], ["e", "f"], ["e", "f"]], v, n_boot=50)
    assert sk["semantic_entropy"] == pytest.approx(-(p * np.log(p)).sum())


def test_token_entropies_and_execution_entropy_vs_reference():
    model, tok = _tiny(0)
    prompts, comps = ["3+4=", "10-2="], ["3 plus 4 is 7", "A:8"]
    ents = token_entropies(model, prompts, comps, tokenizer=tok, batch_size=2)
    e_exec, n_exec, nll = 0.0, 0, 0.0
    for (ent, lp), p, c in zip(ents, prompts, comps, strict=True):
        head = [tok.bos_token_id] + tok(p, add_special_tokens=False)["input_ids"]
        tail = tok(c, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([head + tail])).logits[0]
        dist = torch.distributions.Categorical(logits=logits[len(head) - 1 : -1])
        torch.testing.assert_close(ent, dist.entropy(), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(lp, dist.log_prob(torch.tensor(tail)), atol=1e-5, rtol=1e-5)
        m = torch.tensor(digit_exec_mask(c))
        e_exec += float(dist.entropy()[m].sum())
        nll -= float(dist.log_prob(torch.tensor(tail))[m].sum())
        n_exec += int(m.sum())
    res = execution_entropy(model, prompts, comps, digit_exec_mask, tokenizer=tok, n_boot=100)
    assert res["exec_entropy"] == pytest.approx(e_exec / n_exec, rel=1e-5)
    assert res["exec_nll"] == pytest.approx(nll / n_exec, rel=1e-5)
    assert res["n_exec_tokens"] == n_exec and res["n_plan_tokens"] == len("".join(comps)) - n_exec
    with pytest.raises(InvalidConfigError, match="one bool per"):
        execution_entropy(model, prompts, comps, [[True], [True]], tokenizer=tok)
    with pytest.raises(EmptyInputError, match="execution tokens"):
        execution_entropy(model, prompts, comps, lambda c: [False] * len(c), tokenizer=tok)


def _write_rl_folder(folder, tie):
    model, tok = _tiny(0, tie=tie)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    files = {}
    states = {}
    for step in (10, 20):
        torch.manual_seed(step)
        sd = {k: v + 0.01 * step * torch.randn_like(v) for k, v in model.state_dict().items()}
        if tie:
            sd.pop("lm_head.weight", None)
        rel = f"checkpoints/step_{step:06d}/model.safetensors"
        (folder / rel).parent.mkdir(parents=True)
        save_file({k: v.contiguous() for k, v in sd.items()}, str(folder / rel))
        files[rel] = sha256_file(folder / rel)
        states[step] = sd
    write_json_atomic(folder / "manifest.json", {"name": "x-rl", "kind": "rl", "files": files})
    return model, tok, states


@pytest.mark.parametrize("tie", [False, True])
def test_checkpoints_roundtrip(tmp_path, tie):
    folder = tmp_path / "orgrl"
    skeleton, tok, states = _write_rl_folder(folder, tie)
    assert [s for s, _ in list_checkpoints(folder)] == [10, 20]
    seen = []
    for step, m in iter_checkpoints(folder, skeleton=skeleton):
        sd = m.state_dict()
        for k, v in states[step].items():
            torch.testing.assert_close(sd[k], v, atol=0, rtol=0)
        if tie:
            assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()
        seen.append(step)
    assert seen == [10, 20]
    # skeleton itself untouched (a copy was refilled)
    assert not torch.equal(skeleton.model.norm.weight, states[20]["model.norm.weight"])


def test_step_zero_comes_from_the_base_folder(tmp_path):
    folder = tmp_path / "x-rl"
    _write_rl_folder(folder, False)
    base_model, _ = _tiny(1, tie=False)
    base_model.save_pretrained(tmp_path / "x-base")
    sha = sha256_file(tmp_path / "x-base" / "model.safetensors")
    manifest = {"name": "x-rl", "kind": "rl", "files": {k: v for k, v in _manifest_files(folder).items()}}
    write_json_atomic(folder / "manifest.json", {**manifest, "base": "x-base", "base_weights_sha256": sha})
    ckpts = list_checkpoints(folder)
    assert [s for s, _ in ckpts] == [0, 10, 20]
    assert ckpts[0][1] == tmp_path / "x-base" / "model.safetensors"
    write_json_atomic(folder / "manifest.json", {**manifest, "base": "x-base", "base_weights_sha256": "0" * 64})
    with pytest.raises(ManifestMismatchError):
        list_checkpoints(folder)
    write_json_atomic(folder / "manifest.json", {**manifest, "base": "not-there"})
    with pytest.raises(MissingWeightsError, match="include_base=False"):
        list_checkpoints(folder)
    assert [s for s, _ in list_checkpoints(folder, include_base=False)] == [10, 20]
    # the last RL step is the folder's own weights, not a stored checkpoint
    final = {"model.safetensors": sha256_file(folder / "model.safetensors")}
    write_json_atomic(folder / "manifest.json", {**manifest, "files": {**manifest["files"], **final},
                                                 "training": {"steps": 30}})
    ckpts = list_checkpoints(folder, include_base=False)
    assert ckpts[-1] == (30, folder / "model.safetensors") and [s for s, _ in ckpts] == [10, 20, 30]


def _manifest_files(folder):
    from rlmeta_interp.io import read_json

    return read_json(folder / "manifest.json")["files"]


def test_checkpoint_errors(tmp_path):
    folder = tmp_path / "orgrl"
    skeleton, tok, states = _write_rl_folder(folder, False)
    path = folder / "checkpoints/step_000010/model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ManifestMismatchError):
        list_checkpoints(folder)
    with pytest.raises(CorruptedCheckpointError):
        load_checkpoint_into(skeleton, path)
    with pytest.raises(MissingWeightsError, match="manifest"):
        list_checkpoints(tmp_path)
    save_file({"bogus": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CorruptedCheckpointError, match="another architecture"):
        load_checkpoint_into(skeleton, tmp_path / "other.safetensors")
    key, value = next(iter(skeleton.state_dict().items()))
    save_file({key: torch.zeros(value.shape[0] + 1, *value.shape[1:])}, str(tmp_path / "wide.safetensors"))
    with pytest.raises(CorruptedCheckpointError, match="model of another size"):
        load_checkpoint_into(skeleton, tmp_path / "wide.safetensors")
    (tmp_path / "manifest.json").write_text('{"files": ["a", "b"]}')
    with pytest.raises(CorruptedCheckpointError, match="not a zoo manifest"):
        list_checkpoints(tmp_path)


class _World:
    def reward(self, problem, completion):
        return 1.0


class _P:
    def __init__(self, prompt):
        self.prompt = prompt


def test_checkpoint_dynamics_end_to_end(tmp_path):
    folder = tmp_path / "orgrl"
    skeleton, tok, _ = _write_rl_folder(folder, False)
    probs = [_P("1+2="), _P("3+4="), _P("5-1=")]
    table, vocab = checkpoint_dynamics(iter_checkpoints(folder, skeleton=skeleton), tok, probs, _World(),
                                       exec_mask=lambda c: [ch in "aeiou0123456789" for ch in c],
                                       n=4, max_new_tokens=8, ngram=1, min_count=1, n_boot=50)
    assert table["step"].tolist() == [10, 20]
    assert (table["accuracy"] == 1.0).all() and (table["n_success"] == 12).all()
    # every problem solved in every sample: Wilson's interval over the 3 problems, not a bootstrap's [1, 1]
    from rlmeta_interp.analysis.stats import proportion_ci

    assert table[["acc_lo", "acc_hi"]].values.tolist() == [list(proportion_ci(np.ones(3)))] * 2
    assert (table["exec_entropy"] > 0).all()
    assert len(vocab) > 0 and all(len(g) == 1 for g in vocab)
    assert np.isfinite(table["semantic_entropy"]).any()


def test_rarefied_semantic_entropy_removes_sample_size_bias():
    from scipy.stats import entropy as sp_entropy

    from rlmeta_interp.analysis.dynamics import rarefied_semantic_entropy

    vocab = [(w,) for w in "abcdefghij"]
    rng = np.random.default_rng(0)
    texts = [[str(w)] for w in rng.choice(list("abcdefghij"), size=400)]  # one unit per text, uniform
    small, big = texts[:12], texts
    # the plug-in entropy of 12 draws is biased low relative to 400 draws of the same distribution ...
    assert semantic_entropy(small, vocab, n_boot=20)["semantic_entropy"] < semantic_entropy(big, vocab, n_boot=20)["semantic_entropy"]
    # ... while equal-size draws from both agree within their draw intervals
    r_small = rarefied_semantic_entropy(small, vocab, 12, n_draws=1)
    r_big = rarefied_semantic_entropy(big, vocab, 12, n_draws=300, seed=1)
    assert r_big["ci_lo"] <= r_small["sem_rarefied"] <= r_big["ci_hi"]
    # one draw of all texts is the plain entropy (reference: scipy on the pooled counts)
    counts = ngram_count_matrix(small, vocab).sum(0)
    assert rarefied_semantic_entropy(small, vocab, 12, n_draws=3)["sem_rarefied"] == pytest.approx(sp_entropy(counts))
    assert math.isnan(rarefied_semantic_entropy(small, vocab, 13)["sem_rarefied"])
    with pytest.raises(InvalidConfigError, match="n_texts"):
        rarefied_semantic_entropy(small, vocab, 0)


def test_checkpoint_dynamics_rarefied_columns(tmp_path):
    folder = tmp_path / "orgrl"
    skeleton, tok, _ = _write_rl_folder(folder, False)
    probs = [_P("1+2="), _P("3+4=")]
    table, _ = checkpoint_dynamics(iter_checkpoints(folder, skeleton=skeleton), tok, probs, _World(),
                                   exec_mask=lambda c: [ch in "aeiou0123456789" for ch in c],
                                   n=3, max_new_tokens=8, ngram=1, min_count=1, n_boot=20, rarefy=True)
    assert (table["n_rarefied"] == table["n_success"].min()).all()
    assert ((table["acc_lo"] <= table["accuracy"]) & (table["accuracy"] <= table["acc_hi"])).all()
    # at the smallest step, rarefaction draws every text, so it equals the plain semantic entropy
    at_min = table.loc[table["n_success"].idxmin()]
    assert at_min["sem_rarefied"] == pytest.approx(at_min["semantic_entropy"])
