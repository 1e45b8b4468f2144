"""In-context RL on bandits (notebook 05, SOURCES.md claim 6): regret of base and RL organisms against
Thompson sampling and uniform random, and belief-state probes with the controls PILOT_BANDITS.md demands.

- :func:`model_choices`: a model's arm choices on given bandits (sampled or greedy), from the world's own
  multi-turn rollout (the environment writes every reward token).
- :func:`regret_experiment`: per-trial and cumulative regret curves, final regret with the share of the
  random-to-Thompson gap closed, and within-episode adaptation, for every model in both decoding modes, beside
  Thompson sampling and uniform random run on the same bandits.
- :func:`belief_episodes` / :func:`belief_probe_layers`: ridge probes of the row-centred Bayes posterior means of
  the arms, read at every reward token, per layer, in each model beside a random-init model and a bag-of-token-
  counts baseline (probe R^2 alone is not evidence: a random network decoded centred values with R^2 0.50 in the
  pilot).
- :func:`load_bandit_pairs`: the zoo's bandit pairs as :class:`BanditPair` (dose, RL variant, display label);
  :func:`bandit_models` and :func:`belief_probes_by_base` evaluate each distinct base once.
- :func:`verdicts` / :func:`creation_findings`: per pair, its RL model against its own base, and the dose-0 test of
  creation (a policy that ignores rewards cannot beat uniform random on symmetric random bandits).
- :func:`smoke_bandit_pair`: a tiny base/RL bandit pair trained in seconds, the stand-in that smoke runs use
  when the zoo holds no bandit organisms (the demo preset has none).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int

from ..analysis.stats import bootstrap_pooled_ci
from ..errors import EmptyInputError, InvalidConfigError
from ..hooks import hook_name
from ..io import ensure_dir, read_json, sha256_file, write_json_atomic
from ..paths import home_dir

log = logging.getLogger(__name__)
Mode = Literal["sampled", "greedy"]
MODES: tuple[Mode, ...] = ("sampled", "greedy")


def _hf(model: Any) -> tuple[Any, Any]:
    """``(hf_model, tokenizer)`` from a LoadedModel, or ``(model, None)`` for a bare Hugging Face model."""
    if hasattr(model, "hf") and hasattr(model, "tokenizer"):
        return model.hf, model.tokenizer
    return model, None


# --------------------------------------------------------------------------------------------------------- regret
def model_choices(
    model: Any,
    world: Any,
    problems: Sequence[Any],
    *,
    mode: Mode = "sampled",
    tokenizer: Any | None = None,
    seed: int = 0,
) -> tuple[Int[np.ndarray, "episodes T"], Float[np.ndarray, "episodes K"]]:
    """``(choices, means)``: the arm the model pulled at every trial of one episode per bandit (``-1`` where it
    wrote a non-arm token) and each bandit's hidden means. ``mode``: ``"sampled"`` (temperature 1) or
    ``"greedy"``; they disagree for models that imitate a mixture of behaviour policies (PILOT_BANDITS.md)."""
    from ..organism.evaluate import rollout_bandits

    if mode not in MODES:
        raise InvalidConfigError(f"mode={mode!r}; choose 'sampled' or 'greedy'.")
    if len(problems) == 0:
        raise EmptyInputError("No bandits given: pass world.sample(n, seed=...).")
    hf, tok = _hf(model)
    tok = tokenizer if tokenizer is not None else tok
    if tok is None:
        raise InvalidConfigError("A bare Hugging Face model needs tokenizer=...; or pass a LoadedModel.")
    roll = rollout_bandits(hf, tok, world, list(problems), greedy=mode == "greedy", seed=seed)
    means = np.asarray([p.meta["means"] for p in problems], dtype=np.float64)
    return roll.arms.numpy().astype(np.int64), means


@dataclass
class RegretResult:
    """Tables of :func:`regret_experiment`; every row names its ``policy`` and decoding ``mode``
    (``"reference"`` for Thompson sampling and uniform random)."""

    curves: pd.DataFrame  # policy, mode, t, regret(+CI), cum_regret(+CI), p_best(+CI)
    table: pd.DataFrame  # policy, mode, final_regret(+CI), gap_closed(+CI), invalid_rate, n_episodes
    adaptation: pd.DataFrame  # policy, mode, early, late, improvement(+CI), window
    finals: pd.DataFrame | None = None  # policy, mode, episode, final_regret (for paired comparisons)


def regret_experiment(
    models: Mapping[str, Any],
    world: Any,
    problems: Sequence[Any],
    *,
    modes: Sequence[Mode] = MODES,
    seed: int = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
    invalid: Literal["worst", "uniform", "error"] = "worst",
) -> RegretResult:
    """Regret of every model (``{name: LoadedModel}``) in every decoding mode, with Thompson sampling and uniform
    random on the same bandits (so the gap closed is a paired comparison). Invalid pulls (non-arm tokens) score
    as the worst arm by default; their rate is reported."""
    from ..analysis.icrl import reference_choices

    if not models:
        raise EmptyInputError("No models given: pass {name: LoadedModel}.")
    T = world.config.horizon
    means = np.asarray([p.meta["means"] for p in problems], dtype=np.float64)
    runs: dict[tuple[str, str], np.ndarray] = {
        ("thompson", "reference"): reference_choices(means, T, "thompson", seed=seed),
        ("random", "reference"): reference_choices(means, T, "random", seed=seed + 1),
    }
    for name, model in models.items():
        for mode in modes:
            runs[(name, mode)] = model_choices(model, world, problems, mode=mode, seed=seed)[0]
    return regret_from_choices(runs, means, seed=seed, n_boot=n_boot, ci=ci, invalid=invalid)


def regret_from_choices(
    runs: Mapping[tuple[str, str], Int[np.ndarray, "episodes T"]],
    means: Float[np.ndarray, "episodes K"],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    ci: float = 0.95,
    invalid: Literal["worst", "uniform", "error"] = "worst",
) -> RegretResult:
    """:func:`regret_experiment`'s tables from arm choices already made: ``runs`` maps ``(policy, mode)`` to the
    choices on the bandits with hidden ``means`` and must hold ``("thompson", "reference")`` and ``("random",
    "reference")``, the references of the gap closed."""
    from ..analysis.icrl import (
        adaptation,
        per_trial_regret,
        regret_curves,
        regret_table,
    )

    refs = [("thompson", "reference"), ("random", "reference")]
    if not all(r in runs for r in refs):
        raise InvalidConfigError(f"runs must include {refs} (the gap closed is measured between them).")
    key = {k: f"{k[0]} [{k[1]}]" for k in runs}
    table = regret_table({key[k]: (c, means) for k, c in runs.items()}, random=key[("random", "reference")],
                         optimal=key[("thompson", "reference")], invalid=invalid, n_boot=n_boot, ci=ci, seed=seed)
    back = {v: k for k, v in key.items()}
    table["invalid_rate"] = [float((runs[back[p]] < 0).mean()) for p in table["policy"]]
    table.insert(1, "mode", [back[p][1] for p in table["policy"]])
    table["policy"] = [back[p][0] for p in table["policy"]]
    curves, adapt, finals = [], [], []
    for (name, mode), c in runs.items():
        curves.append(regret_curves(c, means, policy=name, invalid=invalid, n_boot=n_boot, ci=ci, seed=seed)
                      .assign(mode=mode))
        adapt.append({"policy": name, "mode": mode, **adaptation(c, means, invalid=invalid, n_boot=n_boot, ci=ci,
                                                                  seed=seed)})
        f = per_trial_regret(c, means, invalid=invalid).sum(axis=1)
        finals.append(pd.DataFrame({"policy": name, "mode": mode, "episode": np.arange(len(f)), "final_regret": f}))
    return RegretResult(curves=pd.concat(curves, ignore_index=True), table=table, adaptation=pd.DataFrame(adapt),
                        finals=pd.concat(finals, ignore_index=True))


def regret_difference(
    regret: RegretResult, a: tuple[str, str], b: tuple[str, str], *, n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Mean final regret of policy ``a`` minus policy ``b`` (each ``(policy, mode)`` of :func:`regret_experiment`)
    on the same bandits, with a paired bootstrap CI over bandits: ``{"diff", "lo", "hi"}`` (< 0: ``a`` regrets less).
    """
    from ..analysis.stats import paired_diff_ci

    if regret.finals is None:
        raise InvalidConfigError("This RegretResult has no per-episode finals: recompute it with regret_experiment.")
    f = regret.finals.set_index(["policy", "mode"])
    vals = []
    for key in (a, b):
        if key not in f.index:
            raise InvalidConfigError(f"No policy {key} in the regret result; it has {sorted(set(f.index))}.")
        vals.append(f.loc[[key]].sort_values("episode")["final_regret"].to_numpy())
    lo, hi = paired_diff_ci(vals[0], vals[1], n_boot=n_boot, ci=ci, seed=seed)
    return {"diff": float(vals[0].mean() - vals[1].mean()), "lo": lo, "hi": hi}


