"""In-context RL on bandits measured on models (claim 6 in docs/claims.md): regret and belief-state probes.

- :func:`model_choices`: a model's arm choices on given bandits (sampled or greedy), from the world's own
  multi-turn rollout (the environment writes every reward token).
- :func:`regret_experiment` / :func:`regret_from_choices`: per-trial and cumulative regret curves, final regret
  with the share of the random-to-Thompson gap closed, and within-episode adaptation, for every model in both
  decoding modes, beside Thompson sampling and uniform random run on the same bandits;
  :func:`regret_difference`: a paired CI of two policies' final regret.
- :func:`belief_episodes` / :func:`belief_probe_layers` / :func:`best_layers`: ridge probes of the row-centred Bayes
  posterior means of the arms, read at every reward token, per layer, in each model beside a random-init model and
  a bag-of-token-counts baseline (probe R^2 alone is not evidence: a random network can decode centred values well).
- :func:`reward_prediction`: how well each model's next-token probabilities track the Bayes posterior.
- :func:`rollout_kl`: KL(policy || reference) per arm token on the policy's own episodes (teacher-forced
  :func:`episode_logprobs`), the bandit form of the likelihood indicator's KL.

The zoo's bandit pairs, the verdicts and the smoke stand-in are in :mod:`rlmeta_interp.experiments.bandits`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float, Int

from ..errors import EmptyInputError, InvalidConfigError
from ..hooks import hook_name
from ..organism.worlds.base import World
from ..views import hf_view
from .stats import bootstrap_pooled_ci

if TYPE_CHECKING:
    from ..models import LoadedModel

Mode = Literal["sampled", "greedy"]
MODES: tuple[Mode, ...] = ("sampled", "greedy")

# --------------------------------------------------------------------------------------------------------- regret
def model_choices(
    model: Any,
    world: World,
    problems: Sequence[Any],
    *,
    mode: Mode = "sampled",
    tokenizer: Any | None = None,
    seed: int = 0,
) -> tuple[Int[np.ndarray, "episodes T"], Float[np.ndarray, "episodes K"]]:
    """``(choices, means)``: the arm the model pulled at every trial of one episode per bandit (``-1`` where it
    wrote a non-arm token) and each bandit's hidden means. ``mode``: ``"sampled"`` (temperature 1) or
    ``"greedy"``; they disagree for models that imitate a mixture of behaviour policies (docs/claims.md, "Bandit measurement traps")."""
    from ..organism.evaluate import rollout_bandits

    if mode not in MODES:
        raise InvalidConfigError(f"mode={mode!r}; choose 'sampled' or 'greedy'.")
    if len(problems) == 0:
        raise EmptyInputError("No bandits given: pass world.sample_held_out(n, seed=...).")
    hf, tok = hf_view(model, tokenizer, require_tokenizer=True)
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
    world: World,
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
    from .icrl import reference_choices

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
    from .icrl import (
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
    from .stats import paired_diff_ci

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


@torch.no_grad()
def episode_logprobs(model: Any, tokens: Int[torch.Tensor, "episodes steps"], *, tokenizer: Any | None = None,
                     batch_size: int = 64) -> Float[torch.Tensor, "episodes steps"]:
    """Teacher-forced log-probability of every token of bandit episodes (``BanditRollouts.tokens``, after BOS)
    under ``model``."""
    hf, tok = hf_view(model, tokenizer, require_tokenizer=True)
    if tok.bos_token_id is None:
        raise InvalidConfigError("episode_logprobs needs a tokenizer with a BOS token (bandit episodes start right"
                                 " after BOS): pass the organism's own tokenizer.")
    device = next(hf.parameters()).device
    out = []
    for i in range(0, len(tokens), batch_size):
        t = tokens[i: i + batch_size]
        ids = torch.cat([torch.full((len(t), 1), tok.bos_token_id, dtype=torch.long), t], 1).to(device)
        logp = torch.log_softmax(hf(input_ids=ids).logits[:, :-1].float(), -1).cpu()
        out.append(logp.gather(2, t.unsqueeze(2)).squeeze(2))
    return torch.cat(out)


def rollout_kl(policy: Any, reference: Any, world: World, problems: Sequence[Any], *, seed: int = 0,
               n_boot: int = 1000, ci: float = 0.95) -> dict[str, float]:
    """KL(policy || reference) per arm token on the policy's own sampled episodes (one per bandit): the mean of
    ``log p_policy - log p_reference`` over the tokens the policy wrote (the environment's reward tokens are not
    scored), with a bootstrap CI over episodes. A reference that already plays as the policy does scores 0."""
    from ..organism.evaluate import rollout_bandits
    from .ratios import bootstrap_ratio_ci

    if len(problems) == 0:
        raise EmptyInputError("No bandits given: pass world.sample_held_out(n, seed=...).")
    hf, tok = hf_view(policy, None, require_tokenizer=True)
    roll = rollout_bandits(hf, tok, world, list(problems), seed=seed)  # type: ignore[arg-type]
    mask = roll.model_mask.float()
    # the sampler recorded the policy's log-probability of every token it wrote (temperature 1): only the
    # reference needs a forward pass
    d = ((roll.logprobs - episode_logprobs(reference, roll.tokens)) * mask).sum(1).numpy()
    n = mask.sum(1).numpy()
    lo, hi = bootstrap_ratio_ci(d, n, n_boot=n_boot, ci=ci, seed=seed)
    return {"kl": float(d.sum() / n.sum()), "ci_lo": lo, "ci_hi": hi, "n_units": len(d), "n_tokens": int(n.sum())}


# -------------------------------------------------------------------------------------------------- belief probes
def belief_episodes(
    world: World, n_episodes: int, *, seed: int = 0, policy: Literal["thompson", "random"] = "thompson"
) -> tuple[list[str], Float[np.ndarray, "episodes T K"]]:
    """Episode texts written by a reference ``policy`` on fresh bandits, and the Beta(1,1) posterior mean of
    every arm after each pull (the belief a Bayes-optimal learner holds at that pull's reward token)."""
    from ..organism.worlds.bandits import posterior_means, render_episode, simulate

    if n_episodes < 1:
        raise InvalidConfigError(f"n_episodes must be >= 1, got {n_episodes}.")
    cfg = world.config
    rng = np.random.default_rng([seed, 0xB311EF])
    texts, targets = [], []
    for p in world.sample_held_out(n_episodes, seed=seed + 40_000):
        pulls = simulate(policy, np.asarray(p.meta["means"]), cfg.horizon, rng)
        texts.append(render_episode(pulls, cfg))
        targets.append(posterior_means(pulls, cfg.n_arms)[1:])
    return texts, np.stack(targets)


def reward_positions(model: LoadedModel, horizon: int) -> Int[torch.Tensor, " T"]:
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
def next_token_probs(model: LoadedModel, texts: Sequence[str], chars: str) -> Float[np.ndarray, "texts pos chars"]:
    """At every position of every text (right-padded batch), the model's next-token distribution restricted to the
    one-character tokens ``chars`` and renormalised over them."""
    vocab = model.tokenizer.get_vocab()
    ids, mask = model.to_tokens(list(texts))
    logits = model.hf(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float().cpu()
    return torch.softmax(logits[..., [vocab[c] for c in chars]], dim=-1).double().numpy()


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
    fake (docs/claims.md, "Bandit measurement traps": 0.99 for a dose-0.5 pilot base; RL without KL dropped it to
    0.07). Columns ``model, corr, ci_lo, ci_hi`` (bootstrap over episodes), ``mae`` (mean absolute error),
    ``n_pulls``.
    """
    from ..organism.worlds.bandits import REWARD_CHARS, BanditConfig, parse_episode, posterior_means

    if not models or len(texts) == 0:
        raise EmptyInputError("Pass {name: LoadedModel} and at least one episode text.")
    pulls = [parse_episode(t, BanditConfig(n_arms=n_arms, horizon=max(1, len(t) // 2))) for t in texts]
    if any(p is None or not p for p in pulls):
        raise InvalidConfigError("Every text must be a well-formed episode ('a1b0...') over the first n_arms arms.")
    bayes = [np.array([posterior_means(p, n_arms)[t][a] for t, (a, _) in enumerate(p)]) for p in pulls]
    rows = []
    for name, model in models.items():
        p01 = next_token_probs(model, texts, REWARD_CHARS)[..., 1]
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


def random_init_control(model: LoadedModel, seed: int) -> LoadedModel:
    """A LoadedModel with the same architecture and tokenizer but freshly initialised weights (the probe control).
    ``seed`` should differ from the organism's own initialisation seed."""
    from .belief_probes import random_init_like

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
    :func:`rlmeta_interp.analysis.belief_probes.belief_probe_report`'s table (``model, layer, r2, ci_lo, ci_hi,
    r2_shuffled, r2_minus_random_init, r2_minus_counts, n``). Rows of one episode are correlated, so folds are
    grouped by episode and the bootstrap resamples episodes: R^2 is an out-of-episode estimate.
    """
    from ..activations import harvest
    from .belief_probes import RidgeProbeConfig, belief_probe_report

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
        acts[name] = {layer: a[h][:, pos].reshape(-1, a[h].shape[-1]) for layer, h in zip(layers, hooks, strict=True)}
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
