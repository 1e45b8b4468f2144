"""Unbiased pass@k (Chen et al. 2107.03374), coverage, crossover and a guessing baseline.

The capability-boundary indicator (claim 3 in docs/claims.md, Yue et al. 2504.13837): sample ``n`` completions
per problem from each model, count the correct ones, and compare pass@k curves for k = 1..n. RL above
base at the largest k is creation evidence; base catching up (the crossover k) is activation evidence.
At large k, pass@k on short discrete answers rewards guessing (2510.08325), so a guessing baseline is
reported beside it. Never extrapolate past ``n``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from jaxtyping import Bool, Float, Int

from ..errors import EmptyInputError, InvalidConfigError
from ..inputs import is_int
from .stats import are_shares, bootstrap_curve_ci, proportion_ci

if TYPE_CHECKING:
    from ..organism.worlds.base import Problem, World

log = logging.getLogger(__name__)

COVERAGE_CATEGORIES = ("both", "base_only", "rl_only", "neither")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct, in the stable product form.

    ``1 - C(n-c, k) / C(n, k) = 1 - prod_{i=n-c+1}^{n} (1 - k / i)``; exactly 1 when ``n - c < k``.
    """
    if not is_int(k) or k <= 0:
        raise InvalidConfigError(f"k must be a positive integer, got {k!r}.")
    if not is_int(n) or not is_int(c):
        raise InvalidConfigError(f"n and c are counts of samples and must be integers, got n={n!r}, c={c!r}.")
    if n < k:
        raise InvalidConfigError(f"pass@{k} needs at least k={k} samples per problem, got n={n}: never extrapolate past n.")
    if not 0 <= c <= n:
        raise InvalidConfigError(f"c={c} correct out of n={n} is impossible.")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def check_ks(ks: Sequence[int] | None, n: int) -> list[int]:
    """``ks`` as a list of ints, each in ``1..n`` (``None``: every k from 1 to n), or a typed error."""
    if not is_int(n) or n <= 0:
        raise InvalidConfigError(f"n (samples per problem) must be a positive integer, got {n!r}.")
    if ks is None:
        return list(range(1, int(n) + 1))
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise InvalidConfigError(f"ks must be a list of integers (e.g. [1, 2, 4, 8]) or None for 1..n, got {ks!r}.")
    ks = list(ks)
    not_int = [k for k in ks if not is_int(k)]
    if not_int:
        raise InvalidConfigError(f"Every k must be an integer (pass@k at a fractional k is undefined); got {not_int}.")
    ks = [int(k) for k in ks]
    if not ks:
        raise EmptyInputError("ks is empty: pass the k values to evaluate, e.g. [1, 2, 4, ..., n], or None for 1..n.")
    bad = [k for k in ks if k <= 0]
    if bad:
        raise InvalidConfigError(f"Every k must be a positive integer; got {bad}.")
    too_big = [k for k in ks if k > n]
    if too_big:
        raise InvalidConfigError(
            f"k={too_big} exceed n={n} samples per problem: pass@k is only estimable for k <= n; drop those k or sample more."
        )
    return ks


def _check_counts(counts: Sequence[int] | np.ndarray, n: int, name: str = "counts") -> np.ndarray:
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.size == 0:
        raise EmptyInputError(f"{name} must be a non-empty 1-D array of correct-sample counts, one per problem (got shape {arr.shape}).")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise InvalidConfigError(f"{name} must hold integer counts of correct samples, one per problem (got dtype"
                                 f" {arr.dtype}); count the correct samples first, e.g. with evaluate_samples.")
    if not np.all(np.isfinite(arr)):
        raise InvalidConfigError(f"{name} holds NaN or inf: counts of correct samples must be finite integers.")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.mod(arr, 1) == 0):
            raise InvalidConfigError(f"{name} must hold integer counts of correct samples; got non-integers.")
        arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() > n:
        raise InvalidConfigError(f"{name} must lie in [0, n={n}]; got range [{arr.min()}, {arr.max()}]. Is n right?")
    return arr.astype(np.int64)


def pass_at_k_matrix(
    counts: Sequence[int] | Int[np.ndarray, " problems"], n: int, ks: Sequence[int] | None = None
) -> Float[np.ndarray, "problems ks"]:
    """Per-problem unbiased pass@k, ``[problems, len(ks)]`` (ks default 1..n)."""
    ks = check_ks(ks, n)
    counts = _check_counts(counts, n)
    table: dict[int, np.ndarray] = {}
    for c in np.unique(counts):  # at most n + 1 distinct counts: compute each once
        table[int(c)] = np.array([pass_at_k(int(n), int(c), k) for k in ks])
    return np.stack([table[int(c)] for c in counts])


