"""Reward reliance on bandits: does a model's next choice follow which arm earned which reward?

Probes and reward prediction ask what a model knows; this asks whether its choices use it. Each episode (written by
a reference learner, e.g. :func:`~rlmeta_interp.analysis.incontext.belief_episodes`) is paired with a copy whose
reward tokens are permuted within the episode (:func:`permuted_rewards`). The permutation keeps everything a player
of a learner's *moves* can read (arms, their order, how many rewards) and changes only the link from arms to rewards,
which is what the shuffled-reward corpus removes and what a value learner uses.

- :func:`reliance_episodes`: per model and episode, the summed readings over the choices the permutation changed
  (the unit a paired bootstrap resamples);
- :func:`reward_reliance`: the means over choices with bootstrap CIs over episodes, beside Thompson sampling's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float

from ..errors import EmptyInputError, InvalidConfigError
from .incontext import next_token_probs

THOMPSON = "thompson"  # the reference learner's row


def permuted_rewards(text: str, n_arms: int, rng: np.random.Generator, tries: int = 20) -> str | None:
    """``text`` with its reward tokens permuted within the episode (arms, their order and the number of rewards
    kept: the shuffled-reward corpus's own manipulation), or None when no permutation in ``tries`` changes them."""
    from ..organism.worlds.bandits import BanditConfig, parse_episode, render_episode

    cfg = BanditConfig(n_arms=n_arms, horizon=max(1, len(text) // 2))
    pulls = parse_episode(text, cfg)
    if not pulls:
        raise InvalidConfigError(f"Not a well-formed episode over the first {n_arms} arms: {text[:20]!r}...")
    rewards = np.array([r for _, r in pulls])
    for _ in range(tries):
        new = rng.permutation(rewards)
        if (new != rewards).any():
            return render_episode([(a, int(r)) for (a, _), r in zip(pulls, new, strict=True)], cfg)
    return None


def _thompson_probs(pulls: Sequence[tuple[int, int]], n_arms: int, rng: np.random.Generator,
                    draws: int) -> Float[np.ndarray, "T K"]:
    """Thompson sampling's probability of choosing each arm after each prefix ``pulls[:t+1]`` (Monte Carlo). Hand-
    written: no library gives Thompson sampling's choice probabilities for a given history."""
    succ, fail, out = np.zeros(n_arms), np.zeros(n_arms), []
    for a, r in pulls:
        succ[a] += r
        fail[a] += 1 - r
        picks = np.argmax(rng.beta(succ + 1, fail + 1, size=(draws, n_arms)), axis=1)
        out.append(np.bincount(picks, minlength=n_arms) / draws)
    return np.stack(out)


@torch.inference_mode()
def reliance_episodes(
    models: Mapping[str, Any],
    texts: Sequence[str],
    *,
    n_arms: int,
    seed: int = 0,
    thompson_draws: int = 20_000,
) -> pd.DataFrame:
    """Per model and episode, two readings of the next-arm distribution (restricted to arm tokens) under the true
    history (p) and the permuted one (q), summed over the choices that follow a prefix the permutation changed:

    - ``directed``: sum over arms of (p - q) times the change in that arm's Beta(1,1) posterior mean: positive when
      the model moves towards the arms the true history favours, as a value learner does; about 0 for a policy that
      ignores the link, and for a random network, which moves with every token but in no consistent direction;
    - ``tv``: the total-variation distance between p and q (any dependence, directed or not).

    Columns ``model, episode, directed, tv, n_choices``; episodes whose rewards no permutation changes are dropped
    (``episode`` indexes the kept ones, the same for every model). A :data:`THOMPSON` model gives a Bayes learner's
    readings on the same histories (choice probabilities by Monte Carlo with ``thompson_draws``)."""
    from ..organism.worlds.bandits import ARM_LETTERS, BanditConfig, parse_episode, posterior_means

    if not models or len(texts) == 0:
        raise EmptyInputError("Pass {name: LoadedModel} and at least one episode text.")
    if THOMPSON in models:
        raise InvalidConfigError(f"{THOMPSON!r} names the reference learner's rows: give that model another name.")
    rng = np.random.default_rng([seed, 0x5E1F])
    pairs = [(t, c) for t in texts if (c := permuted_rewards(t, n_arms, rng)) is not None]
    if not pairs:
        raise EmptyInputError("No episode has rewards a permutation can change (every reward is the same): pass"
                              " longer episodes or more of them.")
    cfg = BanditConfig(n_arms=n_arms, horizon=max(1, max(len(t) for t in texts) // 2))
    true_p = [parse_episode(t, cfg) for t, _ in pairs]
    perm_p = [parse_episode(c, cfg) for _, c in pairs]
    # choice t+1 follows prefix pulls[:t+1]; it is read only where the permutation changed that prefix
    changed = [np.cumsum([r != s for (_, r), (_, s) in zip(a, b, strict=True)])[:-1] > 0
               for a, b in zip(true_p, perm_p, strict=True)]
    dmean = [(posterior_means(a, n_arms) - posterior_means(b, n_arms))[1:-1]
             for a, b in zip(true_p, perm_p, strict=True)]
    n = [int(m.sum()) for m in changed]

    def rows(name: str, p: list[np.ndarray], q: list[np.ndarray]) -> list[dict[str, Any]]:
        return [{"model": name, "episode": e, "directed": float(((pe - qe) * de).sum(1)[m].sum()),
                 "tv": float(0.5 * np.abs(pe - qe).sum(1)[m].sum()), "n_choices": ne}
                for e, (pe, qe, de, m, ne) in enumerate(zip(p, q, dmean, changed, n, strict=True))]

    out = []
    for name, model in models.items():
        off = 1 if model.prepend_bos else 0
        probs = []
        for which in (0, 1):
            arm = next_token_probs(model, [pr[which] for pr in pairs], ARM_LETTERS[:n_arms])
            # the logits at pull t's reward token choose pull t+1's arm
            probs.append([arm[e, off + 2 * np.arange(len(true_p[e]) - 1) + 1] for e in range(len(pairs))])
        out += rows(name, probs[0], probs[1])
    th = [[_thompson_probs(pl, n_arms, rng, thompson_draws)[:-1] for pl in ps] for ps in (true_p, perm_p)]
    out += rows(THOMPSON, th[0], th[1])
    return pd.DataFrame(out)


def reward_reliance(
    models: Mapping[str, Any],
    texts: Sequence[str],
    *,
    n_arms: int,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    thompson_draws: int = 20_000,
) -> pd.DataFrame:
    """:func:`reliance_episodes` read per model: ``directed`` and ``tv`` as means over the changed choices (ratio of
    sums, CI by bootstrap over episodes), beside a :data:`THOMPSON` row, the scale to read the models against.
    Columns ``model, directed, directed_lo, directed_hi, tv, tv_lo, tv_hi, n_choices, n_episodes``."""
    from .ratios import bootstrap_ratio_ci

    per = reliance_episodes(models, texts, n_arms=n_arms, seed=seed, thompson_draws=thompson_draws)
    out = []
    for name, g in per.groupby("model", sort=False):
        g = g[g["n_choices"] > 0]  # an episode whose only changed reward is its last has no choice to read
        n = g["n_choices"].to_numpy(float)
        row: dict[str, Any] = {"model": name}
        for key in ("directed", "tv"):
            v = g[key].to_numpy(float)
            lo, hi = bootstrap_ratio_ci(v, n, n_boot=n_boot, ci=ci, seed=seed)
            row |= {key: float(v.sum() / n.sum()), f"{key}_lo": lo, f"{key}_hi": hi}
        out.append(row | {"n_choices": int(n.sum()), "n_episodes": len(g)})
    return pd.DataFrame(out)
