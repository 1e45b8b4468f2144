"""The activation-vs-creation scorecard: runs every indicator on a pair, persists the results and summarises them.

Each indicator lives in :mod:`rlmeta_interp.analysis.indicators` (``measure`` -> typed metrics with CIs, a pure
``vote(metrics, rules)``, its rule in words). Every result is written atomically to ``<out_dir>/<indicator>.json``
(+ CSV tables), keyed by a hash of the pair's weights, the world and its configuration, the measurement sizes and
a digest of the code that measures (:func:`measuring_code`). The voting rules are not
part of the key: a rerun under other rules (for example rules fitted on the calibration split by
:mod:`rlmeta_interp.analysis.validation`) re-votes the saved metrics without measuring again. The figure lives in
:mod:`rlmeta_interp.analysis.scorecard_plot`.

Ground truth on organisms is the pair's label fixed when its corpus was designed (``creation``, ``activation`` or
``no_signal``; :func:`rlmeta_interp.analysis.validation.labels.pair_facts`), never a reading of the model's outputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..errors import CorruptedCheckpointError, WorldMismatchError
from ..io import ensure_dir, read_csv, read_json, weights_id, write_csv_atomic, write_json_atomic, write_text_atomic
from ..organism.trained_world import world_for
from ..codesource import code_digest
from .indicators import REGISTRY, revote, run_indicator
from .indicators.core import INDICATORS, Context, Estimate, IndicatorResult, ScorecardConfig, ScorecardRules, Vote
from .validation.labels import pair_facts

log = logging.getLogger(__name__)

__all__ = ["INDICATORS", "Context", "IndicatorResult", "Scorecard", "ScorecardConfig", "measuring_code",
           "ScorecardRules", "Vote", "evaluation_world", "headline_spec", "indicator_reliability", "load_scorecard",
           "run_scorecard", "summarize_votes", "validate_against_labels", "world_for"]


# ------------------------------------------------------------------------------------------------------- summary
def summarize_votes(votes: dict[str, Vote]) -> tuple[str, str]:
    """``(summary, explanation)``: activation / creation if at least two decisive votes agree and outnumber the other
    side two to one; mixed if both sides have votes otherwise; inconclusive with fewer than two decisive votes."""
    act = sorted(k for k, v in votes.items() if v == "activation")
    cre = sorted(k for k, v in votes.items() if v == "creation")
    why = f"activation: {', '.join(act) or 'none'}; creation: {', '.join(cre) or 'none'}"
    if len(act) >= 2 and len(act) >= 2 * len(cre):
        return "activation", why
    if len(cre) >= 2 and len(cre) >= 2 * len(act):
        return "creation", why
    if act or cre:
        return ("mixed" if len(act) + len(cre) >= 2 else "inconclusive"), why
    return "inconclusive", why


def headline_spec(config: ScorecardConfig) -> dict[str, dict[str, Any]]:
    """Per indicator: its headline metric (key), the control metric shown beside it (if any), and the rule's
    (activation, creation) thresholds on the headline (if the rule is a threshold on it)."""
    r = config.rules
    return {
        "boundary": {"metric": "d_passn_level", "control": "rl_minus_guess_level",
                     "thresholds": (r.boundary_margin, r.boundary_margin)},
        "likelihood": {"metric": "kl_rl_base", "control": None,
                       "thresholds": (r.kl_activation_max, r.kl_creation_min)},
        "elicitation": {"metric": "recovered", "control": None,
                        "thresholds": (1.0 - r.unrecovered_activation_max, 1.0 - r.unrecovered_creation_min)},
        "directions": {"metric": "cosine", "control": "null_shared",
                       "thresholds": (r.cosine_activation_min, r.cosine_creation_max)},
        "steering": {"metric": "recovered_own", "control": "recovered_random",
                     "thresholds": (r.recovered_activation_min, r.recovered_creation_max)},
        "hybrid": {"metric": "recovered", "control": "recovered_random_firing",
                   "thresholds": (r.hybrid_activation_min, r.hybrid_creation_max)},
        "beliefs": {"metric": "r2_base", "control": "r2_random_init", "thresholds": None},
        "reliance": {"metric": "unreached", "control": None,
                     "thresholds": (r.reliance_activation_max, r.reliance_creation_min)},
        "features": {"metric": "rl_only", "control": "control_rl_only",
                     "thresholds": (r.rl_only_activation_max, r.rl_only_creation_min)},
        "weights": {"metric": "relative_update_norm", "control": None, "thresholds": None},
    }


# ------------------------------------------------------------------------------------------------------ the card
@dataclass
class Scorecard:
    pair: str
    world: str
    dose: float | None
    layer: int
    results: dict[str, IndicatorResult]
    out_dir: Path | None = None
    config: ScorecardConfig = field(default_factory=ScorecardConfig)
    label: str | None = None  # creation / activation / no_signal, fixed by the corpus design
    split: str | None = None
    recipe: str | None = None

    def headlines(self) -> pd.DataFrame:
        """One row per indicator: headline metric with CI, its control, the rule's thresholds, the vote."""
        rows = []
        for name, spec in headline_spec(self.config).items():
            res = self.results.get(name)
            if res is None:
                continue
            got = {m.get("key", m["metric"]): m for m in res.metrics}
            m = got.get(spec["metric"], {})
            c = got.get(spec["control"], {}) if spec["control"] else {}
            th = spec["thresholds"] or (None, None)
            rows.append({"pair": self.pair, "dose": self.dose, "label": self.label, "indicator": name,
                         "metric": m.get("metric", spec["metric"]), "value": m.get("value"), "ci_lo": m.get("ci_lo"),
                         "ci_hi": m.get("ci_hi"), "control": c.get("metric", spec["control"]),
                         "control_value": c.get("value"), "activation_threshold": th[0], "creation_threshold": th[1],
                         "vote": res.vote})
        return pd.DataFrame(rows)

    @property
    def votes(self) -> dict[str, Vote]:
        return {k: r.vote for k, r in self.results.items()}

    @property
    def statistics(self) -> dict[str, Estimate]:
        """Each indicator's validation statistic (larger reads more like creation)."""
        return {k: r.statistic for k, r in self.results.items()}

    @property
    def gain(self) -> bool | None:
        """Did RL measurably improve the capability? The paired pass@1 or pass@n difference (a boundary expansion is a
        gain too) for single-turn worlds, the paired sampled-regret difference for bandits; None if neither was
        measured. Without a gain there is nothing to attribute to activation or creation."""
        b = self.results.get("boundary")
        if b is not None and b.metrics:
            lows = [m["ci_lo"] for m in b.metrics if m.get("key") in ("d_pass1", "d_passn", "d_passn_level")]
            return any(lo is not None and lo > 0 for lo in lows)
        bel = self.results.get("beliefs")
        if bel is not None and bel.metrics:
            d = {m.get("key"): m for m in bel.metrics}.get("d_regret")
            if d and d["ci_hi"] is not None:
                return d["ci_hi"] < 0
        return None

    @property
    def summary(self) -> str:
        if self.gain is False:
            return "no gain"
        return summarize_votes(self.votes)[0]

    @property
    def expected(self) -> str | None:
        """The reading the pair's label calls for: its label, with ``no_signal`` read as ``no gain``."""
        return {"no_signal": "no gain"}.get(self.label, self.label) if self.label else None

    def table(self) -> pd.DataFrame:
        rows = [{"indicator": k, **m, "vote": r.vote} for k, r in self.results.items() for m in r.metrics]
        return pd.DataFrame(rows, columns=["indicator", "metric", "key", "value", "ci_lo", "ci_hi", "note", "vote"])

    def to_markdown(self) -> str:
        summary, why = self.summary, summarize_votes(self.votes)[1]
        if summary == "no gain":
            why = ("RL did not measurably improve the capability (the CIs of pass@1, pass@n or regret include no"
                   f" improvement), so no indicator has anything to attribute; votes for the record: {why}")
        lines = [f"## Scorecard: `{self.pair}` ({self.world}, dose {self.dose}, layer {self.layer})", "",
                 f"**Summary: {summary}** ({why})."]
        if self.expected is not None:
            agree = "agrees" if summary == self.expected else "does NOT agree"
            lines.append(f"Label fixed by the corpus design: **{self.label}** (recipe {self.recipe}, split"
                         f" {self.split}): the summary {agree}.")
        lines += ["", "| indicator | vote | metric | value | 95% CI | note |", "|---|---|---|---|---|---|"]
        for name, r in self.results.items():
            if not r.metrics:
                lines.append(f"| {name} | {r.vote} | | | | {r.rule} |")
            for i, m in enumerate(r.metrics):
                ci = "" if m["ci_lo"] is None or m["ci_hi"] is None else f"[{m['ci_lo']:.3g}, {m['ci_hi']:.3g}]"
                val = "" if m["value"] is None else f"{m['value']:.3g}"
                lines.append(f"| {name if i == 0 else ''} | {r.vote if i == 0 else ''} | {m['metric']} | {val} | {ci} |"
                             f" {m['note']} |")
        lines += ["", "### Rules", ""] + [f"- **{k}** ({r.vote}): {r.rule}" for k, r in self.results.items()]
        return "\n".join(lines) + "\n"

    def revoted(self, rules: ScorecardRules) -> Scorecard:
        """The same card with every indicator voted again under ``rules`` (no measurement)."""
        return Scorecard(self.pair, self.world, self.dose, self.layer,
                         {k: revote(r, rules) for k, r in self.results.items()}, self.out_dir,
                         self.config.replace(rules=rules), self.label, self.split, self.recipe)


