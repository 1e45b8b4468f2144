"""Evaluation of organisms: pass@k for single-turn worlds, regret for bandits.

Single-turn sampling goes through :func:`rlmeta_interp.sampling.sample_completions` (HF generate
with a KV cache). Bandit episodes are multi-turn (the environment writes every reward token), so
they run through :func:`rollout_bandits`, a KV-cached loop that the RL rollout shares.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..analysis.passk import pass_at_k
from ..errors import EmptyInputError, InvalidConfigError
from ..sampling import sample_completions
from .worlds.bandits import BanditWorld, arms_of, regret, simulate
from .worlds.base import Problem, World

log = logging.getLogger(__name__)


def pass_k_grid(n: int) -> list[int]:
    """1, 2, 4, ... up to n (n included)."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def evaluate_single_turn(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    world: World,
    problems: list[Problem],
    *,
    n: int = 64,
    seed: int = 0,
    max_new_tokens: int | None = None,
    temperature: float = 1.0,
    max_batch: int = 512,
) -> dict[str, float | dict]:
    """Unbiased pass@k (k = 1, 2, 4, ..., n) from ``n`` samples per problem, greedy accuracy, format shares."""
    if not problems:
        raise EmptyInputError("evaluate_single_turn needs at least one problem.")
    if max_new_tokens is None:
        max_new_tokens = world.max_completion_chars()  # type: ignore[attr-defined]
    prompts = [p.prompt for p in problems]
    samples = sample_completions(model, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens,
                                 temperature=temperature, seed=seed, max_batch=max_batch)
    greedy = sample_completions(model, tokenizer, prompts, n=1, max_new_tokens=max_new_tokens, greedy=True,
                                max_batch=max_batch)
    correct = np.array([[world.reward(p, c) >= 1.0 for c in row] for p, row in zip(problems, samples, strict=True)])
    c = correct.sum(1)
    out: dict[str, float | dict] = {f"pass@{k}": float(np.mean([pass_at_k(n, int(ci), k) for ci in c]))
                                    for k in pass_k_grid(n)}
    out["greedy_acc"] = float(np.mean([world.reward(p, g[0]) >= 1.0 for p, g in zip(problems, greedy, strict=True)]))
    fmt_of = getattr(world, "format_of", None)
    if fmt_of is not None:
        counts = Counter(fmt_of(s) for row in samples for s in row)
        total = sum(counts.values())
        out["format_shares"] = {k: v / total for k, v in sorted(counts.items())}
        fmt_correct: dict[str, list[bool]] = {}
        for row, crow in zip(samples, correct, strict=True):
            for s, ok in zip(row, crow, strict=True):
                fmt_correct.setdefault(fmt_of(s), []).append(bool(ok))
        out["accuracy_by_format"] = {k: float(np.mean(v)) for k, v in sorted(fmt_correct.items())}
    out["n_samples"] = n
    out["n_problems"] = len(problems)
    # per-problem correct counts (of n samples), in problem order: paired base-vs-RL comparisons need them
    out["correct_counts"] = [int(x) for x in c]
    return out


@dataclass
class BanditRollouts:
    """``tokens``: ``[episodes, 2T]`` arm/reward token ids (after BOS); ``model_mask`` 1 on tokens the model wrote."""

    tokens: Int[Tensor, "episodes steps"]
    model_mask: Int[Tensor, "episodes steps"]
    logprobs: Float[Tensor, "episodes steps"]
    arms: Int[Tensor, "episodes pulls"]  # arm index, -1 for an invalid (non-arm) token
    rewards: Int[Tensor, "episodes pulls"]
    problem_index: list[int]

    def returns(self) -> Float[Tensor, " episodes"]:
        return self.rewards.float().mean(1)


