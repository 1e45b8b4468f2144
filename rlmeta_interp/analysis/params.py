"""Where RL changed the weights: update sparsity, update rank, overlap across seeds (claim 7 in docs/claims.md).

Mukherjee et al. 2505.11711 report that RL updates only 5-30% of parameters, that the updates are nearly
full rank, and that the updated sets overlap across seeds more than chance. Miahi & Belilovsky
2602.03839 show that much of the apparent sparsity is bf16 rounding (an update smaller than about
``abs(w)/256`` vanishes when the weights are stored in bf16). So every sparsity number here is reported
twice: in an fp32 view (both tensors upcast to fp32; exact for weights stored in bf16 or fp32) and in a
bf16 view (both tensors cast to bf16, then compared).

Definitions (per parameter tensor, ``delta = after - before`` computed in fp32):
- ``frac_unchanged_*``: fraction of entries with ``delta == 0`` exactly.
- ``frac_within_atol_*``: fraction with ``|delta| <= atol`` (absolute only, no relative term; default 1e-5
  as in Mukherjee et al.).
- ``rank``: ``torch.linalg.matrix_rank(delta)`` of the fp32 delta of a 2-D tensor, with torch's default
  tolerance ``sigma_max * max(m, n) * eps(float32)`` unless ``rank_rtol`` is given; ``rank_frac =
  rank / min(m, n)``. Singular values below the tolerance are rounding noise, not update directions.
- overlap across seeds: the "updated set" is ``|delta| > atol``; the chance level is the overlap of two
  independent uniformly placed sets of the same sizes (``E|A and B| = |A| |B| / N``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor

from ..errors import EmptyInputError, IncompatiblePairError, InvalidConfigError

log = logging.getLogger(__name__)

_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")


def state_dict_of(model_or_state: Any) -> dict[str, Tensor]:
    """A state dict from a mapping, an ``nn.Module`` or a ``LoadedModel`` (its ``.hf``)."""
    if isinstance(model_or_state, Mapping):
        return dict(model_or_state)
    if hasattr(model_or_state, "hf") and isinstance(model_or_state.hf, torch.nn.Module):
        model_or_state = model_or_state.hf
    if isinstance(model_or_state, torch.nn.Module):
        return model_or_state.state_dict()
    raise InvalidConfigError(
        f"Expected a state dict, an nn.Module or a LoadedModel, got {type(model_or_state).__name__}."
    )


def layer_of(name: str) -> int:
    """Transformer block index in a parameter name (``model.layers.3.mlp...`` -> 3); -1 outside blocks."""
    m = _LAYER.search(name)
    return int(m.group(1)) if m else -1


def _paired(before: Mapping[str, Tensor], after: Mapping[str, Tensor], what: str) -> list[str]:
    names = [k for k, v in before.items() if torch.is_floating_point(v)]
    if not names:
        raise EmptyInputError("The 'before' weights hold no floating-point tensors: pass a model or its state dict.")
    missing = [k for k in names if k not in after]
    if missing:
        raise IncompatiblePairError(
            f"{what} lacks {len(missing)} parameter(s) of the base model, e.g. {missing[:3]}: the two models do not"
            " share an architecture. Compare a model with its own RL-tuned version."
        )
    bad = [(k, tuple(before[k].shape), tuple(after[k].shape)) for k in names if before[k].shape != after[k].shape]
    if bad:
        raise IncompatiblePairError(f"Shapes differ between the base model and {what}: {bad[:3]}. Compare matching models.")
    return names


def _fp32_delta(a: Tensor, b: Tensor) -> Float[Tensor, "..."]:
    return b.detach().to(torch.float32) - a.detach().to(device=b.device, dtype=torch.float32)


def _bf16_delta(a: Tensor, b: Tensor) -> Float[Tensor, "..."]:
    return b.detach().to(torch.bfloat16).float() - a.detach().to(device=b.device, dtype=torch.bfloat16).float()


def _rank(delta: Float[Tensor, "m n"], rank_rtol: float | None) -> int:
    if not torch.any(delta):
        return 0
    if rank_rtol is None:
        return int(torch.linalg.matrix_rank(delta))
    return int(torch.linalg.matrix_rank(delta, rtol=rank_rtol))


@torch.no_grad()
def update_sparsity(
    before: Any,
    after: Any,
    *,
    atol: float = 1e-5,
    compute_rank: bool = True,
    rank_rtol: float | None = None,
) -> pd.DataFrame:
    """Per parameter tensor: how much of it RL left unchanged (fp32 and bf16 views) and the rank of its update.

    Columns: ``name, layer, shape, dtype, numel, frac_unchanged_fp32, frac_within_atol_fp32,
    frac_unchanged_bf16, frac_within_atol_bf16, rank, rank_frac, delta_norm, rel_delta_norm``
    (``rank``/``rank_frac`` are NaN for tensors that are not 2-D or when ``compute_rank`` is False).
    """
    if atol < 0:
        raise InvalidConfigError(f"atol must be >= 0 (e.g. 1e-5), got {atol}.")
    sb, sa = state_dict_of(before), state_dict_of(after)
    rows = []
    for name in _paired(sb, sa, "the RL model"):
        a, b = sb[name], sa[name]
        d32 = _fp32_delta(a, b)
        d16 = _bf16_delta(a, b)
        numel = d32.numel()
        rank = rank_frac = float("nan")
        if compute_rank and d32.ndim == 2:
            rank = _rank(d32, rank_rtol)
            rank_frac = rank / min(d32.shape)
        base_norm = float(a.detach().float().norm())
        dn = float(d32.norm())
        rows.append({
            "name": name,
            "layer": layer_of(name),
            "shape": tuple(d32.shape),
            "dtype": str(b.dtype).replace("torch.", ""),
            "numel": numel,
            "frac_unchanged_fp32": float((d32 == 0).sum()) / numel,
            "frac_within_atol_fp32": float((d32.abs() <= atol).sum()) / numel,
            "frac_unchanged_bf16": float((d16 == 0).sum()) / numel,
            "frac_within_atol_bf16": float((d16.abs() <= atol).sum()) / numel,
            "rank": rank,
            "rank_frac": rank_frac,
            "delta_norm": dn,
            "rel_delta_norm": dn / base_norm if base_norm > 0 else float("nan"),
        })
    return pd.DataFrame(rows)


_FRAC_COLS = ("frac_unchanged_fp32", "frac_within_atol_fp32", "frac_unchanged_bf16", "frac_within_atol_bf16")


def sparsity_by_layer(table: pd.DataFrame) -> pd.DataFrame:
    """Numel-weighted fractions per block (``layer``; -1 = embeddings, final norm, head), plus mean ``rank_frac``."""
    if table.empty:
        raise EmptyInputError("Empty table: pass the DataFrame from update_sparsity.")
    def agg(g: pd.DataFrame) -> pd.Series:
        w = g["numel"].to_numpy()
        out = {c: float(np.average(g[c], weights=w)) for c in _FRAC_COLS}
        out["numel"] = int(w.sum())
        out["mean_rank_frac"] = float(g["rank_frac"].mean()) if g["rank_frac"].notna().any() else float("nan")
        return pd.Series(out)
    return pd.DataFrame([{"layer": layer, **agg(g)} for layer, g in table.groupby("layer", sort=True)])


def sparsity_summary(table: pd.DataFrame) -> dict[str, float]:
    """Whole-model numel-weighted fractions (the numbers Mukherjee et al. quote) and mean 2-D ``rank_frac``."""
    if table.empty:
        raise EmptyInputError("Empty table: pass the DataFrame from update_sparsity.")
    w = table["numel"].to_numpy()
    out = {c: float(np.average(table[c], weights=w)) for c in _FRAC_COLS}
    out["frac_updated_fp32"] = 1.0 - out["frac_unchanged_fp32"]
    out["frac_updated_bf16"] = 1.0 - out["frac_unchanged_bf16"]
    out["mean_rank_frac"] = float(table["rank_frac"].mean()) if table["rank_frac"].notna().any() else float("nan")
    out["numel"] = int(w.sum())
    return out


@torch.no_grad()
def update_overlap(before: Any, after_a: Any, after_b: Any, *, atol: float = 1e-5,
                   view: Literal["fp32", "bf16"] = "fp32") -> pd.DataFrame:
    """Overlap of the entries updated (``|delta| > atol``) by two RL runs from the same base (e.g. two seeds).

    ``view``: the deltas are taken in fp32 (default) or after casting both tensors to bf16 (the dtype in which
    Mukherjee et al.'s checkpoints are stored; an update below about ``abs(w)/256`` is then no update).

    Per tensor plus a ``"__total__"`` row. Columns: ``name, numel, n_a, n_b, n_both, overlap_a`` (share of
    A's updated entries also updated by B), ``chance_overlap_a`` (``n_b / numel``), ``jaccard``,
    ``chance_jaccard``, ``ratio`` (``n_both`` over its chance expectation ``n_a n_b / numel``; 1 = chance).
    """
    if atol < 0:
        raise InvalidConfigError(f"atol must be >= 0 (e.g. 1e-5), got {atol}.")
    if view not in ("fp32", "bf16"):
        raise InvalidConfigError(f"view={view!r}; choose 'fp32' or 'bf16'.")
    delta = _fp32_delta if view == "fp32" else _bf16_delta
    s0, sa, sb = state_dict_of(before), state_dict_of(after_a), state_dict_of(after_b)
    names = _paired(s0, sa, "run A")
    _paired(s0, sb, "run B")
    rows = []
    for name in names:
        ua = delta(s0[name], sa[name]).abs() > atol
        ub = delta(s0[name], sb[name]).abs() > atol
        rows.append({"name": name, "numel": ua.numel(), "n_a": int(ua.sum()), "n_b": int(ub.sum()),
                     "n_both": int((ua & ub.to(ua.device)).sum())})
    df = pd.DataFrame(rows)
    total = {"name": "__total__", **{c: int(df[c].sum()) for c in ("numel", "n_a", "n_b", "n_both")}}
    df = pd.concat([df, pd.DataFrame([total])], ignore_index=True)
    n, na, nb, both = (df[c].astype(float) for c in ("numel", "n_a", "n_b", "n_both"))
    expected = na * nb / n
    union = na + nb - both
    df["overlap_a"] = np.where(na > 0, both / na.where(na > 0, 1), np.nan)
    df["chance_overlap_a"] = nb / n
    df["jaccard"] = np.where(union > 0, both / union.where(union > 0, 1), np.nan)
    exp_union = na + nb - expected
    df["chance_jaccard"] = np.where(exp_union > 0, expected / exp_union.where(exp_union > 0, 1), np.nan)
    df["ratio"] = np.where(expected > 0, both / expected.where(expected > 0, 1), np.nan)
    return df


@torch.no_grad()
def matched_random_update(before: Any, after: Any, *, seed: int = 0) -> dict[str, Tensor]:
    """The control for update sparsity: ``before + noise`` per tensor, with ``noise`` dense Gaussian rescaled to
    the fp32 norm of that tensor's RL update ``after - before``.

    In fp32 such an update changes every entry; in a bf16 view it leaves unchanged exactly the entries where an
    update of this size does not survive rounding. Comparing the RL update's sparsity with this control's
    separates sparsity that RL chose from sparsity that update size and storage precision alone produce.
    Tensors RL left unchanged stay unchanged. Returned in the dtype of ``after``, on the CPU.
    """
    sb, sa = state_dict_of(before), state_dict_of(after)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Tensor] = {}
    for name in _paired(sb, sa, "the RL model"):
        b = sb[name].detach().to("cpu", torch.float32)
        norm = float((sa[name].detach().to("cpu", torch.float32) - b).norm())
        noise = torch.randn(b.shape, generator=gen)
        nn = float(noise.norm())
        out[name] = (b + noise * (norm / nn if norm > 0 and nn > 0 else 0.0)).to(sa[name].dtype)
    return out


def overlap_by_layer(overlap: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Per block (``layer``; -1 = embeddings, final norm, head): the counts of :func:`update_overlap` summed over
    the block's tensors, with ``expected`` (chance ``n_a n_b / numel``), ``ratio``, ``jaccard`` and
    ``chance_jaccard`` recomputed from the sums (NaN where undefined). ``by``: extra columns to group by (e.g. ``["view"]``)."""
    need = {"name", "numel", "n_a", "n_b", "n_both", *by}
    if overlap.empty or not need <= set(overlap.columns):
        raise EmptyInputError(f"Pass the DataFrame from update_overlap (columns {sorted(need)}).")
    df = overlap[overlap["name"] != "__total__"].copy()
    df["layer"] = [layer_of(n) for n in df["name"]]
    g = df.groupby([*by, "layer"], as_index=False, sort=True)[["numel", "n_a", "n_b", "n_both"]].sum()
    n, na, nb, both = (g[c].astype(float) for c in ("numel", "n_a", "n_b", "n_both"))
    g["expected"] = na * nb / n
    union = na + nb - both
    g["ratio"] = np.where(g["expected"] > 0, both / g["expected"].where(g["expected"] > 0, 1), np.nan)
    g["jaccard"] = np.where(union > 0, both / union.where(union > 0, 1), np.nan)
    exp_union = na + nb - g["expected"]
    g["chance_jaccard"] = np.where(exp_union > 0, g["expected"] / exp_union.where(exp_union > 0, 1), np.nan)
    return g


def label_contrasts(summary: pd.DataFrame) -> list[str]:
    """Sentences on RL updates grouped by the label fixed before RL (creation / activation / no_signal).

    ``summary``: one row per pair and update, as :func:`sparsity_summary` returns, plus ``pair``, ``update`` ("RL"
    for the trained model; any other value names that pair's matched random update, a dense update of the same norm
    per tensor), ``label`` (empty or missing where none) and ``base``. The bf16 view's updated share follows the
    update's size, so each run is also read as its *excess*: its bf16 share minus its matched random update's.
    Per label: the range over its pairs of the share updated beyond ``atol`` in fp32, the bf16 share, the excess and
    the mean update rank. Then each no-signal pair (a same-budget random-reward control) beside the labelled runs from
    its base, with the spread of the excess between RL seeds of one base as the yardstick where the summary has one.
    Rows with a statistic missing (NaN) are left out and named. None when no RL row has a label."""
    need = {"pair", "update", "label", "base", "frac_within_atol_fp32", "frac_updated_bf16", "mean_rank_frac"}
    if need - set(summary.columns):
        raise InvalidConfigError(f"The summary lacks columns {sorted(need - set(summary.columns))}: pass"
                                 " sparsity_summary's rows with pair, update, label and base assigned.")
    labelled = summary.assign(label=summary["label"].fillna("").astype(str))
    ctrl = labelled[labelled["update"] != "RL"].drop_duplicates("pair").set_index("pair")["frac_updated_bf16"]
    rl = labelled[(labelled["update"] == "RL") & labelled["label"].ne("")]
    rl = rl.assign(beyond_atol=1.0 - rl["frac_within_atol_fp32"], excess=rl["frac_updated_bf16"] - rl["pair"].map(ctrl).astype(float))
    stats = ["beyond_atol", "frac_updated_bf16", "excess", "mean_rank_frac"]
    gaps = rl[rl[stats].isna().any(axis=1)]
    rl = rl.drop(gaps.index)
    if rl.empty:
        return [f"No labelled RL update has every statistic (missing for {', '.join(gaps['pair'])})."] if len(gaps) else []

    def span(values: pd.Series, fmt: str) -> str:  # one value where the range vanishes at the printed precision
        lo, hi = (_signed(fmt.format(v), plus="+" in fmt) for v in (values.min(), values.max()))
        return lo if lo == hi else f"{lo} to {hi}"

    parts = [f"{label} ({_count(len(g), 'pair')}, {_count(g['base'].nunique(), 'base')}): fp32 beyond atol"
             f" {span(g['beyond_atol'], '{:.1%}')}, bf16 view {span(g['frac_updated_bf16'], '{:.1%}')} (minus its"
             f" matched random update's: {span(g['excess'], '{:+.1%}')}), mean rank / min(shape)"
             f" {span(g['mean_rank_frac'], '{:.2f}')}" for label, g in rl.groupby("label", sort=True)]
    most = int(rl.groupby("label")["base"].nunique().max())
    lines = ["RL updates by the label fixed before RL: " + "; ".join(parts) + f". With at most {_count(most, 'base')}"
             " per label this describes these pairs; it does not test update density as an indicator."]
    if len(gaps):
        lines.append(f"Left out (a statistic missing): {', '.join(gaps['pair'])}.")
    # how far two RL seeds from one base lie apart: the yardstick for a single control's gap
    seeds = rl[rl["label"] != "no_signal"].groupby(["base", "label"])["excess"]
    spread = seeds.agg(lambda e: e.max() - e.min())[seeds.size() >= 2]
    for _, c in rl[rl["label"] == "no_signal"].iterrows():
        twins = rl[(rl["base"] == c["base"]) & (rl["label"] != "no_signal")]
        if twins.empty:
            continue
        gap = float((twins["excess"] - c["excess"]).abs().max())
        yardstick = ("no base here has two RL seeds to compare it with" if spread.empty else
                     f"RL seeds from one base lie up to {spread.max():.1%} apart here ({_count(len(spread), 'base')}),"
                     f" so this gap is {'within' if gap <= spread.max() else 'beyond'} that spread")
        lines.append(
            f"The same-budget random-reward control {c['pair']}: bf16 share minus its matched random update's"
            f" {_pct(c['excess'])}, against "
            + ", ".join(f"{_pct(t['excess'])} for {t['pair']} ({t['label']})"
                                                       for _, t in twins.iterrows())
            + f" from the same base (gap {gap:.1%}); {yardstick}. One control run cannot show whether the reward"
            " itself sets how much of the model RL updates.")
    return lines


#: the band of updated parameters Mukherjee et al. report for RL, and how close to a dense random update of the same
#: norm a bf16-view fraction must lie to count as explained by update size and rounding
CLAIMED_BAND = (0.05, 0.30)
LIKE_CONTROL_ATOL = 0.05


def sparsity_verdict(summary: pd.DataFrame) -> dict[str, bool]:
    """Against the sparse-update claim, from :func:`sparsity_summary` rows with columns ``pair``, ``update`` ("RL"
    or a control) and the ``frac_unchanged_*`` fractions: ``fp32_dense`` (every RL model updated more than the band's
    top in fp32), ``bf16_in_band`` (at least one RL model's bf16-view fraction lies in the band) and
    ``bf16_like_control`` (every RL model's bf16-view fraction within :data:`LIKE_CONTROL_ATOL` of its pair's
    control)."""
    for col in ("pair", "update", "frac_unchanged_fp32", "frac_unchanged_bf16"):
        if col not in summary.columns:
            raise InvalidConfigError(f"summary lacks column {col!r}: pass sparsity_summary rows with pair and update.")
    rl = summary[summary["update"] == "RL"].set_index("pair")
    ctrl = summary[summary["update"] != "RL"].set_index("pair")
    if rl.empty or not set(rl.index) <= set(ctrl.index):
        raise EmptyInputError("sparsity_verdict needs RL rows and a control row for each of their pairs.")
    fp32, bf16 = 1 - rl["frac_unchanged_fp32"], 1 - rl["frac_unchanged_bf16"]
    lo, hi = CLAIMED_BAND
    return {"fp32_dense": bool((fp32 > hi).all()), "bf16_in_band": bool(bf16.between(lo, hi).any()),
            "bf16_like_control": bool(np.allclose(bf16, 1 - ctrl.loc[rl.index, "frac_unchanged_bf16"],
                                                  atol=LIKE_CONTROL_ATOL))}


def sparsity_verdict_text(verdict: Mapping[str, bool]) -> str:
    """:func:`sparsity_verdict` in a sentence."""
    lo, hi = (f"{x:.0%}" for x in CLAIMED_BAND)
    band, tol = f"{lo[:-1]}-{hi}", f"{LIKE_CONTROL_ATOL * 100:g} points"
    return "Against the claim: " + (
        f"in fp32 RL updated more than {hi} of the parameters in every organism, so the {band} sparsity is not"
        " reproduced in full precision" if verdict["fp32_dense"] else
        f"in fp32 at least one organism's update is within or below {hi}") + "; " + (
        f"in the bf16 view the updated fraction falls into the {band} band for at least one organism"
        if verdict["bf16_in_band"] else f"the bf16 view does not bring the updated fraction into the {band} band") + "; " + (
        f"and the bf16 sparsity is about what a dense random update of the same norm shows (within {tol}), i.e."
        " explained by update size and rounding, as Miahi & Belilovsky argue" if verdict["bf16_like_control"] else
        f"and the bf16 sparsity differs from that of a dense random update of the same norm by more than {tol}, i.e."
        " it is not explained by update size and rounding alone") + "."


def _count(n: float, noun: str) -> str:
    return f"{n:g} {noun}{'' if n == 1 else 's'}"


def _signed(text: str, plus: bool = True) -> str:
    """A formatted number that rounds to zero loses its minus sign: "-0.0%" -> "+0.0%" (``plus``: the format prints
    a sign) or "0.0%"."""
    bare = text.lstrip("+-")
    return text if any(ch not in "0.%" for ch in bare) else ("+" if plus else "") + bare


def _pct(x: float) -> str:
    return _signed(f"{x:+.1%}")