# -------------------------------------------------------------------------------------------------- persistence
# the optional models an indicator's measurement reads: a saved result is current only for the same ones
_OPTIONAL_MODELS = {"directions": "reference_base", "features": "control_rl"}


def measuring_code(indicator: str, world: Any) -> str:
    """Digest of the code a saved result of ``indicator`` in ``world`` is measured by: the indicator's module and the
    world's (where it is one of this package's), with every module of the package they import (preset definitions
    apart: ``codesource.NOT_MEASURING``), and, each by itself, this module (it builds the context), the indicator
    registry (it builds the saved result), ``world_for`` and the loading module :mod:`rlmeta_interp.models` (not what
    it imports: the model catalogue and the training code behind it would discard every result at each new entry).
    Part of the result's key, so that any edit to that code measures again instead of reading back a result the
    current code would not give."""
    world_module = type(world).__module__
    own = (world_module,) if world_module.startswith("rlmeta_interp.") else ()
    return code_digest(REGISTRY[indicator].__name__, *own,
                       alone=(__name__, "rlmeta_interp.analysis.indicators", "rlmeta_interp.organism.trained_world",
                              "rlmeta_interp.models"))


def _key(pair: Any, world: Any, config: ScorecardConfig, indicator: str, optional: Any | None = None) -> str:
    h = hashlib.sha256()
    world_config = getattr(world, "config", None)
    world_config = world_config.to_dict() if hasattr(world_config, "to_dict") else None
    for part in (measuring_code(indicator, world), pair.name, pair.base.name, pair.rl.name, weights_id(pair.base),
                 weights_id(pair.rl), world.name, json.dumps(world_config, sort_keys=True, default=str), indicator,
                 json.dumps(config.measured(), sort_keys=True, default=str)):
        h.update(str(part).encode())
    if optional is not None:
        h.update(f"{getattr(optional, 'name', '')}:{weights_id(optional)}".encode())
    return h.hexdigest()[:16]


