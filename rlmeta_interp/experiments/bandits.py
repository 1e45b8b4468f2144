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
    from ..analysis.icrl import adaptation, reference_choices, regret_curves, regret_table

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
    key = {k: f"{k[0]} [{k[1]}]" for k in runs}
    table = regret_table({key[k]: (c, means) for k, c in runs.items()}, random=key[("random", "reference")],
                         optimal=key[("thompson", "reference")], invalid=invalid, n_boot=n_boot, ci=ci, seed=seed)
    back = {v: k for k, v in key.items()}
    table["invalid_rate"] = [float((runs[back[p]] < 0).mean()) for p in table["policy"]]
    table.insert(1, "mode", [back[p][1] for p in table["policy"]])
    table["policy"] = [back[p][0] for p in table["policy"]]
    curves, adapt = [], []
    for (name, mode), c in runs.items():
        curves.append(regret_curves(c, means, policy=name, invalid=invalid, n_boot=n_boot, ci=ci, seed=seed)
                      .assign(mode=mode))
        adapt.append({"policy": name, "mode": mode, **adaptation(c, means, invalid=invalid, n_boot=n_boot, ci=ci,
                                                                  seed=seed)})
    return RegretResult(curves=pd.concat(curves, ignore_index=True), table=table, adaptation=pd.DataFrame(adapt))


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


def verdicts(regret: RegretResult, best: pd.DataFrame, labels: Mapping[float, tuple[str, str]]) -> pd.DataFrame:
    """Per dose: does each model adapt within the episode, does each encode beliefs beyond the controls, and what
    that says about activation vs creation.

    ``labels``: ``{dose: (base policy name, RL policy name)}`` as used in :func:`regret_experiment`; ``best``:
    :func:`best_layers` rows with a ``dose`` column and models named ``"base"`` / ``"RL"``. A model *adapts* in a
    decoding mode when the CI of its adaptation lies above 0; it *encodes beliefs* when the CI of its best-layer
    R^2 lies above both the random-init CI and the token-count R^2. Columns: ``dose``, ``adapts_<who>_<mode>``,
    ``beliefs_<who>`` (who in base, rl), ``behaviour``, ``probes`` (sentences).
    """
    ad = regret.adaptation.set_index(["policy", "mode"])
    bb = best.set_index(["dose", "model"])
    rows = []
    for dose, (base_name, rl_name) in labels.items():
        row: dict[str, Any] = {"dose": dose}
        for who, name in (("base", base_name), ("rl", rl_name)):
            for mode in MODES:
                row[f"adapts_{who}_{mode}"] = bool(ad.loc[(name, mode), "ci_lo"] > 0)
            b = bb.loc[(dose, "base" if who == "base" else "RL")]
            row[f"beliefs_{who}"] = bool(b["ci_lo"] > max(b["random_hi"], b["r2_counts"]))
        rl_new = [m for m in MODES if row[f"adapts_rl_{m}"] and not row[f"adapts_base_{m}"]]
        base_had = [m for m in MODES if row[f"adapts_base_{m}"]]
        row["behaviour"] = (
            f"RL adapts within the episode where the base does not ({', '.join(rl_new)} decoding): in-context RL"
            " appears after RL" if rl_new else
            f"the base already adapts ({', '.join(base_had)} decoding): in-context learning pre-existed RL"
            if base_had else "neither model adapts within the episode: the claim is not reproduced at this dose")
        row["probes"] = (
            "activation: the base already encodes beliefs beyond the controls" if row["beliefs_base"] else
            "creation-like: beliefs beyond the controls appear only after RL" if row["beliefs_rl"] else
            "inconclusive: neither model encodes beliefs beyond the controls")
        rows.append(row)
    return pd.DataFrame(rows)


def load_bandit_pairs(
    *, preset: str = "paper", variant: str = "correct", seed: int = 0, smoke: bool = False,
    smoke_dir: str | Path | None = None,
) -> tuple[list[tuple[float, Any]], str]:
    """``([(dose, Pair), ...] sorted by dose, source)`` for the bandit world.

    Zoo pairs of ``preset`` with this ``variant`` and RL ``seed``, at every dose. In smoke mode, when no bandit pair
    matches, :func:`rlmeta_interp.registry.select_pairs` relaxes the preset, then the seed, then the variant (so
    the pairs may be another preset's, seed's or variant's; ``source`` says which was relaxed); when the zoo holds
    no bandit organisms at all (the demo preset has none), one :func:`smoke_bandit_pair` stand-in, and ``source``
    says so. Outside smoke mode missing pairs raise MissingWeightsError naming the build command.
    """
    from ..errors import MissingWeightsError
    from ..models import load_pair
    from ..registry import select_pairs

    try:
        specs = select_pairs("bandits", variant=variant, preset=preset, seed=seed, smoke=smoke)
        source = specs.source
    except MissingWeightsError:
        if not smoke:
            raise
        base, rl = smoke_bandit_pair(smoke_dir, seed=seed)
        pair = load_pair((base, rl))
        return [(float(pair.base.manifest["dose"]), pair)], "tiny smoke stand-in (no bandit organisms in this zoo)"
    pairs = [(float(s.dose if s.dose is not None else np.nan), load_pair(s.name)) for s in specs]
    return sorted(pairs, key=lambda x: x[0]), source


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
