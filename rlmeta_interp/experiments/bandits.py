"""Notebook 05's bandit pairs and what it concludes from them (claim 6 in docs/claims.md).

- :func:`load_bandit_pairs`: the zoo's bandit pairs as :class:`BanditPair` (dose, RL variant, display label);
  :func:`bandit_models` and :func:`belief_probes_by_base` evaluate each distinct base once.
- :func:`verdicts` / :func:`creation_findings`: per pair, its RL model against its own base (with the label its
  manifest fixed before RL, where the zoo records one), and the creation test on pairs from a reward-blind base
  (dose 0, or shuffled rewards: a policy that ignores rewards cannot beat uniform random on symmetric random
  bandits).
- :func:`smoke_bandit_pair`: a tiny base/RL bandit pair trained in seconds, the stand-in that smoke runs use
  when the zoo holds no bandit organisms (the demo preset has none).

The measurements themselves (regret, belief probes, reward prediction) are in
:mod:`rlmeta_interp.analysis.incontext`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jaxtyping import Float

from ..analysis.incontext import MODES, RegretResult, belief_probe_layers, best_layers, regret_difference
from ..errors import EmptyInputError, InvalidConfigError
from ..io import WEIGHTS_FILE, ensure_dir, read_json, sha256_file, write_json_atomic
from ..paths import home_dir
from ..prose import ci_side, fmt_ci

if TYPE_CHECKING:
    from ..models import Pair

log = logging.getLogger(__name__)

# -------------------------------------------------------------------------------------------------------- pairs
DEFAULT_VARIANT = "correct"


def pair_label(dose: float, variant: str | None, *, shuffled: bool = False, design: str = "") -> str:
    """Display label of a bandit pair: ``"d0.5"`` for the default variant (``"correct"``), ``"d0 long"`` otherwise,
    ``"d1 shuffled long"`` when its base's pretraining histories had their rewards shuffled, and the label fixed
    before RL after it where the zoo records one (``"d0 long (creation)"``), so every figure names it."""
    tail = "" if variant in (None, DEFAULT_VARIANT) else f" {variant}"
    return f"d{dose:g}{' shuffled' if shuffled else ''}{tail}" + (f" ({design})" if design else "")


@dataclass(frozen=True)
class BanditPair:
    """One bandit base/RL pair as notebook 05 shows it: its ``dose``, RL ``variant``, display ``label``
    (:func:`pair_label`), the loaded :class:`rlmeta_interp.models.Pair`, and ``base_label``, the name its base
    model goes by (``"base d0"``): pairs that share a base model share the label and the loaded model.
    ``design``: the label the RL model's manifest fixed at build time from its corpus design (``"creation"``,
    ``"activation"``, ``"no_signal"``; ``""`` where the zoo records none, as in the paper preset); ``shuffled``:
    whether the base's pretraining histories had their rewards shuffled within each episode."""

    dose: float
    variant: str
    label: str
    pair: Pair
    base_label: str
    design: str = ""
    shuffled: bool = False

    @property
    def reward_blind(self) -> bool:
        """Whether nothing in the base's pretraining corpus links a reward to the next choice (dose 0: uniform-random
        play only; or shuffled rewards), so its policy ignores rewards and the creation test applies."""
        return self.dose == 0 or self.shuffled

    @property
    def rl_label(self) -> str:
        """The name the RL model goes by: ``"RL d0 long"``."""
        return f"RL {self.label}"


def bandit_models(pairs: Sequence[BanditPair]) -> dict[str, Any]:
    """``{name: LoadedModel}`` for :func:`regret_experiment` / :func:`reward_prediction`: each distinct base once
    (by model name, as ``base_label``) followed by the RL models of its pairs, in pair order."""
    if not pairs:
        raise EmptyInputError("No bandit pairs given: pass load_bandit_pairs(...)[0].")
    out: dict[str, Any] = {}
    for group in _by_base(pairs).values():
        out[group[0].base_label] = group[0].pair.base
        for bp in group:
            if bp.rl_label in out:
                raise InvalidConfigError(f"Two pairs are both labelled {bp.label!r}: give each (dose, variant) once.")
            out[bp.rl_label] = bp.pair.rl
    return out


def _by_base(pairs: Sequence[BanditPair]) -> dict[str, list[BanditPair]]:
    """Pairs grouped by base model name, in order of first appearance."""
    out: dict[str, list[BanditPair]] = {}
    for bp in pairs:
        out.setdefault(bp.pair.base.name, []).append(bp)
    return out