_REBUILD = "run_scorecard into the same out_dir measures it again"


def _save(result: IndicatorResult, folder: Path, key: str) -> None:
    for name, df in result.tables.items():
        write_csv_atomic(folder / f"{result.name}.{name}.csv", df)
    s = result.statistic
    write_json_atomic(folder / f"{result.name}.json", {
        "key": key, "name": result.name, "vote": result.vote, "rule": result.rule, "metrics": result.metrics,
        "statistic": {"value": s.value, "lo": s.lo, "hi": s.hi}, "tables": sorted(result.tables)}, checksum=True)


def _load(folder: Path, indicator: str, key: str | None) -> IndicatorResult | None:
    path = folder / f"{indicator}.json"
    if not path.exists():
        return None
    data = read_json(path, rebuild=_REBUILD)
    if key is not None and data.get("key") != key:
        return None
    tables = {t: read_csv(folder / f"{indicator}.{t}.csv", rebuild=_REBUILD) for t in data.get("tables", [])
              if (folder / f"{indicator}.{t}.csv").exists()}
    s = data.get("statistic") or {}
    return IndicatorResult(data["name"], data["vote"], data["rule"], data["metrics"], tables,
                           Estimate(s.get("value"), s.get("lo"), s.get("hi")))


def _resolve_world(pair: Any, world: str | Any | None) -> Any:
    if world is None or isinstance(world, str):
        return world_for(pair, world)
    known = getattr(pair, "world", None)
    if known is not None and world.name != known:
        raise WorldMismatchError(f"Pair {pair.name} was trained in the {known!r} world, but a {world.name!r} world was"
                                 f" passed: pass world=None (the manifest's world) or a {known!r} world.")
    return world


