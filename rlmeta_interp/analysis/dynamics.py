"""Two-phase RL dynamics: execution-token entropy and planning "semantic entropy" per checkpoint
(claim 8 in docs/claims.md, Wang et al. 2509.03646, HICRA).

HICRA splits a solution's tokens into *execution* tokens (carrying out a step: digits, arithmetic) and
*planning* tokens (deciding what to do next: "plus", "is", step separators, strategy phrases). Their
finding, with the caveat in docs/claims.md: early in RL the token-level entropy of execution tokens falls
(execution is consolidated); later the *semantic* entropy of planning n-grams (the entropy of the
frequency distribution of planning n-grams mined from successful solutions) rises (the policy
explores strategies), while token-level entropy keeps falling.

Definitions used here:
- ``exec mask``: one bool per completion token (True = execution). A callable ``mask_fn(completion)``
  or explicit masks; :func:`digit_exec_mask` (digits are execution) is the arithmetic default.
- token entropy at a completion token = entropy (nats) of the policy's next-token distribution from
  which that token was drawn; averaged over execution tokens (token-weighted).
- planning units = maximal runs of planning tokens, whitespace-stripped, non-empty (for a char-level
  world, "12 plus 7 is 19." -> ["plus", "is", "."]); planning n-grams = n consecutive units.
- semantic entropy = Shannon entropy (nats) of the pooled counts of the mined n-gram vocabulary in a
  set of completions; NaN when none occurs. CIs resample completions.

Checkpoints: ``<rl_folder>/checkpoints/step_NNNNNN/model.safetensors`` as listed (with sha256) in the RL
model's ``manifest.json`` ``files``; they load into a skeleton built from the RL folder.
"""

from __future__ import annotations

import copy
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from scipy.stats import entropy as shannon_entropy
from torch import Tensor
from tqdm.auto import tqdm

from ..errors import CorruptedCheckpointError, EmptyInputError, InvalidConfigError, MissingWeightsError
from ..io import WEIGHTS_FILE, load_tensors, read_json, verify_sha256
from ..sampling import context_length
from ..views import hf_view
from .likelihood import build_batch
from .ratios import bootstrap_ratio_ci
from .stats import bootstrap_pooled_ci, mean_ci

log = logging.getLogger(__name__)

_CKPT = re.compile(r"^checkpoints/step_(\d+)/model\.safetensors$")
MaskFn = Callable[[str], Sequence[bool]]


# ------------------------------------------------------------------------------------------------ masks and units
def digit_exec_mask(completion: str) -> list[bool]:
    """Arithmetic default: digit characters are execution tokens, everything else is planning."""
    return [ch.isdigit() for ch in completion]


def planning_units(tokens: Sequence[str], exec_mask: Sequence[bool]) -> list[str]:
    """Maximal runs of planning tokens, joined, stripped, empty runs dropped."""
    if len(tokens) != len(exec_mask):
        raise InvalidConfigError(f"{len(tokens)} tokens but a mask of {len(exec_mask)}: one mask entry per token.")
    units, run = [], []
    for tok, is_exec in zip(tokens, exec_mask, strict=True):
        if is_exec:
            if run:
                units.append("".join(run).strip())
                run = []
        else:
            run.append(tok)
    if run:
        units.append("".join(run).strip())
    return [u for u in units if u]


def _ngrams(units: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]


def mine_planning_ngrams(units_per_text: Sequence[Sequence[str]], n: int = 2, min_count: int = 2) -> list[tuple[str, ...]]:
    """Vocabulary of planning n-grams occurring at least ``min_count`` times in (successful) solutions,
    most frequent first (ties in first-seen order)."""
    if n < 1:
        raise InvalidConfigError(f"n-gram length must be >= 1, got {n}.")
    if min_count < 1:
        raise InvalidConfigError(f"min_count must be >= 1, got {min_count}.")
    counts: Counter[tuple[str, ...]] = Counter()
    for units in units_per_text:
        counts.update(_ngrams(units, n))
    return [g for g, c in counts.most_common() if c >= min_count]


def ngram_count_matrix(
    units_per_text: Sequence[Sequence[str]], vocab: Sequence[tuple[str, ...]]
) -> Float[np.ndarray, "texts vocab"]:
    """Occurrences of each vocabulary n-gram in each text."""
    if not vocab:
        raise EmptyInputError("The planning n-gram vocabulary is empty: mine it from more successful solutions or lower min_count.")
    n = len(vocab[0])
    if any(len(g) != n for g in vocab):
        raise InvalidConfigError("Every vocabulary n-gram must have the same length.")
    index = {g: i for i, g in enumerate(vocab)}
    mat = np.zeros((len(units_per_text), len(vocab)))
    for t, units in enumerate(units_per_text):
        for g in _ngrams(units, n):
            if g in index:
                mat[t, index[g]] += 1
    return mat