# ---------------------------------------------------------------------------------------------------
# Scoring samples


class Verifier(Protocol):
    def __call__(self, problem: Any, completion: str) -> float | bool: ...


def _scorer(world_or_verifier: World | Verifier) -> Callable[[Any, str], bool]:
    if hasattr(world_or_verifier, "reward") and callable(world_or_verifier.reward):
        world = world_or_verifier
        if hasattr(world, "is_correct"):
            return lambda p, c: bool(world.is_correct(p, c))
        return lambda p, c: float(world.reward(p, c)) >= 1.0
    if callable(world_or_verifier):
        fn = world_or_verifier
        return lambda p, c: float(fn(p, c)) >= 1.0
    raise InvalidConfigError(
        f"Expected a World (with .reward) or a verifier callable (problem, completion) -> bool | reward,"
        f" got {type(world_or_verifier).__name__}."
    )


def correctness_matrix(
    world_or_verifier: World | Verifier, problems: Sequence[Problem | Any], completions: Sequence[Sequence[str]]
) -> Bool[np.ndarray, "problems n"]:
    """``[problem, sample]`` correctness (reward >= 1 counts as correct). Every problem needs the same n."""
    if len(problems) == 0:
        raise EmptyInputError("No problems given: pass at least one problem and its completions.")
    if len(problems) != len(completions):
        raise InvalidConfigError(
            f"{len(problems)} problems but {len(completions)} completion lists: pass one list of samples per problem."
        )
    flat = [i for i, c in enumerate(completions) if isinstance(c, (str, bytes))]
    if flat:
        raise InvalidConfigError(
            f"completions must hold one list of samples per problem; item {flat[0]} is a single string, which would be"
            " read as one sample per character. Wrap each problem's samples in a list, e.g. [[c] for c in completions]."
        )
    sizes = {len(c) for c in completions}
    if len(sizes) != 1 or 0 in sizes:
        raise InvalidConfigError(f"Every problem needs the same non-zero number of samples; got sizes {sorted(sizes)}.")
    score = _scorer(world_or_verifier)
    return np.array([[score(p, c) for c in comps] for p, comps in zip(problems, completions, strict=True)], dtype=bool)


def evaluate_samples(
    world_or_verifier: World | Verifier, problems: Sequence[Problem | Any], completions: Sequence[Sequence[str]]
) -> Int[np.ndarray, " problems"]:
    """Number of correct completions per problem (the ``c`` of pass@k)."""
    return correctness_matrix(world_or_verifier, problems, completions).sum(axis=1).astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# Curves, crossover, coverage


