"""Tests of analysis.saes: SAELens SAEs on activations with planted features, saved, spliced and resumed."""

from __future__ import annotations

import math
import re

import pytest
import torch
from sae_lens import TopKSAE, TopKSAEConfig
from transformer_lens import HookedTransformer, HookedTransformerConfig

from rlmeta_interp.analysis.crosscoder import CrosscoderConfig, crosscoder_latents, train_crosscoder
from rlmeta_interp.analysis.saes import (
    SAE_STATE,
    SAE_WEIGHTS,
    SaeTrainConfig,
    load_sae,
    reconstruction_quality,
    save_sae,
    splice_ce_loss,
    train_sae,
)
from rlmeta_interp.errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError
from rlmeta_interp.hooks import hook_name

from .planted import N_EXCL, D, Stop, assert_same_state, planted_pair, stop_at


@pytest.fixture(scope="module")
def planted():
    return planted_pair()


@pytest.fixture(scope="module")
def base_sae(planted):
    base, _, _, _ = planted
    cfg = SaeTrainConfig(d_sae=32, k=3, lr=3e-3, training_samples=60_000, batch_size=256)
    return train_sae(base, cfg, hook_name="blocks.0.hook_resid_post", model_name="planted")


def test_sae_on_base_reconstructs_rl_worse(planted, base_sae):
    base, rl, _, _ = planted
    df = reconstruction_quality(base_sae, {"base": base, "rl": rl}, n_boot=200).set_index("model")
    # independent reference for the FVU
    with torch.no_grad():
        recon = base_sae.decode(base_sae.encode(base))
    ref = float(((base - recon) ** 2).sum() / ((base - base.mean(0)) ** 2).sum())
    assert df.loc["base", "fvu"] == pytest.approx(ref, rel=1e-5)
    assert df.loc["base", "fvu"] < 0.1
    assert df.loc["base", "ci_lo"] <= df.loc["base", "fvu"] <= df.loc["base", "ci_hi"]
    # the RL-only features are not in the base SAE's dictionary
    assert df.loc["rl", "fvu"] > 2 * df.loc["base", "fvu"]
    assert df.loc["rl", "ratio_ci_lo"] > 1.5
    assert df.loc["base", "l0"] <= 3.0


def test_sae_save_load_roundtrip(tmp_path, base_sae, planted):
    base, _, _, _ = planted
    folder = save_sae(base_sae, tmp_path / "sae", metadata={"hook": "blocks.0.hook_resid_post"})
    save_sae(base_sae, folder)  # overwriting an existing folder works
    loaded = load_sae(folder)
    assert torch.equal(loaded.encode(base[:32]), base_sae.encode(base[:32]))
    assert [p.name for p in tmp_path.iterdir()] == ["sae"]
    with pytest.raises(MissingWeightsError):
        load_sae(tmp_path / "missing")


def test_batchtopk_sae_trains_and_loads(tmp_path, planted):
    base, _, _, _ = planted
    sae = train_sae(base[:2000], SaeTrainConfig(architecture="batchtopk", d_sae=32, k=3, lr=3e-3,
                                                training_samples=20_000, batch_size=256))
    df = reconstruction_quality(sae, {"base": base[:2000]}, n_boot=100)
    assert df.loc[0, "fvu"] < 0.5
    with pytest.raises(InvalidConfigError, match=r"\['flat'\] have no variance"):
        reconstruction_quality(sae, {"base": base[:2000], "flat": torch.ones(20, base.shape[1])}, n_boot=20)
    again = load_sae(save_sae(sae, tmp_path / "btk"))
    assert torch.equal(again.encode(base[:8]), sae.encode(base[:8]))


def test_sae_config_checks():
    with pytest.raises(InvalidConfigError, match="k=40 exceeds"):
        SaeTrainConfig(d_sae=32, k=40)
    with pytest.raises(InvalidConfigError, match="training_samples"):
        SaeTrainConfig(training_samples=10, batch_size=512)
    with pytest.raises(InvalidConfigError):
        SaeTrainConfig(architecture="standard")
    # fvu of mismatched shapes gave a torch broadcasting error (or a silent broadcast); no variance reads NaN
    from rlmeta_interp.analysis.saes import fvu

    for a, b in ((torch.ones(4, 3), torch.ones(4, 2)), (torch.ones(4, 3), torch.ones(3)), (torch.ones(3), torch.ones(3))):
        with pytest.raises(InvalidConfigError, match="one shape"):
            fvu(a, b)
    assert math.isnan(fvu(torch.ones(4, 3), torch.zeros(4, 3)))
    # an infinite learning rate trained an SAE of non-finite weights without a word; negative settings were accepted
    for kw in ({"lr": float("inf")}, {"aux_loss_coefficient": -1.0}, {"dead_feature_window": 0},
               {"lr_warm_up_steps": -5}):
        with pytest.raises(InvalidConfigError, match=next(iter(kw))):
            SaeTrainConfig(**kw)
    assert SaeTrainConfig.from_dict(SaeTrainConfig(k=4).to_dict()) == SaeTrainConfig(k=4)