@torch.no_grad()
def rollout_bandits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    world: BanditWorld,
    problems: list[Problem],
    *,
    per_problem: int = 1,
    greedy: bool = False,
    temperature: float = 1.0,
    seed: int = 0,
) -> BanditRollouts:
    """Run ``per_problem`` episodes on every bandit: the model picks a token, the environment writes the reward.

    The model samples from its full vocabulary; a non-arm token counts as a pull that earns 0 and is
    kept in the sequence (so RL can learn not to write it). KV cache: two tokens are fed per pull.
    """
    if not problems:
        raise EmptyInputError("rollout_bandits needs at least one bandit.")
    if not greedy and temperature <= 0:
        raise InvalidConfigError(f"temperature must be > 0 for sampling, got {temperature}; use greedy=True.")
    cfg = world.config
    vocab = tokenizer.get_vocab()
    arm_ids = torch.tensor([vocab[a] for a in arms_of(cfg)])
    rew_ids = torch.tensor([vocab["0"], vocab["1"]])
    index = [i for i in range(len(problems)) for _ in range(per_problem)]
    means = torch.tensor([problems[i].meta["means"] for i in index], dtype=torch.float64)
    b = len(index)
    gen = torch.Generator().manual_seed(seed)
    env = torch.Generator().manual_seed(seed + 7919)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    ids = torch.full((b, 1), tokenizer.bos_token_id, dtype=torch.long, device=device)
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    logits = out.logits[:, -1].float().cpu()
    tokens = torch.zeros((b, 2 * cfg.horizon), dtype=torch.long)
    logprobs = torch.zeros((b, 2 * cfg.horizon))
    arms = torch.full((b, cfg.horizon), -1, dtype=torch.long)
    rewards = torch.zeros((b, cfg.horizon), dtype=torch.long)
    for t in range(cfg.horizon):
        logp = torch.log_softmax(logits, -1)
        if greedy:
            tok = logp.argmax(-1)
        else:
            tok = torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen).squeeze(1)
        is_arm = tok.unsqueeze(1) == arm_ids.unsqueeze(0)  # [b, K]
        arm = torch.where(is_arm.any(1), is_arm.float().argmax(1), torch.full_like(tok, -1))
        p = torch.where(arm >= 0, means.gather(1, arm.clamp(min=0).unsqueeze(1)).squeeze(1), torch.zeros(b, dtype=torch.float64))
        r = (torch.rand(b, generator=env, dtype=torch.float64) < p).long()
        tokens[:, 2 * t], tokens[:, 2 * t + 1] = tok, rew_ids[r]
        logprobs[:, 2 * t] = logp.gather(1, tok.unsqueeze(1)).squeeze(1)
        arms[:, t], rewards[:, t] = arm, r
        out = model(input_ids=tokens[:, 2 * t : 2 * t + 2].to(device), past_key_values=past, use_cache=True)
        past = out.past_key_values
        logits = out.logits[:, -1].float().cpu()
    if was_training:
        model.train()
    mask = torch.zeros_like(tokens)
    mask[:, 0::2] = 1
    return BanditRollouts(tokens=tokens, model_mask=mask, logprobs=logprobs, arms=arms, rewards=rewards,
                          problem_index=index)


def rollout_regret(roll: BanditRollouts, problems: list[Problem]) -> np.ndarray:
    """Expected regret per episode; an invalid pull costs the best arm's mean."""
    out = []
    for e, i in enumerate(roll.problem_index):
        m = np.asarray(problems[i].meta["means"])
        a = roll.arms[e].numpy()
        out.append(float(np.sum(m.max() - np.where(a >= 0, m[np.clip(a, 0, None)], 0.0))))
    return np.asarray(out)


def reference_regret(world: BanditWorld, problems: list[Problem], policy: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng([seed, 0x5EF])
    return np.asarray([regret(simulate(policy, np.asarray(p.meta["means"]), world.config.horizon, rng),
                              np.asarray(p.meta["means"])) for p in problems])


def evaluate_bandits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    world: BanditWorld,
    problems: list[Problem],
    *,
    seed: int = 0,
) -> dict[str, float | list[float]]:
    """Cumulative regret per episode, sampled and greedy, with Thompson and uniform-random references."""
    sampled = rollout_bandits(model, tokenizer, world, problems, seed=seed)
    greedy = rollout_bandits(model, tokenizer, world, problems, greedy=True, seed=seed)
    rs, rg = rollout_regret(sampled, problems), rollout_regret(greedy, problems)
    ts, rnd = reference_regret(world, problems, "thompson", seed), reference_regret(world, problems, "random", seed)
    se = lambda x: float(np.std(x, ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")  # noqa: E731
    return {
        "regret_sampled": float(rs.mean()), "regret_sampled_se": se(rs),
        "regret_greedy": float(rg.mean()), "regret_greedy_se": se(rg),
        "regret_thompson": float(ts.mean()), "regret_thompson_se": se(ts),
        "regret_random": float(rnd.mean()), "regret_random_se": se(rnd),
        "regret_ratio_sampled_vs_thompson": float(rs.mean() / max(ts.mean(), 1e-9)),
        "regret_ratio_greedy_vs_thompson": float(rg.mean() / max(ts.mean(), 1e-9)),
        "invalid_action_rate": float((sampled.arms < 0).float().mean()),
        "mean_return_sampled": float(sampled.returns().mean()),
        "n_bandits": len(problems),
        # per-bandit sampled regret, in problem order: paired base-vs-RL comparisons need it
        "regret_sampled_per_bandit": [round(float(x), 4) for x in rs],
    }