# -------------------------------------------------------------------------------------------------- belief probes
def belief_episodes(
    world: Any, n_episodes: int, *, seed: int = 0, policy: Literal["thompson", "random"] = "thompson"
) -> tuple[list[str], Float[np.ndarray, "episodes T K"]]:
    """Episode texts written by a reference ``policy`` on fresh bandits, and the Beta(1,1) posterior mean of
    every arm after each pull (the belief a Bayes-optimal learner holds at that pull's reward token)."""
    from ..organism.worlds.bandits import posterior_means, render_episode, simulate

    if n_episodes < 1:
        raise InvalidConfigError(f"n_episodes must be >= 1, got {n_episodes}.")
    cfg = world.config
    rng = np.random.default_rng([seed, 0xB311EF])
    texts, targets = [], []
    for p in world.sample(n_episodes, seed=seed + 40_000):
        pulls = simulate(policy, np.asarray(p.meta["means"]), cfg.horizon, rng)
        texts.append(render_episode(pulls, cfg))
        targets.append(posterior_means(pulls, cfg.n_arms)[1:])
    return texts, np.stack(targets)


def reward_positions(model: Any, horizon: int) -> Int[torch.Tensor, " T"]:
    """Token positions of the reward token of pulls ``0..T-1`` in an episode (after BOS when the model uses one)."""
    off = 1 if getattr(model, "prepend_bos", True) else 0
    return torch.tensor([off + 2 * t + 1 for t in range(horizon)])