_LEVEL_FIELDS = {"arithmetic": ("min_operands", "max_operands"), "planning": ("min_depth", "max_depth"),
                 "composition": ("min_level", "max_level")}


def evaluation_world(pair: Any, world: Any) -> Any:
    """``world`` widened to every difficulty level the pair's manifest evaluates (``config.eval.levels``), so the
    boundary can be read per level beyond the RL training distribution (e.g. depths k+1..k+3); unchanged when the
    manifest lists no levels or the world has no level range."""
    from ..organism.corpus import make_world

    manifest = getattr(pair.rl, "manifest", None) or {}
    levels = ((manifest.get("config") or {}).get("eval") or {}).get("levels") or ()
    fields = _LEVEL_FIELDS.get(world.name)
    if not levels or fields is None or not hasattr(world, "config"):
        return world
    lo, hi = fields
    cfg = world.config.replace(**{lo: int(min(levels)), hi: int(max(levels))})
    return make_world(world.name, **{world.name: cfg})


def run_scorecard(pair: Any, world: str | Any | None = None, config: ScorecardConfig | None = None,
                  out_dir: str | Path | None = None, *, progress: bool = True, reference_base: Any | None = None,
                  control_rl: Any | None = None) -> Scorecard:
    """Every indicator of ``config.indicators`` for ``pair``; results saved to (and resumed from) ``out_dir``.

    ``reference_base``: a base of the same design from another pretraining seed (scales the directions indicator);
    ``control_rl``: the same base after a same-budget random-reward run (subtracted by the features indicator).
    ``config`` defaults to :class:`ScorecardConfig` (). A world given by name (or taken from the manifest) is widened
    to the manifest's evaluated difficulty levels (:func:`evaluation_world`); a world object is used as given.
    """
    from tqdm.auto import tqdm

    config = config if config is not None else ScorecardConfig()
    w = _resolve_world(pair, world)
    if world is None or isinstance(world, str):
        w = evaluation_world(pair, w)
    layer = pair.n_layers // 2 if config.layer is None else pair.base.layer(config.layer)
    problems = w.sample_held_out(config.n_problems, seed=config.problem_seed) if w.name != "bandits" else []
    folder = ensure_dir(out_dir) if out_dir is not None else None
    ctx = Context(pair=pair, world=w, config=config, layer=layer, problems=problems, out_dir=folder,
                  reference_base=reference_base, control_rl=control_rl)
    results: dict[str, IndicatorResult] = {}
    for name in tqdm(config.indicators, desc=f"scorecard {pair.name}", disable=not progress, leave=False):
        key = _key(pair, w, config, name, getattr(ctx, _OPTIONAL_MODELS[name]) if name in _OPTIONAL_MODELS else None)
        try:
            cached = _load(folder, name, key) if folder is not None else None
        except CorruptedCheckpointError as e:  # a damaged saved result is measured again and overwritten
            log.warning("%s", e)
            cached = None
        if cached is not None:
            results[name] = revote(cached, config.rules)
            continue
        torch.manual_seed(config.seed)
        results[name] = run_indicator(name, ctx)
        if folder is not None:
            _save(results[name], folder, key)
    facts = pair_facts(pair)
    card = Scorecard(pair=pair.name, world=w.name, dose=pair.dose, layer=layer, results=results, out_dir=folder,
                     config=config, label=facts.label, split=facts.split, recipe=facts.recipe)
    if folder is not None:
        write_text_atomic(folder / "scorecard.md", card.to_markdown(), checksum=True)
        write_json_atomic(folder / "scorecard.json", {
            "pair": card.pair, "world": card.world, "dose": card.dose, "layer": layer, "votes": card.votes,
            "summary": card.summary, "gain": card.gain, "label": card.label, "split": card.split,
            "recipe": card.recipe, "expected": card.expected, "config": config.to_dict()}, checksum=True)
    return card