def belief_probes_by_base(
    pairs: Sequence[BanditPair],
    texts: Sequence[str],
    targets: Float[np.ndarray, "episodes T K"],
    *,
    config: Any | None = None,
    random_init_seed: int = 7_777_777,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(probes, best)``: :func:`belief_probe_layers` and :func:`best_layers` once per distinct base model, with
    that base and the RL models of its pairs (named as in :func:`bandit_models`), each table with a ``base`` column
    (the base's label, which also names that group's ``random_init`` and ``token_counts`` controls) and ``dose``."""
    models = bandit_models(pairs)
    probes, best = [], []
    for group in _by_base(pairs).values():
        names = [group[0].base_label] + [bp.rl_label for bp in group]
        tab = belief_probe_layers({n: models[n] for n in names}, texts, targets, config=config,
                                  random_init_seed=random_init_seed)
        tag = {"base": group[0].base_label, "dose": group[0].dose}
        probes.append(tab.assign(**tag))
        best.append(best_layers(tab).assign(**tag))
    return pd.concat(probes, ignore_index=True), pd.concat(best, ignore_index=True)


def verdicts(
    regret: RegretResult, best: pd.DataFrame, pairs: Sequence[BanditPair], *, n_boot: int = 1000,
    ci: float = 0.95, seed: int = 0,
) -> pd.DataFrame:
    """Per pair (keyed by its ``label``), its RL model against its own base: does each adapt within the episode,
    beat uniform random, encode beliefs beyond the controls; does RL lower regret; and what that says about
    activation vs creation.

    ``regret``: :func:`regret_experiment` over :func:`bandit_models`; ``best``: :func:`best_layers` rows whose
    ``model`` names those models (as :func:`belief_probes_by_base` returns). A model *adapts* in a decoding mode when
    the CI of its adaptation lies above 0; it *beats random* when the CI of its share of the random-to-Thompson gap
    closed lies above 0 (paired over bandits); it *encodes beliefs* when the CI of its best-layer R^2 lies above both
    the random-init CI and the token-count R^2; RL *beats its base* when the paired CI of RL-minus-base final regret
    lies below 0. Columns: ``pair, dose, variant, base, rl, design`` (the label fixed before RL, ``""`` when none),
    ``adapts_<who>_<mode>``, ``beats_random_<who>_<mode>``, ``beliefs_<who>`` (who in base, rl),
    ``rl_minus_base_<mode>`` (with ``_lo`` / ``_hi``), ``rl_beats_base_<mode>``, ``creation`` (the creation test
    below passed), and sentences ``expected``, ``behaviour``, ``probes``; ``expected`` starts with the design label
    where there is one, the operational reading beside it.

    The operational reading: from a base pretrained on real-reward learning histories (dose > 0) activation is
    expected. A reward-blind base (:attr:`BanditPair.reward_blind`: dose 0, or shuffled rewards) should play as a
    policy that ignores rewards, which cannot beat uniform random on average over bandits whose arms are exchangeable,
    nor adapt within an episode: RL's regret gain below uniform random is then *creation*. ``creation`` needs RL to
    beat uniform random and its base in one decoding mode, and the base to do neither of those two things in any
    mode; a base that does is not reward-blind in fact, and the test does not isolate creation.
    """
    ad = regret.adaptation.set_index(["policy", "mode"])
    tab = regret.table.set_index(["policy", "mode"])
    bb = best[best["model"] != "random_init"].drop_duplicates("model").set_index("model")
    rows = []
    for bp in pairs:
        row: dict[str, Any] = {"pair": bp.label, "dose": bp.dose, "variant": bp.variant, "base": bp.base_label,
                               "rl": bp.rl_label, "design": bp.design}
        for who, name in (("base", bp.base_label), ("rl", bp.rl_label)):
            for mode in MODES:
                row[f"adapts_{who}_{mode}"] = bool(ad.loc[(name, mode), "ci_lo"] > 0)
                row[f"beats_random_{who}_{mode}"] = bool(tab.loc[(name, mode), "gap_lo"] > 0)
            if name not in bb.index:
                raise InvalidConfigError(f"No best-layer probe row for {name!r}: pass belief_probes_by_base(...)[1].")
            b = bb.loc[name]
            row[f"beliefs_{who}"] = bool(b["ci_lo"] > max(b["random_hi"], b["r2_counts"]))
        for mode in MODES:
            d = regret_difference(regret, (bp.rl_label, mode), (bp.base_label, mode), n_boot=n_boot, ci=ci, seed=seed)
            row[f"rl_minus_base_{mode}"], row[f"rl_minus_base_{mode}_lo"], row[f"rl_minus_base_{mode}_hi"] = \
                d["diff"], d["lo"], d["hi"]
            row[f"rl_beats_base_{mode}"] = bool(d["hi"] < 0)
        rl_new = [m for m in MODES if row[f"adapts_rl_{m}"] and not row[f"adapts_base_{m}"]]
        base_had = [m for m in MODES if row[f"adapts_base_{m}"]]
        # like the creation premise below, adaptation belongs to the base, not to a decoding mode: a base adapting in
        # one mode already learns in context, so RL adapting in the other mode is an addition, not its appearance
        row["behaviour"] = (
            f"the base already adapts ({', '.join(base_had)} decoding): in-context learning pre-existed RL"
            + (f"; RL adds adaptation in {', '.join(rl_new)} decoding" if rl_new else "") if base_had else
            f"RL adapts within the episode where the base does not in any decoding mode ({', '.join(rl_new)}"
            " decoding): in-context RL appears after RL" if rl_new else
            "neither model's regret per trial falls within the episode (no adaptation CI above 0): within-episode"
            " adaptation is not reproduced for this pair")
        row["probes"] = (
            "activation: the base already encodes beliefs beyond the controls" if row["beliefs_base"] else
            "creation-like: beliefs beyond the controls appear only after RL" if row["beliefs_rl"] else
            "inconclusive: neither model encodes beliefs beyond the controls")
        gained = [m for m in MODES if row[f"beats_random_rl_{m}"] and row[f"rl_beats_base_{m}"]]
        base_beats = [m for m in MODES if row[f"beats_random_base_{m}"]]
        base_adapts = [m for m in MODES if row[f"adapts_base_{m}"]]
        # reward-blindness belongs to the base, not to a decoding mode: one mode where it beats random or adapts voids
        # the premise in all of them
        row["creation"] = bool(bp.reward_blind and gained and not base_beats and not base_adapts)
        if not bp.reward_blind:
            row["expected"] = (f"dose {bp.dose:g} > 0: the base was pretrained on learning histories (Thompson share"
                               f" {bp.dose:g}), so in-context learning can pre-exist RL: activation is expected")
        else:
            why = ("dose 0: the base never saw learning (every pretraining history was uniform-random), so its policy"
                   " should ignore rewards"
                   if not bp.shuffled else
                   "shuffled rewards: the base saw Thompson play whose rewards were shuffled within each episode, so no"
                   " reward in its corpus shows which arm earned it (each episode keeps its count of rewards, which"
                   " can still tell it how concentrated to play), and its policy should ignore which arm paid")
            rule = (f"{why}; a policy that ignores rewards cannot beat uniform random on average over symmetric"
                    " random bandits, nor adapt within an episode, so a regret gain below uniform random is creation"
                    " when the base itself does neither")
            rl_beats = [m for m in MODES if row[f"beats_random_rl_{m}"]]
            voided = " and ".join(_reward_use(base_beats, base_adapts))
            if gained and row["creation"]:
                res = f"RL beats uniform random and its base ({', '.join(gained)} decoding): RL created it"
            elif gained:
                res = (f"RL beats uniform random and its base ({', '.join(gained)} decoding), but the base itself"
                       f" {voided}, which a policy that ignores rewards cannot: the base is not reward-blind in fact,"
                       " so the test does not isolate creation")
            elif rl_beats:
                res = (f"RL beats uniform random ({', '.join(rl_beats)} decoding) but not by more than its base, which"
                       " beats it too: the base's policy is not reward-blind here, so the test does not isolate"
                       " creation" if base_beats else
                       f"RL beats uniform random ({', '.join(rl_beats)} decoding) but its gain over its base is not"
                       " resolved: creation is not established")
            else:
                res = "RL does not beat uniform random in either decoding mode: nothing was created"
            row["expected"] = f"{rule}. Here: {res}"
        if bp.design:  # the build's label comes first; the operational reading stays beside it, never replaces it
            row["expected"] = f"label fixed before RL: {bp.design}. Operational reading: {row['expected']}"
        rows.append(row)
    return pd.DataFrame(rows)


def _names_to_build(preset: str | None, designs: Iterable[tuple[float, str, bool]], seed: int,
                    pretrain_seed: int) -> dict[tuple[float, str, bool], str]:
    """Per bandit pair design (dose, RL variant, shuffled rewards) that ``preset`` defines with RL seed ``seed`` from
    a base of ``pretrain_seed``: its RL model's name. Designs the preset does not define there are absent."""
    from ..organism.zoo import PRESETS, preset_specs

    if preset not in PRESETS:
        return {}
    specs = {s.name: s for s in preset_specs(preset)}
    wanted = set(designs)
    out: dict[tuple[float, str, bool], str] = {}
    for s in specs.values():
        b = specs.get(s.base or "")
        if s.kind != "rl" or s.world != "bandits" or b is None or b.pretrain is None or b.seed != pretrain_seed:
            continue
        key = (float(s.dose), s.variant, b.pretrain.corpus.bandit_rewards == "shuffled")
        if s.seed == seed and key in wanted:
            out[key] = s.name
    return out


def _reward_use(beats: Sequence[str], adapts: Sequence[str]) -> list[str]:
    """What a base did that a policy ignoring rewards cannot, per decoding mode: beat uniform random, adapt."""
    return ([f"beats uniform random in {', '.join(beats)} decoding"] * bool(beats)
            + [f"adapts within the episode in {', '.join(adapts)} decoding"] * bool(adapts))


def creation_findings(
    regret: RegretResult, best: pd.DataFrame, verdict: pd.DataFrame, pairs: Sequence[BanditPair], *,
    reward_pred: pd.DataFrame | None = None, control: str = "random init", n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0,
) -> list[str]:
    """Plain sentences (markdown) on the reward-blind pairs (:attr:`BanditPair.reward_blind`: dose 0, or shuffled
    rewards), the creation test: for each such RL model, whether it
    created in-context adaptation (final regret with CI against its base's, paired, and against uniform random's,
    as the gap closed; adaptation CI) and how far it stays from Thompson sampling; then, per reward-blind base, whether
    its policy beats uniform random and whether it already encodes beliefs beyond the probe controls although its
    policy ignores rewards, with its reward prediction against the ``control`` model's when ``reward_pred``
    (:func:`reward_prediction`'s table) is given. ``verdict``: :func:`verdicts`' table. Each sentence names the
    pair's label fixed before RL where the zoo records one. Empty when no pair is reward-blind."""
    tab = regret.table.set_index(["policy", "mode"])
    ad = regret.adaptation.set_index(["policy", "mode"])
    bb = best[best["model"] != "random_init"].drop_duplicates("model").set_index("model")
    v = verdict.set_index("pair")
    out = []
    zero = [bp for bp in pairs if bp.reward_blind]
    for bp in zero:
        r = v.loc[bp.label]
        parts = []
        for mode in MODES:
            rl, base, rnd = tab.loc[(bp.rl_label, mode)], tab.loc[(bp.base_label, mode)], tab.loc[("random", "reference")]
            a = ad.loc[(bp.rl_label, mode)]
            th = regret_difference(regret, (bp.rl_label, mode), ("thompson", "reference"), n_boot=n_boot, ci=ci,
                                   seed=seed)
            parts.append(
                f"{mode}: regret {fmt_ci(rl['final_regret'], rl['ci_lo'], rl['ci_hi'])} vs its base's"
                f" {fmt_ci(base['final_regret'], base['ci_lo'], base['ci_hi'])} (RL minus base"
                f" {fmt_ci(r[f'rl_minus_base_{mode}'], r[f'rl_minus_base_{mode}_lo'], r[f'rl_minus_base_{mode}_hi'])},"
                f" paired) and uniform random's {fmt_ci(rnd['final_regret'], rnd['ci_lo'], rnd['ci_hi'])} (gap closed"
                f" {fmt_ci(rl['gap_closed'], rl['gap_lo'], rl['gap_hi'])}); adaptation"
                f" {fmt_ci(a['improvement'], a['ci_lo'], a['ci_hi'])} ({ci_side(a['ci_lo'], a['ci_hi'])});"
                f" {fmt_ci(th['diff'], th['lo'], th['hi'])} more regret than Thompson sampling")
        adapts = [m for m in MODES if r[f"adapts_rl_{m}"]]
        rises = all(ad.loc[(bp.rl_label, m), "ci_hi"] < 0 for m in MODES)
        head = ("**yes, RL created in-context adaptation**" if r["creation"] and adapts else
                "**yes, RL created reward-dependent play (regret below uniform random and below its base's), but"
                + (" its regret per trial rises within the episode (adaptation CI below 0 in both modes)**" if rises
                   else " its regret per trial does not resolvably fall within the episode**") if r["creation"]
                else "**not established: RL beats uniform random and its base, but the base itself beats uniform"
                " random or adapts within the episode, so it is not reward-blind and the test cannot isolate"
                " creation**" if any(r[f"beats_random_rl_{m}"] and r[f"rl_beats_base_{m}"] for m in MODES)
                else "**no, RL did not create in-context adaptation**")
        what = f"dose {bp.dose:g}{', shuffled rewards' if bp.shuffled else ''}, RL variant {bp.variant}" + (
            f", label fixed before RL: {bp.design}" if bp.design and not bp.label.endswith(f"({bp.design})") else "")
        out.append(f"{bp.rl_label} ({what}): {head}. " + "; ".join(parts) + ".")
    for group in _by_base(zero).values():
        bl = group[0].base_label
        b = bb.loc[bl]
        r0 = v.loc[group[0].label]  # the verdict table already judged this base (its pairs share it)
        voided = _reward_use([m for m in MODES if r0[f"beats_random_base_{m}"]],
                             [m for m in MODES if r0[f"adapts_base_{m}"]])
        beliefs = bool(b["ci_lo"] > max(b["random_hi"], b["r2_counts"]))
        policy = (f"its policy {' and '.join(voided)}, so it does not ignore rewards after all" if voided else
                  "its policy neither beats uniform random nor adapts within the episode (as a reward-blind policy"
                  " cannot)")
        enc = ("it **already encodes beliefs** beyond the controls, though its policy ignores them"
               if beliefs and not voided else "it encodes beliefs beyond the controls" if beliefs else
               "it does **not** encode beliefs beyond the controls")
        rp = ""
        if reward_pred is not None:
            q = reward_pred.set_index("model")
            if bl in q.index and control in q.index:
                own, ctl = q.loc[bl], q.loc[control]
                rp = (f"; its reward prediction tracks the Bayes posterior"
                      f" {'beyond' if own['ci_lo'] > ctl['ci_hi'] else 'not beyond'} a {control} model's (corr"
                      f" {fmt_ci(own['corr'], own['ci_lo'], own['ci_hi'])} vs {fmt_ci(ctl['corr'], ctl['ci_lo'], ctl['ci_hi'])})")
        out.append(f"{bl}: {policy}; {enc} (best layer {int(b['layer'])} R^2 {fmt_ci(b['r2'], b['ci_lo'], b['ci_hi'])}"
                   f" vs random init {fmt_ci(b['r2_random_init'], b['random_lo'], b['random_hi'])} and token counts"
                   f" {b['r2_counts']:.2f}){rp}.")
    return out


def load_bandit_pairs(
    *, preset: str = "paper", variant: str | Sequence[str] = DEFAULT_VARIANT, seed: int = 0, smoke: bool = False,
    smoke_dir: str | Path | None = None, pretrain_seed: int | None = None,
) -> tuple[list[BanditPair], str]:
    """``([BanditPair, ...], source)`` for the bandit world, sorted by dose, then variant in the order requested.

    Zoo pairs of ``preset`` with any of the ``variant`` values and RL ``seed``, at every dose where they exist: a
    requested variant need not exist at every dose (``"long"`` exists only at dose 0), but outside smoke mode one
    that exists at no dose raises MissingWeightsError naming the command that builds it. Pairs that share a base
    model share the loaded base. In smoke mode, when no bandit pair matches,
    :func:`rlmeta_interp.selection.select_pairs` relaxes the preset, then the seed, then the variant (so the pairs
    may be another preset's, seed's or variant's; ``source`` says which was relaxed; one pair per (dose, variant)
    is kept); when the zoo holds no bandit organisms at all (the demo preset has none), one
    :func:`smoke_bandit_pair` stand-in, and ``source`` says so. ``pretrain_seed``: only pairs whose base has that
    pretraining seed (the validation preset builds each design at several; without it the first found is kept, with
    a warning); outside smoke mode a seed with no such pair raises MissingWeightsError. Pairs are keyed by dose,
    variant and whether the base's rewards were shuffled, so a shuffled-reward base never stands in for a real one.
    """
    from ..errors import MissingWeightsError
    from ..models import load_pair
    from ..registry import manifest_of
    from ..selection import build_command, select_pairs

    variants = [variant] if isinstance(variant, str) else list(variant)
    if not variants:
        raise InvalidConfigError("variant=[]: name at least one RL variant, e.g. 'correct'.")
    try:
        specs = select_pairs("bandits", variant=variants, preset=preset, seed=seed, smoke=smoke, require="any")
    except MissingWeightsError:
        if not smoke:
            raise
        base, rl = smoke_bandit_pair(smoke_dir, seed=seed)
        pair = load_pair((base, rl))
        dose = float(pair.base.manifest["dose"])
        return [BanditPair(dose, DEFAULT_VARIANT, pair_label(dose, DEFAULT_VARIANT), pair, f"base d{dose:g}")], \
            "tiny smoke stand-in (no bandit organisms in this zoo)"
    # a zoo model is listed from its manifest, so every base here has one; a corpus without bandit_rewards was built
    # before shuffled rewards existed (CorpusConfig's default, real rewards)
    base_manifests = {s.base.name: manifest_of(s.base.name) or {} for s in specs}

    def shuffled(s: Any) -> bool:
        corpus = (base_manifests[s.base.name].get("config") or {}).get("pretrain", {}).get("corpus", {})
        return corpus.get("bandit_rewards") == "shuffled"

    def design(s: Any) -> tuple[float, str, bool]:  # what a pair is, whatever its pretraining seed
        return (float(s.dose if s.dose is not None else np.nan), str(s.extra.get("variant") or DEFAULT_VARIANT),
                shuffled(s))

    if pretrain_seed is not None:
        kept = [s for s in specs if base_manifests[s.base.name].get("seed") == pretrain_seed]
        # every pair the zoo holds at some seed must be there at this one, or the figures lose it silently
        lacking = sorted({design(s) for s in specs} - {design(s) for s in kept})
        names = [pair_label(d, v, shuffled=sh) for d, v, sh in lacking]
        if lacking and not smoke:
            # the preset the pairs came from ("auto" chose one), so the command builds the same design
            from_preset = next(iter(specs.by("preset")), preset) if preset in (None, "auto") else preset
            build = _names_to_build(from_preset, lacking, seed, pretrain_seed)
            command = build_command(from_preset, [build[d] for d in lacking if d in build]) if build else ""
            undefined = [pair_label(*d[:2], shuffled=d[2]) for d in lacking if d not in build]
            how = "; ".join(
                ([f"build them with {command}"] if command else [])
                + ([f"preset {from_preset!r} defines no pair {undefined} from a base of that seed"] if undefined
                   else []))
            raise MissingWeightsError(f"No bandit pair of preset {from_preset!r}, RL seed {seed}, pretraining seed"
                                      f" {pretrain_seed} for {names} (the zoo holds them at other seeds): "
                                      + (f"{how}, or" if how else "their models are built but not listed as pairs"
                                         " (check their manifests with `rlmeta-interp list`); or")
                                      + " choose a seed the zoo holds them all at.")
        source = (f"{specs.source}, pretraining seed {pretrain_seed}" if kept else
                  f"{specs.source}; no pair of pretraining seed {pretrain_seed}, so any seed (smoke)")
        source += f"; without {names} (not built at that seed)" if kept and lacking else ""
        specs = type(specs)(kept or specs, source, specs.missing)
    absent = [m["variant"] for m in specs.missing if "variant" in m]
    if absent and not smoke:  # a variant at no dose: the registry's own error names what builds it
        select_pairs("bandits", variant=list(dict.fromkeys(absent)), preset=preset, seed=seed)
        raise MissingWeightsError(f"No bandit pair with variant {absent} (preset {preset!r}, seed {seed}): build it"
                                  f" with `rlmeta-interp zoo build --preset {preset}`.")

    order = {v: i for i, v in enumerate(variants)}
    chosen: dict[tuple[float, str, bool], Any] = {}
    for s in sorted(specs, key=lambda s: (s.dose if s.dose is not None else -1.0, shuffled(s),
                                          order.get(s.extra.get("variant"), len(order)))):
        key = design(s)
        if key in chosen:
            log.warning("Several bandit pairs at dose %g, variant %s%s (%s, %s); keeping %s%s.", key[0], key[1],
                        " (shuffled rewards)" if key[2] else "", chosen[key].name, s.name, chosen[key].name,
                        "" if pretrain_seed is not None else ": pass pretrain_seed to choose")
            continue
        chosen[key] = s
    out: list[BanditPair] = []
    bases: dict[str, tuple[Any, str]] = {}  # base model name -> (loaded model, label)
    for (dose, var, shuf), s in chosen.items():
        pair = load_pair(s.name)
        if pair.base.name in bases:
            pair = replace(pair, base=bases[pair.base.name][0])
        else:
            label = f"base d{dose:g}{' shuffled' if shuf else ''}"
            if label in {lab for _, lab in bases.values()}:  # another base at this dose (e.g. a smoke relaxation)
                label = f"{label} ({pair.base.name})"
            bases[pair.base.name] = (pair.base, label)
        design = str(s.label or "")
        out.append(BanditPair(dose, var, pair_label(dose, var, shuffled=shuf, design=design), pair,
                              bases[pair.base.name][1], design=design, shuffled=shuf))
    return out, specs.source


# ------------------------------------------------------------------------------------------------ smoke stand-in
def smoke_bandit_pair(
    out_dir: str | Path | None = None,
    *,
    dose: float = 0.5,
    seed: int = 0,
    horizon: int = 12,
    pretrain_steps: int = 60,
    rl_steps: int = 4,
) -> tuple[Path, Path]:
    """A tiny bandit base (pretrained ``pretrain_steps`` on histories with Thompson share ``dose``) and its GRPO
    version (``rl_steps``), in seconds. Only a stand-in for smoke runs: far too small and short to say anything
    about claim 6. Folders carry a manifest (world, dose, bandit config) so the world can be rebuilt; reused
    when already built. Default folder: ``<RLMETA_HOME>/smoke``."""
    from ..organism.corpus import CorpusConfig
    from ..organism.pretrain import ModelConfig, PretrainConfig, pretrain
    from ..organism.rl import RLConfig, train_rl
    from ..organism.worlds.bandits import BanditConfig

    root = ensure_dir(Path(out_dir) if out_dir is not None else home_dir() / "smoke")
    bc = BanditConfig(n_arms=3, horizon=horizon)
    tag = f"smoke-bandit-d{int(round(dose * 100)):03d}-s{seed}-h{horizon}-p{pretrain_steps}-r{rl_steps}"
    pcfg = PretrainConfig(corpus=CorpusConfig(world="bandits", dose=dose, seed=seed, bandits=bc),
                          model=ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=2 * horizon + 8),
                          steps=pretrain_steps, batch_size=32, lr=3e-3, warmup_steps=5, seed=seed, checkpoint_every=0)
    rcfg = RLConfig(world="bandits", bandits=bc, steps=rl_steps, prompts_per_step=4, num_generations=4,
                    n_train_problems=64, lr=1e-3, beta=0.05, seed=seed, save_every=0, checkpoint_every=0)
    folders = []
    for kind, cfg in (("base", pcfg), ("rl", rcfg)):
        folder = root / f"{tag}-{kind}"
        manifest = {"name": folder.name, "kind": kind, "world": "bandits", "dose": dose, "seed": seed,
                    "preset": "smoke", "variant": "correct" if kind == "rl" else None,
                    "config": {"bandits": bc.to_dict(), kind if kind == "rl" else "pretrain": cfg.to_dict()},
                    "description": "smoke stand-in: tiny and barely trained; not a zoo organism"}
        mpath = folder / "manifest.json"
        if mpath.exists() and (folder / WEIGHTS_FILE).exists():
            old = read_json(mpath)
            if old.get("config") == manifest["config"] and \
                    old.get("files", {}).get(WEIGHTS_FILE) == sha256_file(folder / WEIGHTS_FILE):
                folders.append(folder)
                continue
        if kind == "base":
            pretrain(pcfg, folder, progress=False)
        else:
            train_rl(folders[0], rcfg, folder, resume=False, progress=False)
        manifest["files"] = {WEIGHTS_FILE: sha256_file(folder / WEIGHTS_FILE)}
        write_json_atomic(mpath, manifest)
        folders.append(folder)
    return folders[0], folders[1]