def _pooled_corr(pooled: np.ndarray) -> np.ndarray:
    """Pearson correlation from pooled sufficient statistics ``[..., (n, sx, sy, sxx, syy, sxy)]``."""
    n, sx, sy, sxx, syy, sxy = (pooled[..., i] for i in range(6))
    cov = sxy - sx * sy / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt((sxx - sx**2 / n) * (syy - sy**2 / n))


@torch.inference_mode()
def reward_prediction(
    models: Mapping[str, Any],
    texts: Sequence[str],
    *,
    n_arms: int,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """How well each model predicts reward tokens: the correlation, over all pulls of all episodes, between the
    model's ``P("1") / (P("0") + P("1"))`` at the pull's arm token and the Beta(1,1) posterior mean of that arm
    before the pull (the Bayes-optimal prediction). A behavioural read-out of beliefs that random features cannot
    fake (PILOT_BANDITS.md: 0.99 for a dose-0.5 base; RL without KL dropped it to 0.07). Columns ``model, corr,
    ci_lo, ci_hi`` (bootstrap over episodes), ``mae`` (mean absolute error), ``n_pulls``.
    """
    from ..organism.worlds.bandits import BanditConfig, parse_episode, posterior_means

    if not models or len(texts) == 0:
        raise EmptyInputError("Pass {name: LoadedModel} and at least one episode text.")
    pulls = [parse_episode(t, BanditConfig(n_arms=n_arms, horizon=max(1, len(t) // 2))) for t in texts]
    if any(p is None or not p for p in pulls):
        raise InvalidConfigError("Every text must be a well-formed episode ('a1b0...') over the first n_arms arms.")
    bayes = [np.array([posterior_means(p, n_arms)[t][a] for t, (a, _) in enumerate(p)]) for p in pulls]
    rows = []
    for name, model in models.items():
        ids, mask = model.to_tokens(list(texts))
        hf = model.hf
        logits = hf(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float().cpu()
        vocab = model.tokenizer.get_vocab()
        p01 = torch.softmax(logits[..., [vocab["0"], vocab["1"]]], dim=-1)[..., 1].double().numpy()
        off = 1 if model.prepend_bos else 0
        stats, errs = [], []
        for e, y in enumerate(bayes):
            x = p01[e, off + 2 * np.arange(len(y))]  # the logits at the arm token predict the reward token after it
            stats.append([len(y), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])
            errs.append(np.abs(x - y))
        mat = np.asarray(stats)
        lo, hi = bootstrap_pooled_ci(mat, _pooled_corr, n_boot=n_boot, ci=ci, seed=seed)
        rows.append({"model": name, "corr": float(_pooled_corr(mat.sum(0))), "ci_lo": lo, "ci_hi": hi,
                     "mae": float(np.concatenate(errs).mean()), "n_pulls": int(mat[:, 0].sum())})
    return pd.DataFrame(rows)


def random_init_control(model: Any, seed: int) -> Any:
    """A LoadedModel with the same architecture and tokenizer but freshly initialised weights (the probe control).
    ``seed`` should differ from the organism's own initialisation seed."""
    from ..analysis.directions import random_init_like

    return replace(model, name="random_init", hf=random_init_like(model.hf, seed=seed), _tl=None, manifest=None)


def belief_probe_layers(
    models: Mapping[str, Any],
    texts: Sequence[str],
    targets: Float[np.ndarray, "episodes T K"],
    *,
    layers: Sequence[int] | None = None,
    site: str = "resid_post",
    random_init_seed: int = 7_777_777,
    config: Any | None = None,
) -> pd.DataFrame:
    """Cross-validated ridge R^2 of the row-centred posterior means, read at every reward token, per layer.

    ``models``: ``{name: LoadedModel}`` sharing one architecture and tokenizer (e.g. a base and its RL model).
    A ``random_init`` model (the first model's architecture, fresh weights) and a ``token_counts`` baseline (the
    counts of each token up to that reward token) are added as controls. Returns
    :func:`rlmeta_interp.analysis.directions.belief_probe_report`'s table (``model, layer, r2, ci_lo, ci_hi,
    r2_shuffled, r2_minus_random_init, r2_minus_counts, n``). Rows of one episode are correlated, so folds are
    grouped by episode and the bootstrap resamples episodes: R^2 is an out-of-episode estimate.
    """
    from ..activations import harvest
    from ..analysis.directions import RidgeProbeConfig, belief_probe_report

    if not models:
        raise EmptyInputError("No models given: pass {name: LoadedModel}.")
    y = np.asarray(targets, dtype=np.float64)
    if y.ndim != 3 or y.shape[0] != len(texts):
        raise InvalidConfigError(f"targets must be [episodes, T, K] with one row per text ({len(texts)}), got {y.shape}.")
    first = next(iter(models.values()))
    layers = list(range(first.n_layers)) if layers is None else [first.layer(layer) for layer in layers]
    hooks = [hook_name(layer, site) for layer in layers]  # type: ignore[arg-type]
    T = y.shape[1]
    all_models = dict(models)
    all_models["random_init"] = random_init_control(first, random_init_seed)
    acts: dict[str, dict[int, torch.Tensor]] = {}
    for name, model in all_models.items():
        a = harvest(model, list(texts), hooks, positions="all", cache=False)
        pos = reward_positions(model, T)
        if int(pos.max()) >= a[hooks[0]].shape[1]:
            raise InvalidConfigError(f"Episodes are shorter than their targets ({T} pulls): pass full episode texts.")
        acts[name] = {layer: a[h][:, pos].reshape(-1, a[h].shape[-1]) for layer, h in zip(layers, hooks)}
    ids, attn = first.to_tokens(list(texts))
    pos = reward_positions(first, T)
    # per row (episode-major, then pull): the tokens up to and including that reward token (bag-of-counts control)
    tokens = ids.repeat_interleave(T, dim=0)
    upto = (torch.arange(ids.shape[1])[None, :] <= pos[:, None]).long()  # [T, pos]
    mask = upto.repeat(ids.shape[0], 1) * attn.long().repeat_interleave(T, dim=0)
    cfg = config if config is not None else RidgeProbeConfig()
    episode = np.repeat(np.arange(y.shape[0]), T)
    return belief_probe_report(acts, y.reshape(-1, y.shape[-1]), tokens=tokens, vocab_size=len(first.tokenizer),
                               attention_mask=mask, config=cfg, groups=episode)


def best_layers(probes: pd.DataFrame) -> pd.DataFrame:
    """Per model of a :func:`belief_probe_layers` table: the layer where R^2 beats the random-init control most,
    with its R^2 and CI, the random-init R^2 and CI at that layer, and the token-counts R^2. Columns ``model,
    layer, r2, ci_lo, ci_hi, r2_random_init, random_lo, random_hi, r2_counts, gain``."""
    need = {"model", "layer", "r2", "ci_lo", "ci_hi", "r2_minus_random_init"}
    if probes.empty or not need <= set(probes.columns):
        raise InvalidConfigError(f"Pass the table from belief_probe_layers (columns {sorted(need)}).")
    ctrl = probes[probes["model"] == "random_init"].set_index("layer")
    counts = probes.loc[probes["model"] == "token_counts", "r2"]
    rows = []
    for name, g in probes[~probes["model"].isin(["token_counts"])].groupby("model", sort=False):
        key = "r2" if name == "random_init" else "r2_minus_random_init"
        best = g.loc[g[key].idxmax()]
        layer = int(best["layer"])
        rows.append({"model": name, "layer": layer, "r2": float(best["r2"]), "ci_lo": float(best["ci_lo"]),
                     "ci_hi": float(best["ci_hi"]), "r2_random_init": float(ctrl.loc[layer, "r2"]),
                     "random_lo": float(ctrl.loc[layer, "ci_lo"]), "random_hi": float(ctrl.loc[layer, "ci_hi"]),
                     "r2_counts": float(counts.iloc[0]) if len(counts) else float("nan"),
                     "gain": float(best["r2"] - ctrl.loc[layer, "r2"])})
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------------------- pairs
DEFAULT_VARIANT = "correct"


def pair_label(dose: float, variant: str | None) -> str:
    """Display label of a bandit pair: ``"d0.5"`` for the default variant (``"correct"``), ``"d0 long"`` otherwise."""
    tail = "" if variant in (None, DEFAULT_VARIANT) else f" {variant}"
    return f"d{dose:g}{tail}"


@dataclass(frozen=True)
class BanditPair:
    """One bandit base/RL pair as notebook 05 shows it: its ``dose``, RL ``variant``, display ``label``
    (:func:`pair_label`), the loaded :class:`rlmeta_interp.models.Pair`, and ``base_label``, the name its base
    model goes by (``"base d0"``): pairs that share a base model share the label and the loaded model."""

    dose: float
    variant: str
    label: str
    pair: Any
    base_label: str

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


def _ci(v: float, lo: float, hi: float) -> str:
    return f"{v:.2f} [{lo:.2f}, {hi:.2f}]"


def _sign(lo: float, hi: float) -> str:
    return "above 0" if lo > 0 else "below 0" if hi < 0 else "CI includes 0"


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
    lies below 0. Columns: ``pair, dose, variant, base, rl``, ``adapts_<who>_<mode>``, ``beats_random_<who>_<mode>``,
    ``beliefs_<who>`` (who in base, rl), ``rl_minus_base_<mode>`` (with ``_lo`` / ``_hi``), ``rl_beats_base_<mode>``,
    ``creation`` (the dose-0 test below passed in some mode), and sentences ``expected``, ``behaviour``, ``probes``.

    The operational truth (``expected``): at dose > 0 the base was pretrained on learning histories, so activation is
    expected. At dose 0 every pretraining history was uniform-random, so the base's policy ignores rewards, and a
    policy that ignores rewards cannot beat uniform random on average over bandits whose arms are exchangeable: any
    regret gain below uniform random is *creation*. ``creation`` needs RL to beat uniform random and its base in the
    same mode while the base does not beat uniform random.
    """
    ad = regret.adaptation.set_index(["policy", "mode"])
    tab = regret.table.set_index(["policy", "mode"])
    bb = best[best["model"] != "random_init"].drop_duplicates("model").set_index("model")
    rows = []
    for bp in pairs:
        row: dict[str, Any] = {"pair": bp.label, "dose": bp.dose, "variant": bp.variant, "base": bp.base_label,
                               "rl": bp.rl_label}
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
        row["behaviour"] = (
            f"RL adapts within the episode where the base does not ({', '.join(rl_new)} decoding): in-context RL"
            " appears after RL" if rl_new else
            f"the base already adapts ({', '.join(base_had)} decoding): in-context learning pre-existed RL"
            if base_had else "neither model's regret per trial falls within the episode (no adaptation CI above 0):"
            " within-episode adaptation is not reproduced for this pair")
        row["probes"] = (
            "activation: the base already encodes beliefs beyond the controls" if row["beliefs_base"] else
            "creation-like: beliefs beyond the controls appear only after RL" if row["beliefs_rl"] else
            "inconclusive: neither model encodes beliefs beyond the controls")
        created = [m for m in MODES if row[f"beats_random_rl_{m}"] and row[f"rl_beats_base_{m}"]
                   and not row[f"beats_random_base_{m}"]]
        row["creation"] = bool(bp.dose == 0 and created)
        if bp.dose > 0:
            row["expected"] = (f"dose {bp.dose:g} > 0: the base was pretrained on learning histories (Thompson share"
                               f" {bp.dose:g}), so in-context learning can pre-exist RL: activation is expected")
        else:
            rule = ("dose 0: the base never saw learning (every pretraining history was uniform-random), so its"
                    " policy ignores rewards, and a policy that ignores rewards cannot beat uniform random on average"
                    " over symmetric random bandits: any regret gain below uniform random is creation")
            base_beats = [m for m in MODES if row[f"beats_random_base_{m}"]]
            rl_beats = [m for m in MODES if row[f"beats_random_rl_{m}"]]
            if created:
                res = f"RL beats uniform random and its base ({', '.join(created)} decoding): RL created it"
            elif rl_beats:
                res = (f"RL beats uniform random ({', '.join(rl_beats)} decoding) but not by more than its base, which"
                       " beats it too: the base's policy is not reward-blind here, so the test does not isolate"
                       " creation" if base_beats else
                       f"RL beats uniform random ({', '.join(rl_beats)} decoding) but its gain over its base is not"
                       " resolved: creation is not established")
            else:
                res = "RL does not beat uniform random in either decoding mode: nothing was created"
            if base_beats and created:
                res += f" (the base beats uniform random in {', '.join(base_beats)} decoding, which a reward-blind" \
                       " policy cannot: check the base)"
            row["expected"] = f"{rule}. Here: {res}"
        rows.append(row)
    return pd.DataFrame(rows)


def creation_findings(
    regret: RegretResult, best: pd.DataFrame, verdict: pd.DataFrame, pairs: Sequence[BanditPair], *,
    reward_pred: pd.DataFrame | None = None, control: str = "random init", n_boot: int = 1000, ci: float = 0.95,
    seed: int = 0,
) -> list[str]:
    """Plain sentences (markdown) on the dose-0 pairs, the creation test: for each dose-0 RL model, whether it
    created in-context adaptation (final regret with CI against its base's, paired, and against uniform random's,
    as the gap closed; adaptation CI) and how far it stays from Thompson sampling; then, per dose-0 base, whether
    its policy beats uniform random and whether it already encodes beliefs beyond the probe controls although its
    policy ignores rewards, with its reward prediction against the ``control`` model's when ``reward_pred``
    (:func:`reward_prediction`'s table) is given. ``verdict``: :func:`verdicts`' table. Empty when no pair has
    dose 0."""
    tab = regret.table.set_index(["policy", "mode"])
    ad = regret.adaptation.set_index(["policy", "mode"])
    bb = best[best["model"] != "random_init"].drop_duplicates("model").set_index("model")
    v = verdict.set_index("pair")
    out = []
    zero = [bp for bp in pairs if bp.dose == 0]
    for bp in zero:
        r = v.loc[bp.label]
        parts = []
        for mode in MODES:
            rl, base, rnd = tab.loc[(bp.rl_label, mode)], tab.loc[(bp.base_label, mode)], tab.loc[("random", "reference")]
            a = ad.loc[(bp.rl_label, mode)]
            th = regret_difference(regret, (bp.rl_label, mode), ("thompson", "reference"), n_boot=n_boot, ci=ci,
                                   seed=seed)
            parts.append(
                f"{mode}: regret {_ci(rl['final_regret'], rl['ci_lo'], rl['ci_hi'])} vs its base's"
                f" {_ci(base['final_regret'], base['ci_lo'], base['ci_hi'])} (RL minus base"
                f" {_ci(r[f'rl_minus_base_{mode}'], r[f'rl_minus_base_{mode}_lo'], r[f'rl_minus_base_{mode}_hi'])},"
                f" paired) and uniform random's {_ci(rnd['final_regret'], rnd['ci_lo'], rnd['ci_hi'])} (gap closed"
                f" {_ci(rl['gap_closed'], rl['gap_lo'], rl['gap_hi'])}); adaptation"
                f" {_ci(a['improvement'], a['ci_lo'], a['ci_hi'])} ({_sign(a['ci_lo'], a['ci_hi'])});"
                f" {th['diff']:.2f} [{th['lo']:.2f}, {th['hi']:.2f}] more regret than Thompson sampling")
        adapts = [m for m in MODES if r[f"adapts_rl_{m}"]]
        rises = all(ad.loc[(bp.rl_label, m), "ci_hi"] < 0 for m in MODES)
        head = ("**yes, RL created in-context adaptation**" if r["creation"] and adapts else
                "**yes, RL created reward-dependent play (regret below uniform random and below its base's), but"
                + (" its regret per trial rises within the episode (adaptation CI below 0 in both modes)**" if rises
                   else " its regret per trial does not resolvably fall within the episode**") if r["creation"]
                else "**no, RL did not create in-context adaptation**")
        out.append(f"{bp.rl_label} (dose 0, RL variant {bp.variant}): {head}. " + "; ".join(parts) + ".")
    for group in _by_base(zero).values():
        bl = group[0].base_label
        b = bb.loc[bl]
        beats = [m for m in MODES if tab.loc[(bl, m), "gap_lo"] > 0]
        beliefs = bool(b["ci_lo"] > max(b["random_hi"], b["r2_counts"]))
        policy = ("its policy beats uniform random in " + ", ".join(beats) + " decoding, so it does not ignore"
                  " rewards after all" if beats else "its policy does not beat uniform random (as a reward-blind"
                  " policy cannot)")
        enc = ("it **already encodes beliefs** beyond the controls, though its policy ignores them"
               if beliefs and not beats else "it encodes beliefs beyond the controls" if beliefs else
               "it does **not** encode beliefs beyond the controls")
        rp = ""
        if reward_pred is not None:
            q = reward_pred.set_index("model")
            if bl in q.index and control in q.index:
                own, ctl = q.loc[bl], q.loc[control]
                rp = (f"; its reward prediction tracks the Bayes posterior"
                      f" {'beyond' if own['ci_lo'] > ctl['ci_hi'] else 'not beyond'} a {control} model's (corr"
                      f" {_ci(own['corr'], own['ci_lo'], own['ci_hi'])} vs {_ci(ctl['corr'], ctl['ci_lo'], ctl['ci_hi'])})")
        out.append(f"{bl}: {policy}; {enc} (best layer {int(b['layer'])} R^2 {_ci(b['r2'], b['ci_lo'], b['ci_hi'])}"
                   f" vs random init {_ci(b['r2_random_init'], b['random_lo'], b['random_hi'])} and token counts"
                   f" {b['r2_counts']:.2f}){rp}.")
    return out


def load_bandit_pairs(
    *, preset: str = "paper", variant: str | Sequence[str] = DEFAULT_VARIANT, seed: int = 0, smoke: bool = False,
    smoke_dir: str | Path | None = None,
) -> tuple[list[BanditPair], str]:
    """``([BanditPair, ...], source)`` for the bandit world, sorted by dose, then variant in the order requested.

    Zoo pairs of ``preset`` with any of the ``variant`` values and RL ``seed``, at every dose where they exist: a
    requested variant need not exist at every dose (``"long"`` exists only at dose 0), but outside smoke mode one
    that exists at no dose raises MissingWeightsError naming the command that builds it. Pairs that share a base
    model share the loaded base. In smoke mode, when no bandit pair matches,
    :func:`rlmeta_interp.registry.select_pairs` relaxes the preset, then the seed, then the variant (so the pairs
    may be another preset's, seed's or variant's; ``source`` says which was relaxed; one pair per (dose, variant)
    is kept); when the zoo holds no bandit organisms at all (the demo preset has none), one
    :func:`smoke_bandit_pair` stand-in, and ``source`` says so.
    """
    from ..errors import MissingWeightsError
    from ..models import load_pair
    from ..registry import select_pairs

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
    absent = [m["variant"] for m in specs.missing if "variant" in m]
    if absent and not smoke:  # a variant at no dose: the registry's own error names what builds it
        select_pairs("bandits", variant=list(dict.fromkeys(absent)), preset=preset, seed=seed)
        raise MissingWeightsError(f"No bandit pair with variant {absent} (preset {preset!r}, seed {seed}): build it"
                                  f" with `rlmeta-interp zoo build --preset {preset}`.")
    order = {v: i for i, v in enumerate(variants)}
    chosen: dict[tuple[float, str], Any] = {}
    for s in sorted(specs, key=lambda s: (s.dose if s.dose is not None else -1.0,
                                          order.get(s.extra.get("variant"), len(order)))):
        key = (float(s.dose if s.dose is not None else np.nan), str(s.extra.get("variant") or DEFAULT_VARIANT))
        if key in chosen:
            log.warning("Several bandit pairs at dose %g, variant %s (%s, %s); keeping %s.", key[0], key[1],
                        chosen[key].name, s.name, chosen[key].name)
            continue
        chosen[key] = s
    out: list[BanditPair] = []
    bases: dict[str, tuple[Any, str]] = {}  # base model name -> (loaded model, label)
    for (dose, var), s in chosen.items():
        pair = load_pair(s.name)
        if pair.base.name in bases:
            pair = replace(pair, base=bases[pair.base.name][0])
        else:
            label = f"base d{dose:g}"
            if label in {lab for _, lab in bases.values()}:  # another base at this dose (e.g. a smoke relaxation)
                label = f"base d{dose:g} ({pair.base.name})"
            bases[pair.base.name] = (pair.base, label)
        out.append(BanditPair(dose, var, pair_label(dose, var), pair, bases[pair.base.name][1]))
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
        if mpath.exists() and (folder / "model.safetensors").exists():
            old = read_json(mpath)
            if old.get("config") == manifest["config"] and \
                    old.get("files", {}).get("model.safetensors") == sha256_file(folder / "model.safetensors"):
                folders.append(folder)
                continue
        if kind == "base":
            pretrain(pcfg, folder, progress=False)
        else:
            train_rl(folders[0], rcfg, folder, resume=False, progress=False)
        manifest["files"] = {"model.safetensors": sha256_file(folder / "model.safetensors")}
        write_json_atomic(mpath, manifest)
        folders.append(folder)
    return folders[0], folders[1]
