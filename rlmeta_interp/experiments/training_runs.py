"""Experiments on what RL did over training and to the weights (notebooks 06, 07, 08; claims 7, 8, 9).

- :func:`seed_groups`: RL runs of one base that differ only in their seed (for overlap across seeds).
- :func:`rerun_rl`: short re-runs of a zoo RL recipe with other seeds, a stand-in when a zoo has one seed only.
- :func:`two_phase_summary`: does execution-token entropy fall, then the semantic entropy of planning n-grams rise?
  :func:`two_phase_tally` sorts pairs by what they can say about it (gained and measurable, controls, ...).
- :func:`pretraining_format_mix` / :func:`final_format_shares`: the answer-format mix a base model was pretrained on,
  and the format shares of several final models side by side (e.g. RL variants with different KL coefficients).

The notebooks choose their pairs with :func:`rlmeta_interp.selection.select_pairs`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import PairSpec
from ..errors import InvalidConfigError, MissingWeightsError
from ..io import WEIGHTS_FILE, ensure_dir, read_json, sha256_file, write_json_atomic
from ..organism.worlds.base import World
from ..paths import home_dir

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------ seeds
def seed_groups(pairs: Iterable[PairSpec]) -> dict[str, list[PairSpec]]:
    """RL runs grouped by base model (same world, dose, variant); only groups with two or more seeds."""
    groups: dict[tuple[str, str], list[PairSpec]] = {}
    for p in pairs:
        groups.setdefault((p.base.name, str(p.extra.get("variant"))), []).append(p)
    return {base: sorted(g, key=lambda p: p.extra.get("seed") or 0) for (base, _), g in groups.items() if len(g) >= 2}


# --------------------------------------------------------------------------------------------- stand-in re-runs
def rerun_rl(
    spec: PairSpec,
    seeds: Sequence[int] = (0, 1),
    *,
    steps: int = 10,
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> dict[int, Path]:
    """Re-run the RL recipe of a zoo pair (its manifest's RL config) from its base, for ``steps`` steps per seed.

    A stand-in for seed comparisons when the zoo holds one seed only: every run uses the same recipe and length,
    so the runs differ only in their seed. Idempotent: a finished run (marker file with the weights' sha256) is
    reused. Returns ``{seed: folder}``; folders live under ``out_dir`` (default ``<RLMETA_HOME>/reruns``).
    """
    from .. import registry
    from ..organism.rl import RLConfig, train_rl

    manifest = registry.manifest_of(spec.rl.name)
    if not manifest or "rl" not in manifest.get("config", {}):
        raise MissingWeightsError(
            f"{spec.rl.name} has no zoo manifest with an RL config, so its recipe cannot be re-run: pass a zoo pair"
            " (`rlmeta-interp list`)."
        )
    if steps < 1:
        raise InvalidConfigError(f"steps must be >= 1, got {steps}.")
    base_cfg = RLConfig.from_dict(manifest["config"]["rl"])
    root = ensure_dir(Path(out_dir) if out_dir is not None else home_dir() / "reruns")
    out: dict[int, Path] = {}
    for seed in seeds:
        cfg = base_cfg.replace(seed=int(seed), steps=int(steps), checkpoint_every=0, save_every=0)
        folder = root / f"{spec.rl.name}-rerun-s{seed}-n{steps}"
        marker = folder / "rerun.json"
        if marker.exists():
            m = read_json(marker)
            if m.get("config") == cfg.to_dict() and (folder / WEIGHTS_FILE).exists() and \
                    sha256_file(folder / WEIGHTS_FILE) == m.get("sha256"):
                out[int(seed)] = folder
                continue
        train_rl(spec.base.location, cfg, folder, resume=False, progress=progress)
        write_json_atomic(marker, {"base": spec.base.name, "recipe_of": spec.rl.name, "config": cfg.to_dict(),
                                   "sha256": sha256_file(folder / WEIGHTS_FILE)})
        out[int(seed)] = folder
    return out


# ------------------------------------------------------------------------------------------------ two-phase test
def _half_step(steps: list[int], values: list[float], direction: int) -> int | None:
    """First step by which ``values`` has moved half its total first-to-last change in ``direction`` (+1 / -1)."""
    total = (values[-1] - values[0]) * direction
    if not np.isfinite(total) or total <= 0:
        return None
    for s, v in zip(steps, values, strict=True):
        if (v - values[0]) * direction >= total / 2:
            return int(s)
    return None


def two_phase_summary(table: pd.DataFrame) -> dict[str, Any]:
    """The HICRA pattern (claim 8 in docs/claims.md, with its caveat) in one checkpoint table of
    :func:`rlmeta_interp.analysis.dynamics.checkpoint_dynamics` (with ``rarefy=True``).

    ``exec_falls``: the last checkpoint's execution-entropy CI lies below the first's. ``sem_rises``: the last
    checkpoint's rarefied semantic entropy interval lies above the first's (equal numbers of successful samples,
    so more successes alone cannot raise it). ``exec_half_step`` / ``sem_half_step``: the first step by which half
    of the respective change had happened. ``two_phase``: both hold and execution entropy moved first.
    ``measurable``: the rarefied semantic entropy exists at the first and the last checkpoint (each had successful
    samples to mine); without it ``two_phase`` is False for want of data, not because the entropy failed to rise.
    Also the first/last values.
    """
    need = {"step", "exec_entropy", "exec_lo", "exec_hi", "sem_rarefied", "sem_rar_lo", "sem_rar_hi"}
    if table.empty or not need <= set(table.columns):
        raise InvalidConfigError(f"Pass the table of checkpoint_dynamics(..., rarefy=True) (columns {sorted(need)}).")
    t = table.sort_values("step")
    if len(t) < 2:
        raise InvalidConfigError("Two-phase dynamics need at least two checkpoints.")
    first, last = t.iloc[0], t.iloc[-1]
    steps = t["step"].astype(int).tolist()
    exec_falls = bool(last["exec_hi"] < first["exec_lo"])
    sem_rises = bool(last["sem_rar_lo"] > first["sem_rar_hi"])
    ex_half = _half_step(steps, t["exec_entropy"].tolist(), -1)
    se_half = _half_step(steps, t["sem_rarefied"].tolist(), +1)
    return {
        "first_step": steps[0], "last_step": steps[-1],
        "exec_first": float(first["exec_entropy"]), "exec_last": float(last["exec_entropy"]),
        "sem_first": float(first["sem_rarefied"]), "sem_last": float(last["sem_rarefied"]),
        "exec_falls": exec_falls, "sem_rises": sem_rises, "exec_half_step": ex_half, "sem_half_step": se_half,
        "two_phase": bool(exec_falls and sem_rises and ex_half is not None and se_half is not None and ex_half < se_half),
        "measurable": bool(np.isfinite(first["sem_rarefied"]) and np.isfinite(last["sem_rarefied"])),
    }


def two_phase_tally(summaries: Mapping[str, Mapping[str, Any]],
                    gained: Mapping[str, bool | None]) -> dict[str, list[str]]:
    """Sort pairs by what their :func:`two_phase_summary` can say about the claim, which is about RL that learns.

    ``gained``: per pair, True / False from the recorded gain check of a run labelled creation or activation, None for
    controls and unlabelled runs. Returns pair names under ``tested`` (gained and measurable), ``pattern`` (the tested
    ones showing the two-phase pattern), ``unmeasurable`` (gained, no successful sample at the first or last
    checkpoint), ``no_gain`` (labelled, gain check failed: no evidence either way), ``other`` (controls and
    unlabelled runs) and ``other_pattern`` (those of ``other`` showing the pattern).
    """
    if missing := sorted(set(summaries) - set(gained)):
        raise InvalidConfigError(f"No gain entry for {missing}: pass None for controls and unlabelled runs.")
    out: dict[str, list[str]] = {k: [] for k in ("tested", "pattern", "unmeasurable", "no_gain", "other",
                                                   "other_pattern")}
    for name, s in summaries.items():
        g = gained[name]
        group = "other" if g is None else "no_gain" if not g else "tested" if s["measurable"] else "unmeasurable"
        out[group].append(name)
        if s["two_phase"] and group in ("tested", "other"):
            out["pattern" if group == "tested" else "other_pattern"].append(name)
    return out


def collapse_tally(summaries: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> dict[str, list[str]]:
    """Sort pairs by what their :func:`~rlmeta_interp.analysis.formats.collapse_summary` says about claim 9, which is
    about the rewarded runs: ``rewarded`` (labelled creation or activation, or unlabelled: every run whose reward
    carries a signal), ``collapsed`` and ``coincide`` among them (a collapse onto one format; one that coincides with
    the biggest accuracy jump), and ``controls`` (label ``no_signal``: random rewards) with ``controls_collapsed``. A
    collapse that a control shows as well is drift under training, not an echo of the reward. Unlabelled runs count as
    rewarded: spurious-reward variants of the unlabelled paper zoo are told apart only by their names."""
    if missing := sorted(set(summaries) - set(labels)):
        raise InvalidConfigError(f"No label for {missing}: pass '' for unlabelled runs.")
    out: dict[str, list[str]] = {k: [] for k in ("rewarded", "collapsed", "coincide", "controls",
                                                   "controls_collapsed")}
    for name, s in summaries.items():
        control = labels[name].startswith("no_signal")
        out["controls" if control else "rewarded"].append(name)
        if s["collapse"]:
            out["controls_collapsed" if control else "collapsed"].append(name)
            if s["coincide"] and not control:
                out["coincide"].append(name)
    return out


# --------------------------------------------------------------------------------------------------- formats
def pretraining_format_mix(base_manifest: Mapping[str, Any]) -> dict[str, float]:
    """The expected share of each answer format in an arithmetic base model's pretraining corpus (read from the base
    model's zoo manifest). Format-dosed corpora (``arithmetic_dose="format"``): ``direct`` for the ``1 - dose`` of
    documents without a scratchpad, the scratchpad formats in proportion to the corpus's ``format_weights``.
    Depth-dosed corpora: every document shows its ``depth_format`` scratchpad, or with ``"mix"`` one drawn from the
    format weights, whatever the dose."""
    from ..organism.worlds.arithmetic import SCRATCHPAD_FORMATS

    try:
        corpus = base_manifest["config"]["pretrain"]["corpus"]
    except (KeyError, TypeError) as e:
        raise MissingWeightsError(
            "This manifest has no pretraining corpus config (config.pretrain.corpus): pass a zoo base model's manifest."
        ) from e
    if corpus.get("world") != "arithmetic":
        raise InvalidConfigError(f"Format mixes are defined for the arithmetic world, not {corpus.get('world')!r}.")
    w = np.asarray(corpus.get("format_weights", [1.0] * len(SCRATCHPAD_FORMATS)), dtype=float)
    if corpus.get("arithmetic_dose", "format") == "depth":
        fmt = corpus.get("depth_format", "mix")
        return ({f: float(x / w.sum()) for f, x in zip(SCRATCHPAD_FORMATS, w, strict=True)} if fmt == "mix"
                else {fmt: 1.0})
    dose = float(corpus["dose"])
    return {"direct": 1.0 - dose, **{f: float(dose * x / w.sum()) for f, x in zip(SCRATCHPAD_FORMATS, w, strict=True)}}


def final_format_shares(
    models: Mapping[str, Any],
    world: World,
    problems: Sequence[Any],
    *,
    n: int = 16,
    ks: Sequence[int] = (1,),
    formats: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Format shares and pass@k (overall and within each format) of several models (``{name: LoadedModel}``, one
    tokenizer) on the same problems and sampling seed; returns ``(shares, passk)`` with a ``model`` column, as
    :func:`rlmeta_interp.analysis.formats.format_dynamics` computes them per checkpoint."""
    from ..analysis.formats import format_dynamics

    if not models:
        raise InvalidConfigError("No models given: pass {name: LoadedModel}.")
    names = list(models)
    first = models[names[0]]
    res = format_dynamics(((i, models[nm].hf) for i, nm in enumerate(names)), first.tokenizer, problems, world,
                          world.format_of, n=n, ks=ks, max_new_tokens=world.max_completion_chars(), formats=formats,
                          seed=seed, n_boot=n_boot, ci=ci)
    label = dict(enumerate(names))
    shares = res["shares"].assign(model=lambda d: d["step"].map(label)).drop(columns="step")
    passk = res["passk"].assign(model=lambda d: d["step"].map(label)).drop(columns="step")
    return shares, passk


def final_models_to_compare(specs: Sequence[PairSpec], worlds: Mapping[str, World], cases: Mapping[str, str], *,
                            named: bool, world: str, preset: str | None, variants: Sequence[str], dose: float,
                            seed: int) -> tuple[dict[str, Any], World, list[str]]:
    """The final models the variants figure compares (``{label: LoadedModel}``), the world whose held-out problems
    they are read on, and the ``variants`` asked for that the zoo lacks.

    Named pairs (``named``): each pair's RL model, labelled with its case (``cases``, "no label" where empty), beside
    its base, read on the first pair's world (``worlds``, by pair); pairs trained on another world config are refused,
    since the figure compares models on one set of problems. Otherwise the zoo's RL ``variants`` at ``dose`` (the
    first pair of each, RL seed ``seed``), labelled with their KL coefficient, beside that pair's base; where the dose
    has none of them (the smoke zoo), the last of ``specs``."""
    from ..models import load_model, load_pair
    from ..organism.trained_world import world_for
    from ..registry import find_pairs, manifest_of

    if named:
        ref = specs[0]
        models: dict[str, Any] = {}
        for s in specs:
            if s.base.name not in models:
                models[s.base.name] = load_model(s.base.name)
            models[f"{s.rl.name} ({cases.get(s.name) or 'no label'})"] = load_model(s.rl.name)
        read_in = worlds[ref.name]
        if differ := [name for name, w in worlds.items() if w.config != read_in.config]:
            raise InvalidConfigError(f"Pairs {differ} were trained on another {read_in.name} world than {ref.name}:"
                                     " the variants figure compares models on one set of problems; name pairs of one"
                                     " world.")
        return models, read_in, []
    found = {v: find_pairs(world, preset=preset, variant=v, dose=dose, seed=seed) for v in variants}
    chosen = {v: ps[0] for v, ps in found.items() if ps}
    if not chosen:  # the dose has no pairs here (smoke zoo): the pairs with checkpoints instead
        chosen = {s.extra.get("variant"): s for s in specs[-1:]}
    ref = next(iter(chosen.values()))
    models = {"base": load_model(ref.base.name)}
    models.update({f"RL {v} (beta {manifest_of(s.rl.name)['config']['rl']['beta']:g})": load_model(s.rl.name)
                   for v, s in chosen.items()})
    return models, world_for(load_pair(ref.name), world), [v for v in variants if v not in chosen]