def _entropy_rows(pooled: np.ndarray) -> np.ndarray:
    total = pooled.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        h = shannon_entropy(pooled, axis=-1)
    return np.where(total > 0, h, np.nan)


def semantic_entropy(
    units_per_text: Sequence[Sequence[str]],
    vocab: Sequence[tuple[str, ...]],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Entropy (nats) of the pooled frequency distribution of ``vocab`` n-grams over the texts.

    Returns ``semantic_entropy, ci_lo, ci_hi, n_occurrences, n_texts``; NaN entropy when no n-gram occurs.
    """
    if len(units_per_text) == 0:
        raise EmptyInputError("No texts given: pass the planning units of at least one completion.")
    mat = ngram_count_matrix(units_per_text, vocab)
    h = float(_entropy_rows(mat.sum(axis=0)))
    lo, hi = bootstrap_pooled_ci(mat, _entropy_rows, n_boot=n_boot, ci=ci, seed=seed) if np.isfinite(h) else (np.nan, np.nan)
    return {"semantic_entropy": h, "ci_lo": lo, "ci_hi": hi, "n_occurrences": int(mat.sum()), "n_texts": len(units_per_text)}


def rarefied_semantic_entropy(
    units_per_text: Sequence[Sequence[str]],
    vocab: Sequence[tuple[str, ...]],
    n_texts: int,
    *,
    n_draws: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Semantic entropy on ``n_texts`` texts drawn without replacement, averaged over ``n_draws`` draws.

    Plug-in entropy is biased low on small samples, so comparing checkpoints whose numbers of successful
    solutions differ (they grow as accuracy rises) confounds accuracy with diversity; equal-size draws remove
    that (rarefaction). Returns ``sem_rarefied, ci_lo, ci_hi`` (percentile interval of the draws; it shows the
    variation of subsets of these texts, not of new samples), ``n_texts``, ``n_available``; NaN when fewer than
    ``n_texts`` texts exist or no vocabulary n-gram occurs.
    """
    if n_texts < 1:
        raise InvalidConfigError(f"n_texts must be >= 1, got {n_texts}.")
    if n_draws < 1:
        raise InvalidConfigError(f"n_draws must be >= 1, got {n_draws}.")
    if not 0 < ci < 1:
        raise InvalidConfigError(f"ci must lie in (0, 1), got {ci}.")
    out = {"sem_rarefied": np.nan, "ci_lo": np.nan, "ci_hi": np.nan, "n_texts": int(n_texts),
           "n_available": len(units_per_text)}
    if len(units_per_text) < n_texts or not vocab:
        return out
    mat = ngram_count_matrix(units_per_text, vocab)
    rng = np.random.default_rng(seed)
    idx = np.stack([rng.choice(len(units_per_text), size=n_texts, replace=False) for _ in range(n_draws)])
    h = _entropy_rows(mat[idx].sum(axis=1))
    h = h[np.isfinite(h)]
    if h.size:
        a = (1 - ci) / 2
        out.update(sem_rarefied=float(h.mean()), ci_lo=float(np.quantile(h, a)), ci_hi=float(np.quantile(h, 1 - a)))
    return out


# ---------------------------------------------------------------------------------------------- token entropies
@torch.inference_mode()
def token_entropies(
    model: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    tokenizer: Any | None = None,
    batch_size: int = 32,
) -> list[tuple[Float[Tensor, " completion_tokens"], Float[Tensor, " completion_tokens"]]]:
    """Per (prompt, completion): ``(entropy, logprob)`` of the policy's next-token distribution at each
    completion token (entropy in nats; logprob of the token actually written)."""
    hf, tok = hf_view(model, tokenizer, require_tokenizer=True)
    if len(prompts) == 0:
        raise EmptyInputError("No samples given: pass prompts and completions of equal, non-zero length.")
    if len(prompts) != len(completions):
        raise InvalidConfigError(f"{len(prompts)} prompts but {len(completions)} completions: pass one prompt per completion.")
    device = next(hf.parameters()).device
    out = []
    for s in range(0, len(prompts), batch_size):
        ids, attn, score = build_batch(tok, prompts[s : s + batch_size], completions[s : s + batch_size], False, context_length(hf))
        logits = hf(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        ent = -(logp.exp() * logp).sum(-1).cpu()
        lp = logp.gather(-1, ids[:, 1:, None].to(device))[..., 0].cpu()
        mask = score[:, 1:].bool()
        out.extend((ent[i][mask[i]], lp[i][mask[i]]) for i in range(ids.shape[0]))
    return out


def _masks(completions: Sequence[str], tokenizer: Any, exec_mask: MaskFn | Sequence[Sequence[bool]] | None) -> list[np.ndarray]:
    masks = []
    for i, c in enumerate(completions):
        n_tok = len(tokenizer(c, add_special_tokens=False)["input_ids"])
        if exec_mask is None:
            m = np.ones(n_tok, dtype=bool)
        else:
            m = np.asarray(exec_mask(c) if callable(exec_mask) else exec_mask[i], dtype=bool)
        if m.shape != (n_tok,):
            raise InvalidConfigError(
                f"Completion {i} has {n_tok} tokens but its execution mask has {m.size} entries: give one bool per"
                " completion token (for the char-level tokenizer, one per character)."
            )
        masks.append(m)
    return masks


def execution_entropy(
    model: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    exec_mask: MaskFn | Sequence[Sequence[bool]] | None = None,
    *,
    tokenizer: Any | None = None,
    batch_size: int = 32,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Token-weighted mean entropy (nats) on execution tokens, with a CI resampling completions, plus the
    planning-token entropy and execution-token NLL (``exec_ppl = exp(exec_nll)``)."""
    _, tok = hf_view(model, tokenizer, require_tokenizer=True)
    masks = _masks(completions, tok, exec_mask)
    ents = token_entropies(model, prompts, completions, tokenizer=tokenizer, batch_size=batch_size)
    e_sum = np.array([float(e[torch.from_numpy(m)].sum()) for (e, _), m in zip(ents, masks, strict=True)])
    p_sum = np.array([float(e[torch.from_numpy(~m)].sum()) for (e, _), m in zip(ents, masks, strict=True)])
    nll_sum = np.array([-float(lp[torch.from_numpy(m)].sum()) for (_, lp), m in zip(ents, masks, strict=True)])
    n_exec = np.array([int(m.sum()) for m in masks])
    n_plan = np.array([int((~m).sum()) for m in masks])
    if n_exec.sum() == 0:
        raise EmptyInputError("No execution tokens in these completions: check the mask (True = execution token).")
    keep = n_exec > 0
    lo, hi = (bootstrap_ratio_ci(e_sum[keep], n_exec[keep], n_boot=n_boot, ci=ci, seed=seed)
              if keep.sum() > 1 else (np.nan, np.nan))
    return {
        "exec_entropy": float(e_sum.sum() / n_exec.sum()), "ci_lo": lo, "ci_hi": hi,
        "plan_entropy": float(p_sum.sum() / n_plan.sum()) if n_plan.sum() else float("nan"),
        "exec_nll": float(nll_sum.sum() / n_exec.sum()), "exec_ppl": float(np.exp(nll_sum.sum() / n_exec.sum())),
        "n_exec_tokens": int(n_exec.sum()), "n_plan_tokens": int(n_plan.sum()), "n_samples": len(completions),
    }


# ----------------------------------------------------------------------------------------------------- checkpoints
def list_checkpoints(rl_folder: str | Path, *, verify: bool = True, include_base: bool = True) -> list[tuple[int, Path]]:
    """``[(step, path)]`` of the RL checkpoints the folder's manifest lists, sorted by step (sha256 checked).

    Step 0 is the base model's weights (the manifest's ``base``, looked up next to ``rl_folder`` and then in the
    registry) unless the manifest lists a ``step_000000`` of its own; ``include_base=False`` leaves it out. The last
    RL step (the manifest's ``training.steps``) is the folder's own ``model.safetensors`` unless it is listed.
    """
    folder = Path(rl_folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise MissingWeightsError(
            f"{folder} has no manifest.json, so its checkpoints are unknown. Pass an RL model folder from the zoo"
            " (`rlmeta-interp zoo build` writes checkpoints and their manifest)."
        )
    manifest = read_json(manifest_path)
    files = manifest.get("files", {}) if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise CorruptedCheckpointError(f"{manifest_path} is not a zoo manifest (an object whose 'files' maps paths to"
                                       " sha256 digests): rebuild the model or re-copy its folder.")
    out = []
    for rel, sha in files.items():
        m = _CKPT.match(rel)
        if m:
            path = folder / rel
            if verify:
                verify_sha256(path, sha)
            out.append((int(m.group(1)), path))
    if not out:
        raise MissingWeightsError(
            f"The manifest of {folder} lists no checkpoints (checkpoints/step_NNNNNN/model.safetensors): retrain"
            " with checkpointing on to study dynamics."
        )
    last = (manifest.get("training") or {}).get("steps")
    if last and WEIGHTS_FILE in files and all(step != last for step, _ in out):
        if verify:
            verify_sha256(folder / WEIGHTS_FILE, files[WEIGHTS_FILE])
        out.append((int(last), folder / WEIGHTS_FILE))
    if include_base and all(step != 0 for step, _ in out):
        base = _base_weights(folder, manifest, verify=verify)
        if base is not None:
            out.append((0, base))
    return sorted(out)


def _base_weights(folder: Path, manifest: dict[str, Any], *, verify: bool) -> Path | None:
    """Step 0 of an RL run is its base model: the zoo folder named by the manifest's ``base`` (a sibling of
    ``folder``, else found through the registry), checked against ``base_weights_sha256`` when recorded."""
    name = manifest.get("base")
    if not name:
        return None
    candidates = [folder.parent / name]
    from ..registry import zoo_entries

    entry = zoo_entries().get(name)
    if entry is not None:
        candidates.append(Path(entry.spec.location))
    for cand in candidates:
        path = cand / WEIGHTS_FILE
        if path.exists():
            sha = manifest.get("base_weights_sha256")
            if verify and sha:
                verify_sha256(path, sha)
            return path
    raise MissingWeightsError(
        f"Step 0 of {folder} is its base model {name!r}, which is neither next to it nor in the zoo: put the base"
        f" folder beside the RL folder (or build it: `rlmeta-interp zoo build --preset {manifest.get('preset', 'paper')} --only {name}`), or pass"
        " include_base=False to start at the first RL checkpoint."
    )


@torch.no_grad()
def load_checkpoint_into(model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Copy a safetensors checkpoint into ``model`` in place (tied weights may be stored once)."""
    state = load_tensors(path)
    own = model.state_dict()
    other = sorted(k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape))
    if other:  # load_state_dict raises torch's own error on a shape mismatch, even with strict=False
        k = other[0]
        raise CorruptedCheckpointError(
            f"{path} holds {len(other)} tensor(s) of other shapes than this model's ({k}: {tuple(state[k].shape)}"
            f" against {tuple(own[k].shape)}): the checkpoint belongs to a model of another size; pass the skeleton"
            " of the model it was trained from.")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise CorruptedCheckpointError(
            f"{path} holds parameters this model lacks ({unexpected[:3]}...): it belongs to another architecture."
        )
    if missing:
        params = dict(model.named_parameters(remove_duplicate=False))
        loaded_ptrs = {params[k].data_ptr() for k in state if k in params}
        really_missing = [k for k in missing if k not in params or params[k].data_ptr() not in loaded_ptrs]
        if really_missing:
            raise CorruptedCheckpointError(
                f"{path} lacks parameters {really_missing[:3]}: the checkpoint is incomplete; rebuild it."
            )
    return model


def iter_checkpoints(
    rl_folder: str | Path, *, skeleton: torch.nn.Module | None = None, verify: bool = True, include_base: bool = True
) -> Iterator[tuple[int, torch.nn.Module]]:
    """Yield ``(step, model)`` for every checkpoint of an RL model folder, lowest step first.

    The same model object (a copy of ``skeleton``, or the folder's model loaded with
    :func:`rlmeta_interp.models.load_hf_folder`) is refilled in place for each step: use it before
    advancing the iterator. Step 0 is the base model (see :func:`list_checkpoints`).
    """
    ckpts = list_checkpoints(rl_folder, verify=verify, include_base=include_base)
    if skeleton is None:
        from ..models import load_hf_folder

        skeleton, _ = load_hf_folder(rl_folder)
    else:
        skeleton = copy.deepcopy(skeleton)
    skeleton.eval()
    for step, path in ckpts:
        yield step, load_checkpoint_into(skeleton, path)


# -------------------------------------------------------------------------------------------------- end to end
def checkpoint_dynamics(
    checkpoints: Iterable[tuple[int, torch.nn.Module]],
    tokenizer: Any,
    problems: Sequence[Any],
    verifier: Any,
    *,
    exec_mask: MaskFn = digit_exec_mask,
    n: int = 8,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    ngram: int = 2,
    min_count: int = 2,
    vocab: Sequence[tuple[str, ...]] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
    progress: bool = False,
    rarefy: bool = False,
) -> tuple[pd.DataFrame, list[tuple[str, ...]]]:
    """Per checkpoint, sample ``n`` completions per problem and measure accuracy, execution-token entropy
    (on all samples) and the semantic entropy of planning n-grams (on successful samples).

    The n-gram vocabulary is mined once from the successful samples of every checkpoint pooled (unless
    ``vocab`` is given), so all checkpoints are measured on one vocabulary. Returns ``(table, vocab)``;
    table columns: ``step, accuracy, acc_lo, acc_hi`` (CI over problems: :func:`~.stats.mean_ci`) ``exec_entropy, exec_lo,
    exec_hi, plan_entropy, exec_nll, semantic_entropy, sem_lo, sem_hi, n_success, n_occurrences``. With ``rarefy``, also ``sem_rarefied,
    sem_rar_lo, sem_rar_hi, n_rarefied``: :func:`rarefied_semantic_entropy` on as many successful samples per
    checkpoint as the checkpoint with the fewest (at least 2) has, so steps are compared at equal sample size.
    """
    from ..sampling import sample_completions
    from .passk import correctness_matrix

    if len(problems) == 0:
        raise EmptyInputError("No problems given: pass e.g. world.sample_held_out(64, seed=...).")
    prompts = [p.prompt for p in problems]
    per_step = []
    # consume lazily: iter_checkpoints refills one model in place per step
    for step, model in tqdm(checkpoints, desc="checkpoints", disable=not progress, leave=False):
        samples = sample_completions(model, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens,
                                     temperature=temperature, seed=seed)
        correct = correctness_matrix(verifier, problems, samples)
        flat_p = [p for p, ss in zip(prompts, samples, strict=True) for _ in ss]
        flat_c = [c for ss in samples for c in ss]
        ee = execution_entropy(model, flat_p, flat_c, exec_mask, tokenizer=tokenizer, n_boot=n_boot, ci=ci, seed=seed)
        ok = [c for ss, cs in zip(samples, correct, strict=True) for c, good in zip(ss, cs, strict=True) if good]
        units = [planning_units(list(_chars(tokenizer, c)), exec_mask(c)) for c in ok]
        acc_ci = (mean_ci(correct.mean(axis=1), n_boot=n_boot, ci=ci, seed=seed) if len(problems) > 1
                  else (np.nan, np.nan))
        per_step.append((step, (float(correct.mean()), *acc_ci), ee, units))
    if not per_step:
        raise EmptyInputError("No checkpoints given.")
    if vocab is None:
        vocab = mine_planning_ngrams([u for *_, us in per_step for u in us], n=ngram, min_count=min_count)
        if not vocab:
            log.warning("checkpoint_dynamics: no planning %d-gram occurs %d times in successful samples; semantic"
                        " entropy is NaN everywhere.", ngram, min_count)
    usable = [len(units) for *_, units in per_step if len(units) >= 2]
    n_rare = min(usable) if usable else 0
    rows = []
    for step, acc, ee, units in per_step:
        sem = (semantic_entropy(units, vocab, n_boot=n_boot, ci=ci, seed=seed) if vocab and units
               else {"semantic_entropy": np.nan, "ci_lo": np.nan, "ci_hi": np.nan, "n_occurrences": 0})
        row = {"step": step, "accuracy": acc[0], "acc_lo": acc[1], "acc_hi": acc[2], "exec_entropy": ee["exec_entropy"], "exec_lo": ee["ci_lo"],
               "exec_hi": ee["ci_hi"], "plan_entropy": ee["plan_entropy"], "exec_nll": ee["exec_nll"],
               "semantic_entropy": sem["semantic_entropy"], "sem_lo": sem["ci_lo"], "sem_hi": sem["ci_hi"],
               "n_success": len(units), "n_occurrences": sem["n_occurrences"]}
        if rarefy:
            rar = (rarefied_semantic_entropy(units, vocab, n_rare, ci=ci, seed=seed) if n_rare else
                   {"sem_rarefied": np.nan, "ci_lo": np.nan, "ci_hi": np.nan})
            row.update(sem_rarefied=rar["sem_rarefied"], sem_rar_lo=rar["ci_lo"], sem_rar_hi=rar["ci_hi"],
                       n_rarefied=n_rare)
        rows.append(row)
    return pd.DataFrame(rows), list(vocab)


def _chars(tokenizer: Any, text: str) -> list[str]:
    """Token strings of ``text`` (characters for the char-level tokenizer)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return [tokenizer.decode([i]) for i in ids]
