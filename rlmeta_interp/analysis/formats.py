"""Format collapse during RL (claim 9 in docs/claims.md, Zhao et al. 2504.07912, Echo Chamber).

A model pretrained on a mixture of answer formats collapses onto one format early in RL, and the
collapse coincides with the biggest accuracy jump. Given a rule-based labeller ``format_of(completion)
-> str`` (the arithmetic world provides one), these functions measure, per checkpoint, the share of
each format, the accuracy and pass@k within each format, and the first checkpoint where one format's share reaches
a threshold. Intervals are over prompts, since samples of one prompt are correlated: a bootstrap, except where every
prompt's value is 0 or 1 (each prompt's samples all in a format or none of them; a solved-or-not pass@n), where a
bootstrap has no width and Wilson's score interval over prompts is used (:func:`rlmeta_interp.analysis.stats.mean_ci`).

pass@k *within a format* ``f``: for each problem, the ``n_f`` samples of format ``f`` with ``c_f``
correct give the unbiased pass@k of the policy conditioned on writing ``f``; it is averaged over the
problems with ``n_f >= k`` (their number is reported, since it shrinks as a format dies out).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import EmptyInputError, InvalidConfigError
from .passk import check_ks, correctness_matrix, pass_at_k
from .stats import are_shares, bootstrap_pooled_ci, mean_ci

log = logging.getLogger(__name__)

FormatOf = Callable[[str], str]

#: how :func:`format_shares` and :func:`passk_by_format` make intervals, in words for captions of shares and pass@k
FORMAT_CI_WORDS = ("95% CIs over problems (a bootstrap; Wilson's score interval where every problem's value is 0 or 1:"
                   " all or none of its samples in the format, or its pass@k 0 or 1)")
#: the same for a figure of pass@k alone
PASSK_CI_WORDS = "95% CIs over problems (a bootstrap; Wilson's score interval where every problem's pass@k is 0 or 1)"


def _nested(samples: Sequence[Sequence[str]] | Sequence[str]) -> list[list[str]]:
    """``[prompt][sample]``; a flat list of strings is one sample per unit."""
    if len(samples) == 0:
        raise EmptyInputError("No samples given: pass completions as [prompt][sample] (or a flat list).")
    if all(isinstance(s, str) for s in samples):
        return [[s] for s in samples]
    return [list(s) for s in samples]


def _labels(samples: list[list[str]], format_of: FormatOf) -> list[list[str]]:
    out = []
    for row in samples:
        labs = [format_of(c) for c in row]
        bad = [type(lab).__name__ for lab in labs if not isinstance(lab, str)]
        if bad:
            raise InvalidConfigError(f"format_of must return a str label per completion, got {bad[0]}.")
        out.append(labs)
    return out


def format_shares(
    samples_by_step: Mapping[int, Sequence[Sequence[str]] | Sequence[str]],
    format_of: FormatOf,
    *,
    formats: Sequence[str] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Share of each format per checkpoint: columns ``step, format, share, ci_lo, ci_hi, count, n``.

    ``formats`` fixes the labels (and their order) reported at every step, so a format that died out
    shows as share 0; by default every label seen at any step. The interval resamples prompts (their pooled
    counts); where every prompt has as many samples and each prompt's samples are all of the format or none of them,
    it is Wilson's interval over prompts instead (a collapse onto one format reads [0.94, 1] on 64 prompts, not
    [1, 1]). A flat list (one sample per prompt) always takes Wilson's interval. Known limit, as in
    :func:`~rlmeta_interp.analysis.passk.passk_table`: a share that nearly every prompt agrees on still gets the
    bootstrap's narrow interval, so on 64 prompts one sample of a format among 2,048 reads about [0, 0.0015] where none
    reads [0, 0.06], and a few prompts short of a full collapse can read a higher lower end than the collapse.
    """
    if not samples_by_step:
        raise EmptyInputError("No checkpoints given: pass {step: samples}.")
    labelled = {step: _labels(_nested(s), format_of) for step, s in samples_by_step.items()}
    seen = sorted({lab for rows in labelled.values() for row in rows for lab in row})
    fmts = list(formats) if formats is not None else seen
    unknown = sorted(set(seen) - set(fmts))
    if unknown:
        log.warning("format_shares: labels %s are not in formats=%s; they count in n but get no row.", unknown, fmts)
    rows = []
    for step in sorted(labelled):
        labs = labelled[step]
        counts = np.array([[row.count(f) for f in fmts] + [len(row)] for row in labs], dtype=np.float64)
        n = counts[:, -1].sum()
        # with as many samples per prompt, the pooled share is the mean of the prompts' shares
        equal_n = counts[0, -1] > 0 and bool((counts[:, -1] == counts[0, -1]).all())
        for j, f in enumerate(fmts):
            if equal_n and are_shares(per_prompt := counts[:, j] / counts[0, -1]):
                lo, hi = mean_ci(per_prompt, n_boot=n_boot, ci=ci, seed=seed)  # Wilson's, after checking n_boot
            else:
                def share(pooled: np.ndarray, j: int = j) -> np.ndarray:
                    return pooled[..., j] / pooled[..., -1]
                lo, hi = bootstrap_pooled_ci(counts, share, n_boot=n_boot, ci=ci, seed=seed)
            rows.append({"step": step, "format": f, "share": counts[:, j].sum() / n, "ci_lo": lo, "ci_hi": hi,
                         "count": int(counts[:, j].sum()), "n": int(n)})
    return pd.DataFrame(rows)