def passk_table(
    counts: Mapping[str, Sequence[int] | np.ndarray],
    n: int,
    ks: Sequence[int] | None = None,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """pass@k curves of any number of models: columns ``model, k, pass@k, ci_lo, ci_hi, n_problems``.

    The CI is a percentile bootstrap over problems (all k of one model resampled jointly), except at the k where
    every problem's pass@k is 0 or 1 (at k = n: solved or not): there it is the Wilson interval of the share solved,
    which keeps its width when every problem agrees, where the bootstrap reads 128 solved of 128 as [1, 1]. Fractional
    values that nearly all agree still get the bootstrap's narrow interval (one sample right in 8,192 reads about
    [0, 0.0004] where none right reads Wilson's [0, 0.06] on 64 problems).
    """
    if not counts:
        raise EmptyInputError("No models given: pass {model_name: per-problem correct counts}.")
    ks = check_ks(ks, n)
    rows = []
    for model, c in counts.items():
        mat = pass_at_k_matrix(c, n, ks)
        lo, hi = bootstrap_curve_ci(mat, n_boot=n_boot, ci=ci, seed=seed)
        for j in range(mat.shape[1]):
            if are_shares(mat[:, j]):
                lo[j], hi[j] = proportion_ci(mat[:, j], ci=ci)
        mean = mat.mean(axis=0)
        rows.append(pd.DataFrame({"model": model, "k": ks, "pass@k": mean, "ci_lo": lo, "ci_hi": hi, "n_problems": mat.shape[0]}))
    return pd.concat(rows, ignore_index=True)


def passk_curve(
    counts_base: Sequence[int] | np.ndarray,
    counts_rl: Sequence[int] | np.ndarray,
    n: int,
    ks: Sequence[int] | None = None,
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Base and RL pass@k curves (models ``"base"`` and ``"rl"``) on the same problems; see :func:`passk_table`."""
    if len(counts_base) != len(counts_rl):
        raise InvalidConfigError(
            f"Base has {len(counts_base)} problems and RL {len(counts_rl)}: score both models on the same problems."
        )
    return passk_table({"base": counts_base, "rl": counts_rl}, n, ks, n_boot=n_boot, ci=ci, seed=seed)


def crossover_k(curve: pd.DataFrame, base: str = "base", rl: str = "rl") -> int | None:
    """First k (in the curve's k order) where base pass@k >= RL pass@k; None if RL stays above at every k."""
    for col in ("model", "k", "pass@k"):
        if col not in curve.columns:
            raise InvalidConfigError(f"curve lacks column {col!r}: pass the DataFrame from passk_curve / passk_table.")
    b = curve[curve["model"] == base].set_index("k")["pass@k"]
    r = curve[curve["model"] == rl].set_index("k")["pass@k"]
    if b.empty or r.empty:
        raise InvalidConfigError(f"curve needs rows for models {base!r} and {rl!r}; it has {sorted(curve['model'].unique())}.")
    for k in sorted(set(b.index) & set(r.index)):
        if b[k] >= r[k]:
            return int(k)
    return None


def coverage(
    counts_base: Sequence[int] | np.ndarray, counts_rl: Sequence[int] | np.ndarray
) -> pd.DataFrame:
    """Per problem: solved (>= 1 correct of n) by ``both``, ``base_only``, ``rl_only`` or ``neither``.

    Columns ``problem, c_base, c_rl, category``.
    """
    b = np.asarray(counts_base)
    r = np.asarray(counts_rl)
    if b.size == 0:
        raise EmptyInputError("No problems: pass per-problem correct counts for both models.")
    if b.shape != r.shape:
        raise InvalidConfigError(f"Base has {b.shape} counts and RL {r.shape}: score both on the same problems.")
    sb, sr = b > 0, r > 0
    cat = np.where(sb & sr, "both", np.where(sb, "base_only", np.where(sr, "rl_only", "neither")))
    return pd.DataFrame({"problem": np.arange(b.size), "c_base": b, "c_rl": r, "category": cat})


def coverage_summary(counts_base: Sequence[int] | np.ndarray, counts_rl: Sequence[int] | np.ndarray) -> pd.DataFrame:
    """Counts and fractions of problems per coverage category: columns ``category, problems, fraction``."""
    per = coverage(counts_base, counts_rl)
    vc = per["category"].value_counts().reindex(COVERAGE_CATEGORIES, fill_value=0)
    return pd.DataFrame({"category": list(COVERAGE_CATEGORIES), "problems": vc.to_numpy(), "fraction": vc.to_numpy() / len(per)})


# ---------------------------------------------------------------------------------------------------
# Guessing baseline


def guess_probabilities(
    answers: Sequence[str], candidates: Sequence[str] | None = None, *, leave_one_out: bool = True
) -> Float[np.ndarray, " problems"]:
    """Probability that one guess is right, per problem, for a policy that guesses without reasoning.

    With ``candidates``: uniform over those plausible answers (``1/len`` if the answer is among them, else 0).
    Without: the guess is drawn from the empirical distribution of the problems' answers; with
    ``leave_one_out`` a problem's own answer is not counted (no peeking).
    """
    if len(answers) == 0:
        raise EmptyInputError("No answers given: pass one canonical answer per problem.")
    answers = [str(a) for a in answers]
    if candidates is not None:
        cand = set(map(str, candidates))
        if not cand:
            raise EmptyInputError("candidates is empty: pass the plausible answers, or None to use the answer distribution.")
        return np.array([1.0 / len(cand) if a in cand else 0.0 for a in answers])
    vc = pd.Series(answers).value_counts()
    total = len(answers)
    if leave_one_out:
        if total < 2:
            raise InvalidConfigError("leave_one_out needs at least two problems; pass leave_one_out=False or more problems.")
        return np.array([(vc[a] - 1) / (total - 1) for a in answers])
    return np.array([vc[a] / total for a in answers])


def guessing_passk(
    p_correct: Sequence[float] | Float[np.ndarray, " problems"],
    ks: Sequence[int],
    *,
    model: str = "guess",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """pass@k of a guesser whose single guess is right with probability ``p_correct[i]``: ``1 - (1 - p)^k``.

    (This is the expectation of the unbiased estimator for any n >= k.) Same columns as :func:`passk_table`.
    """
    p = np.asarray(p_correct, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise EmptyInputError("p_correct must be a non-empty 1-D array, one probability per problem.")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise InvalidConfigError("p_correct must hold probabilities in [0, 1].")
    ks = check_ks(ks, max(int(k) for k in ks) if ks else 1)
    mat = 1.0 - (1.0 - p[:, None]) ** np.asarray(ks)[None, :]
    lo, hi = bootstrap_curve_ci(mat, n_boot=n_boot, ci=ci, seed=seed)
    return pd.DataFrame({"model": model, "k": ks, "pass@k": mat.mean(0), "ci_lo": lo, "ci_hi": hi, "n_problems": p.size})


# ---------------------------------------------------------------------------------------------------
# End to end on a pair


@dataclass(frozen=True)
class PassKResult:
    """Everything the boundary indicator needs; ``completions`` kept for likelihood / format analyses."""

    curve: pd.DataFrame
    counts_base: np.ndarray
    counts_rl: np.ndarray
    crossover_k: int | None
    coverage: pd.DataFrame
    n: int
    completions_base: list[list[str]]
    completions_rl: list[list[str]]


def run_passk(
    pair: Any,
    problems: Sequence[Problem],
    verifier: World | Verifier,
    n: int,
    ks: Sequence[int] | None = None,
    max_new_tokens: int = 32,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    max_batch: int = 512,
    guess_p: Sequence[float] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    progress: bool = False,
    cache_dir: str | os.PathLike | None = None,
) -> PassKResult:
    """Sample ``n`` completions per problem from ``pair.base`` and ``pair.rl`` (HF, batched, KV-cached),
    score them and build the pass@k curves (plus a ``"guess"`` curve when ``guess_p`` is given).

    ``pair`` is a :class:`rlmeta_interp.models.Pair` (anything with ``.base``/``.rl`` having ``.hf`` and
    ``.tokenizer`` works). Both models use the same ``seed``.

    ``cache_dir``: keep the sampled tokens chunk by chunk (one atomic file per chunk of problems, in a folder keyed
    by each model's weights hash and the sampling settings; see :func:`rlmeta_interp.sampling.sample_completions`),
    so a killed run called again resumes where it stopped and returns the same result as an uninterrupted run.
    """
    from ..sampling import sample_completions

    if len(problems) == 0:
        raise EmptyInputError("No problems given: pass e.g. world.sample_held_out(200, seed=...).")
    missing = [r for r in ("base", "rl") if not hasattr(getattr(pair, r, None), "hf")]
    if missing:
        raise InvalidConfigError(
            f"run_passk takes a pair with .base and .rl models (rlmeta_interp.load_pair(...)); got"
            f" {type(pair).__name__} without {' or '.join('.' + r for r in missing)}. For one model, call"
            " sampling.sample_completions and evaluate_samples yourself."
        )
    no_prompt = [i for i, p in enumerate(problems) if not isinstance(getattr(p, "prompt", None), str)]
    if no_prompt:
        raise InvalidConfigError(
            f"problems must be Problem objects with a .prompt (e.g. world.sample_held_out(200, seed=...)); item"
            f" {no_prompt[0]} is a {type(problems[no_prompt[0]]).__name__}. For raw prompt strings, call"
            " sampling.sample_completions and evaluate_samples with your own verifier."
        )
    if guess_p is not None and len(guess_p) != len(problems):
        raise InvalidConfigError(f"guess_p needs one guessing probability per problem: got {len(guess_p)} for"
                                 f" {len(problems)} problems (see guess_probabilities).")
    ks = check_ks(ks, n)
    prompts = [p.prompt for p in problems]
    comps: dict[str, list[list[str]]] = {}
    for role in ("base", "rl"):
        m = getattr(pair, role)
        log.info("run_passk: sampling %d x %d from %s", len(prompts), n, role)
        comps[role] = sample_completions(
            m.hf, m.tokenizer, prompts, n=n, max_new_tokens=max_new_tokens, temperature=temperature,
            seed=seed, max_batch=max_batch, progress=progress, cache_dir=cache_dir,
        )
    cb = evaluate_samples(verifier, problems, comps["base"])
    cr = evaluate_samples(verifier, problems, comps["rl"])
    curve = passk_curve(cb, cr, n, ks, n_boot=n_boot, ci=ci, seed=seed)
    if guess_p is not None:
        curve = pd.concat([curve, guessing_passk(guess_p, ks, n_boot=n_boot, ci=ci, seed=seed)], ignore_index=True)
    return PassKResult(
        curve=curve, counts_base=cb, counts_rl=cr, crossover_k=crossover_k(curve), coverage=coverage(cb, cr),
        n=int(n), completions_base=comps["base"], completions_rl=comps["rl"],
    )