def _identity_sae(d: int) -> TopKSAE:
    """An exact SAE: latents [x, -x], decoder [I; -I], k = d keeps every positive half."""
    sae = TopKSAE(TopKSAEConfig(d_in=d, d_sae=2 * d, k=d, rescale_acts_by_decoder_norm=False))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], 1))
        sae.W_dec.copy_(torch.cat([eye, -eye], 0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


@pytest.fixture(scope="module")
def tiny_tl():
    cfg = HookedTransformerConfig(n_layers=2, d_model=16, n_ctx=32, d_head=4, n_heads=4, d_mlp=32, d_vocab=12,
                                  act_fn="gelu", normalization_type="LN", seed=0)
    return HookedTransformer(cfg)


def test_splice_ce_loss_against_manual_forward(tiny_tl):
    hook = hook_name(0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 12, (6, 10), generator=g)
    mask = torch.ones_like(tokens)
    mask[0, 7:] = 0
    exact = splice_ce_loss({"m": tiny_tl}, _identity_sae(16), hook, tokens, mask, n_boot=100).iloc[0]
    assert exact["delta_ce"] == pytest.approx(0.0, abs=1e-5) and exact["ce_recovered"] == pytest.approx(1.0, abs=1e-4)
    torch.manual_seed(0)
    noisy = TopKSAE(TopKSAEConfig(d_in=16, d_sae=32, k=4))
    row = splice_ce_loss({"m": tiny_tl}, noisy, hook, tokens, mask, n_boot=100).iloc[0]
    # manual reference: splice by hand, run the remaining blocks, masked next-token CE
    with torch.no_grad():
        _, cache = tiny_tl.run_with_cache(tokens, names_filter=hook)
        resid = cache[hook]
        logits = tiny_tl(noisy.decode(noisy.encode(resid)), start_at_layer=1)
        logp = torch.log_softmax(logits[:, :-1].double(), -1).gather(-1, tokens[:, 1:, None])[..., 0]
        tm = mask[:, 1:].double()
        ref = float(-(logp * tm).sum() / tm.sum())
    assert row["spliced"] == pytest.approx(ref, rel=1e-5)
    assert row["delta_ce"] == pytest.approx(ref - row["clean"], rel=1e-5)
    assert row["delta_ci_lo"] <= row["delta_ce"] <= row["delta_ci_hi"]
    assert row["n_tokens"] == int(mask[:, 1:].sum())


def test_splice_ce_loss_refuses_inputs_it_cannot_honour(tiny_tl):
    from rlmeta_interp.errors import EmptyInputError, HookNotFoundError, InputTooLongError

    hook, sae = hook_name(0), _identity_sae(16)
    seq = torch.randint(1, 12, (1, 8), generator=torch.Generator().manual_seed(1))
    left = torch.cat([torch.zeros(1, 4, dtype=torch.long), seq], 1)
    left_mask = torch.cat([torch.zeros(1, 4), torch.ones(1, 8)], 1).long()
    bad = {"right-padded": (left, left_mask), "only 0 and 1": (seq, 2 * torch.ones_like(seq)),
           "integer tensor": (seq.float(), None), "vocabulary has ids 0..11": (seq + 20, None),
           "ids' shape": (seq, torch.ones(1, 7).long())}
    for said, (tokens, mask) in bad.items():
        with pytest.raises(InvalidConfigError, match=said):
            splice_ce_loss({"m": tiny_tl}, sae, hook, tokens, mask, n_boot=20)
    with pytest.raises(InputTooLongError, match="context of 32"):
        splice_ce_loss({"m": tiny_tl}, sae, hook, torch.ones(1, 40).long(), n_boot=20)
    with pytest.raises(InvalidConfigError, match="SAE reads 24-wide vectors"):
        splice_ce_loss({"m": tiny_tl}, _identity_sae(24), hook, seq, n_boot=20)
    with pytest.raises(InvalidConfigError, match="one vector per position"):
        splice_ce_loss({"m": tiny_tl}, sae, "blocks.0.attn.hook_pattern", seq, n_boot=20)
    with pytest.raises(InvalidConfigError, match="hook must be a hook name"):
        splice_ce_loss({"m": tiny_tl}, sae, 0, seq, n_boot=20)
    with pytest.raises(HookNotFoundError):
        splice_ce_loss({"m": tiny_tl}, sae, "blocks.9.hook_resid_post", seq, n_boot=20)
    with pytest.raises(EmptyInputError):
        splice_ce_loss({}, sae, hook, seq, n_boot=20)


@pytest.mark.parametrize(("architecture", "normalize"), [("topk", "none"), ("batchtopk", "expected_average_only_in")])
def test_train_sae_resumes_bit_for_bit(tmp_path, planted, architecture, normalize):
    from rlmeta_interp.errors import CheckpointMismatchError

    base = planted[0][:700]  # 700 rows, batches of 64: passes end mid-way, so the data order is resumed mid-pass
    cfg = SaeTrainConfig(d_sae=24, k=3, architecture=architecture, training_samples=64 * 30, batch_size=64,
                         dead_feature_window=5, normalize_activations=normalize, lr_warm_up_steps=4, seed=3)
    plain = train_sae(base, cfg)
    with pytest.raises(Stop):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", checkpoint_every=7, on_checkpoint=stop_at(14))
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step_000000014"]  # older one pruned
    # what a SIGKILL mid-save leaves: a half-built step folder and a half-written file; never read, later deleted
    (tmp_path / "ck" / ".step_000000021.a1b2c3.tmp").mkdir()
    (tmp_path / "ck" / ".step_000000021.a1b2c3.tmp" / SAE_WEIGHTS).write_bytes(b"half")
    (tmp_path / "ck" / ".step_000000014.d4e5f6.old.tmp").mkdir()
    steps = []
    resumed = train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", checkpoint_every=7, on_checkpoint=steps.append)
    assert steps == [21, 28, 30]  # resumed after 14, not from scratch
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step_000000030"]
    assert_same_state(plain.state_dict(), resumed.state_dict())
    assert resumed.cfg.metadata.l0 == plain.cfg.metadata.l0
    again = train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", on_checkpoint=steps.append)  # finished: no steps
    assert steps == [21, 28, 30]
    assert_same_state(plain.state_dict(), again.state_dict())
    with pytest.raises(CheckpointMismatchError, match="checkpoint_dir"):
        train_sae(base, cfg.replace(lr=2e-3), checkpoint_dir=tmp_path / "ck")
    with pytest.raises(CheckpointMismatchError):
        train_sae(base[:-1], cfg, checkpoint_dir=tmp_path / "ck")
    # a damaged checkpoint names the folder to delete (older ones are pruned: there is nothing to fall back on)
    last = tmp_path / "ck" / "step_000000030"
    (last / SAE_WEIGHTS).write_bytes((last / SAE_WEIGHTS).read_bytes()[:-16])
    with pytest.raises(CorruptedCheckpointError, match=f"delete the checkpoint folder {re.escape(str(last))} and rerun"):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck")
    (last / SAE_STATE).unlink()
    with pytest.raises(CorruptedCheckpointError, match=f"{SAE_STATE}.*delete the checkpoint folder {re.escape(str(last))}"):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine)")
def test_sae_and_crosscoder_train_on_cuda_from_cpu_activations(tmp_path, planted):
    base, rl, _, _ = planted
    cfg = SaeTrainConfig(d_sae=32, k=3, lr=3e-3, training_samples=60_000, batch_size=256)
    sae = train_sae(base, cfg, device="cuda", checkpoint_dir=tmp_path / "sae", checkpoint_every=50)
    assert next(sae.parameters()).device.type == "cuda"
    df = reconstruction_quality(sae, {"base": base, "rl": rl}, n_boot=200).set_index("model")
    assert df.loc["base", "fvu"] < 0.1 and df.loc["rl", "ratio_ci_lo"] > 1.5  # the CPU test's science holds on GPU
    again = train_sae(base, cfg, device="cuda", checkpoint_dir=tmp_path / "sae")  # final checkpoint: a read
    assert_same_state(sae.state_dict(), again.state_dict())
    cc = train_crosscoder(base, rl, CrosscoderConfig(d_in=D, d_sae=24, k=2, steps=1500, batch_size=256, lr=3e-3),
                          device="cuda")
    assert cc.W_dec.device.type == "cuda"
    table = crosscoder_latents(cc, base, rl)
    assert (table["category"] == "rl_only").sum() >= N_EXCL - 1