def passk_by_format(
    problems: Sequence[Any],
    samples: Sequence[Sequence[str]],
    verifier: Any,
    format_of: FormatOf,
    ks: Sequence[int] = (1,),
    *,
    formats: Sequence[str] | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """pass@k overall (``format="all"``) and within each format; columns ``format, k, pass@k, ci_lo,
    ci_hi, n_problems`` (problems with at least k samples of that format; CI over those problems by
    :func:`~rlmeta_interp.analysis.stats.mean_ci`: Wilson's where every such problem's pass@k is 0 or 1)."""
    correct = correctness_matrix(verifier, problems, samples)
    labels = _labels([list(s) for s in samples], format_of)
    n = correct.shape[1]
    ks = check_ks(ks, n)
    fmts = list(formats) if formats is not None else sorted({lab for row in labels for lab in row})
    rows = []
    for f in ["all", *fmts]:
        for k in ks:
            vals = []
            for cs, labs in zip(correct, labels, strict=True):
                sel = np.ones(n, dtype=bool) if f == "all" else np.array([lab == f for lab in labs])
                if sel.sum() >= k:
                    vals.append(pass_at_k(int(sel.sum()), int(cs[sel].sum()), k))
            if vals:
                lo, hi = mean_ci(vals, n_boot=n_boot, ci=ci, seed=seed)
                rows.append({"format": f, "k": k, "pass@k": float(np.mean(vals)), "ci_lo": lo, "ci_hi": hi, "n_problems": len(vals)})
            else:
                rows.append({"format": f, "k": k, "pass@k": np.nan, "ci_lo": np.nan, "ci_hi": np.nan, "n_problems": 0})
    return pd.DataFrame(rows)


def detect_collapse(shares: pd.DataFrame, threshold: float = 0.9, *, ignore: Sequence[str] = ()) -> dict[str, Any] | None:
    """First step (in step order) where one format's share >= ``threshold``: ``{step, format, share}``, else None.

    ``ignore`` lists labels that do not count as a format (e.g. ``"other"`` for unparseable text). A model that is
    already single-format at the first step (the base: e.g. a dose-0 organism that only ever saw direct answers) has
    nothing to collapse from, so that is None too.
    """
    if not 0.0 < threshold <= 1.0:
        raise InvalidConfigError(f"threshold must lie in (0, 1] (e.g. 0.9), got {threshold}.")
    for col in ("step", "format", "share"):
        if col not in shares.columns:
            raise InvalidConfigError(f"shares lacks column {col!r}: pass the DataFrame from format_shares.")
    sub = shares[~shares["format"].isin(list(ignore))]
    for i, (step, g) in enumerate(sub.sort_values("step").groupby("step", sort=True)):
        top = g.loc[g["share"].idxmax()]
        if top["share"] >= threshold:
            return None if i == 0 else {"step": int(step), "format": str(top["format"]), "share": float(top["share"])}
    return None


def biggest_accuracy_jump(accuracy_by_step: Mapping[int, float]) -> dict[str, float] | None:
    """The step after which accuracy rose most between consecutive checkpoints: ``{step, from_step, jump}``."""
    steps = sorted(accuracy_by_step)
    if len(steps) < 2:
        return None
    jumps = [(accuracy_by_step[b] - accuracy_by_step[a], a, b) for a, b in itertools.pairwise(steps)]
    jump, a, b = max(jumps)
    return {"step": int(b), "from_step": int(a), "jump": float(jump)}


def format_dynamics(
    checkpoints: Iterable[tuple[int, torch.nn.Module]],
    tokenizer: Any,
    problems: Sequence[Any],
    verifier: Any,
    format_of: FormatOf,
    *,
    n: int = 8,
    ks: Sequence[int] = (1,),
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    formats: Sequence[str] | None = None,
    threshold: float = 0.9,
    ignore: Sequence[str] = (),
    seed: int = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> dict[str, Any]:
    """Sample ``n`` completions per problem at every checkpoint (e.g. ``dynamics.iter_checkpoints``) and return
    ``{"shares", "passk"`` (with a ``step`` column)``, "collapse", "biggest_jump"}``."""
    from ..sampling import sample_completions

    if len(problems) == 0:
        raise EmptyInputError("No problems given: pass e.g. world.sample_held_out(64, seed=...).")
    prompts = [p.prompt for p in problems]
    by_step: dict[int, list[list[str]]] = {}
    pk = []
    for step, model in checkpoints:  # consumed lazily: iter_checkpoints refills one model in place
        samples = sample_completions(model, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens,
                                     temperature=temperature, seed=seed)
        by_step[step] = samples
        df = passk_by_format(problems, samples, verifier, format_of, ks, formats=formats, n_boot=n_boot, ci=ci, seed=seed)
        df.insert(0, "step", step)
        pk.append(df)
    if not by_step:
        raise EmptyInputError("No checkpoints given.")
    shares = format_shares(by_step, format_of, formats=formats, n_boot=n_boot, ci=ci, seed=seed)
    passk = pd.concat(pk, ignore_index=True)
    acc = passk[(passk["format"] == "all") & (passk["k"] == min(ks))].set_index("step")["pass@k"].to_dict()
    return {"shares": shares, "passk": passk, "collapse": detect_collapse(shares, threshold, ignore=ignore),
            "biggest_jump": biggest_accuracy_jump(acc)}


def collapse_summary(result: dict[str, Any], ignore: Sequence[str] = ("other",)) -> dict[str, Any]:
    """The headline of one :func:`format_dynamics` result: shares at the first and last checkpoint
    (``first_shares`` / ``last_shares``: ``{format: (share, ci_lo, ci_hi)}``), the top format at the end (labels in
    ``ignore`` excluded), pass@1 at both ends with CIs (smallest k), the collapse and the biggest jump, whether
    the collapse step equals the step of the biggest jump (``coincide``; None when either is missing), and
    ``chance``: the probability that a step picked at random among the ``n_steps - 1`` intervals is the jump's."""
    shares, passk = result["shares"], result["passk"]
    steps = sorted(shares["step"].unique())
    if not steps:
        raise EmptyInputError("No checkpoints in this result.")

    def at(step: int) -> dict[str, tuple[float, float, float]]:
        g = shares[shares["step"] == step]
        return {str(f): (float(s), float(lo), float(hi)) for f, s, lo, hi in zip(g["format"], g["share"], g["ci_lo"], g["ci_hi"], strict=True)}

    last = at(steps[-1])
    ranked = {f: v for f, v in last.items() if f not in set(ignore)}
    k = int(passk["k"].min())
    p1 = passk[(passk["format"] == "all") & (passk["k"] == k)].set_index("step").sort_index()
    col, jump = result.get("collapse"), result.get("biggest_jump")
    return {
        "first_step": int(steps[0]), "last_step": int(steps[-1]), "n_steps": len(steps),
        "first_shares": at(steps[0]), "last_shares": last,
        "top_format": max(ranked, key=lambda f: ranked[f][0]) if ranked else None,
        "k": k, "pass_first": tuple(float(p1[c].iloc[0]) for c in ("pass@k", "ci_lo", "ci_hi")),
        "pass_last": tuple(float(p1[c].iloc[-1]) for c in ("pass@k", "ci_lo", "ci_hi")),
        "collapse": col, "biggest_jump": jump,
        "coincide": (col["step"] == jump["step"]) if col and jump else None,
        "chance": 1.0 / (len(steps) - 1) if len(steps) > 1 else float("nan"),
    }