def load_scorecard(folder: str | Path, rules: ScorecardRules | None = None) -> Scorecard:
    """A scorecard read back from ``run_scorecard``'s folder (re-voted under ``rules`` if given)."""
    folder = Path(folder)
    meta = read_json(folder / "scorecard.json", rebuild=_REBUILD, required=True)
    config = ScorecardConfig.from_dict(meta["config"]) if "config" in meta else ScorecardConfig()
    results = {n: r for n in INDICATORS if (r := _load(folder, n, None)) is not None}
    card = Scorecard(meta["pair"], meta["world"], meta["dose"], meta["layer"], results, folder, config,
                     meta.get("label"), meta.get("split"), meta.get("recipe"))
    return card.revoted(rules) if rules is not None else card


# ------------------------------------------------------------------------------------------------ against labels
def validate_against_labels(cards: Sequence[Scorecard]) -> pd.DataFrame:
    """One row per (pair, indicator): label, expected reading, vote, whether they agree. Undecided votes are not
    counted as agreement or disagreement (``agrees`` is None); a no-signal control agrees when it reads no gain."""
    rows = []
    for card in cards:
        for name, vote in list(card.votes.items()) + [("SUMMARY", card.summary)]:
            exp = card.expected
            if exp == "no gain":
                agrees = None if name != "SUMMARY" else vote == "no gain"
            else:
                undecided = vote in ("n/a", "inconclusive", "mixed", "no gain") or card.gain is False
                agrees = None if exp is None or undecided else vote == exp
            rows.append({"pair": card.pair, "world": card.world, "dose": card.dose, "label": card.label,
                         "split": card.split, "indicator": name, "expected": exp, "vote": vote, "agrees": agrees})
    return pd.DataFrame(rows)




def indicator_reliability(validation: pd.DataFrame) -> pd.DataFrame:
    """Per indicator: how often its decisive votes matched the label, and how often it abstained."""
    out = []
    for name, g in validation.groupby("indicator", sort=False):
        decided = g["agrees"].dropna()
        out.append({"indicator": name, "pairs": len(g), "decisive": len(decided),
                    "agree": int(decided.sum()) if len(decided) else 0,
                    "agreement": float(decided.mean()) if len(decided) else float("nan")})
    return pd.DataFrame(out)


def plot_scorecard(card: Scorecard) -> Any:
    """The card's figure (see :mod:`rlmeta_interp.analysis.scorecard_plot`)."""
    from .scorecard_plot import plot_scorecard as plot

    return plot(card)

