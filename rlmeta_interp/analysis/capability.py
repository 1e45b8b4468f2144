"""The capability boundary of a base/RL pair measured by sampling (claims 3-5 in docs/claims.md).

For a base/RL pair and its world: ``n`` samples per held-out problem from each model, unbiased pass@k for
k = 1..n with CIs over problems (:func:`~.passk.passk_table`), the crossover k, per-problem coverage (both / base only / RL only /
neither), a guessing baseline, and the perplexity of RL samples under the base relative to the base's own samples
(Yue et al. 2504.13837). :func:`run_boundary` returns a :class:`BoundaryResult`; with ``out_dir`` it is saved
(atomically) keyed by a hash of the pair's weights, the world and the config, so a rerun reads it back instead of
sampling again. Tables across pairs are in :mod:`rlmeta_interp.experiments.boundary`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jaxtyping import Float

from ..config import FrozenConfig, check_range
from ..errors import EmptyInputError, InvalidConfigError
from ..io import ensure_dir, read_json, weights_id, write_json_atomic
from ..organism.worlds.base import Problem, World
from .passk import (
    coverage_summary,
    crossover_k,
    evaluate_samples,
    guessing_passk,
    pass_at_k_matrix,
    passk_table,
)
from .stats import mean_ci, mean_diff_ci

if TYPE_CHECKING:
    from ..models import Pair

log = logging.getLogger(__name__)

GUESSABLE = ("arithmetic", "planning", "composition")  # worlds with a guessing baseline


# -------------------------------------------------------------------------------------------------- guessing
def random_walk_guess_probability(prompt: str) -> float:
    """Planning: probability that a uniform random walk from the source, along the listed edges, is a shortest path.

    The guesser knows the graph but does not plan: at every node it moves to a uniformly chosen neighbour and stops
    at the target. A walk can only reach the target at step ``d`` = the shortest distance along a shortest path,
    so the probability is ``(P^d)[source, target]`` with ``P`` the random-walk transition matrix. (Exact matrix
    power; a one-liner that no graph library offers for a prompt in this format.)
    """
    from ..organism.worlds.planning import bfs_distances, parse_prompt

    adj, s, t = parse_prompt(prompt)
    d = bfs_distances(adj, s).get(t)
    if d is None:
        return 0.0
    n = len(adj)
    trans = np.zeros((n, n))
    for u, nbrs in adj.items():
        for v in nbrs:
            trans[u, v] = 1.0 / len(nbrs)
    return float(np.linalg.matrix_power(trans, d)[s, t])


def guess_probabilities_for(world: World, problems: Sequence[Problem]) -> Float[np.ndarray, " problems"]:
    """One guess's chance of being right, per problem, for a policy that does not reason.

    Arithmetic: the world's own guesser (``ArithmeticWorld.guess_probabilities``): an answer drawn from the other
    problems' answers (leave-one-out; 2510.08325's concern that pass@k at large k rewards guessing short answers),
    and under chain verification every running value guessed the same way, since the verifier checks them all.
    Planning: a random walk along the listed edges
    (:func:`random_walk_guess_probability`). Composition: the world's own guesser, which knows every atomic
    function but guesses each later step's input (``CompositionWorld.guess_probabilities``), the baseline its
    zoo gain check uses too.
    """
    if len(problems) == 0:
        raise EmptyInputError("No problems given: pass the problems the models were sampled on.")
    if world.name == "planning":
        return np.array([random_walk_guess_probability(p.prompt) for p in problems])
    if world.name in ("arithmetic", "composition"):
        return np.asarray(world.guess_probabilities(list(problems)), dtype=float)
    raise InvalidConfigError(f"No guessing baseline for world {world.name!r}: pass@k has one for"
                             f" {', '.join(GUESSABLE)}.")


# ------------------------------------------------------------------------------------------------- config/result
@dataclass(frozen=True)
class BoundaryConfig(FrozenConfig):
    """Sizes of one boundary measurement. ``likelihood_samples`` samples per problem (0: skip) are scored under the
    base model for the perplexity check."""

    n_problems: int = 64
    n_samples: int = 128
    problem_seed: int = 10_000  # held-out problems: organisms train on seeds far below this
    seed: int = 0
    temperature: float = 1.0
    likelihood_samples: int = 8
    n_boot: int = 1000
    ci: float = 0.95
    max_batch: int = 512

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_problems", "n_samples", "n_boot", "max_batch"):
            check_range(self, name, 1)
        check_range(self, "likelihood_samples", 0)
        check_range(self, "temperature", 0.0, lo_open=True)
        check_range(self, "ci", 0.0, 1.0, lo_open=True, hi_open=True)
        if self.likelihood_samples > self.n_samples:
            raise InvalidConfigError(
                f"BoundaryConfig.likelihood_samples={self.likelihood_samples} exceeds n_samples={self.n_samples}:"
                " score at most n_samples samples per problem."
            )


@dataclass(frozen=True)
class BoundaryResult:
    """Everything measured on one pair; curves, coverage and summaries are computed from it on demand."""

    pair: str
    base: str
    world: str
    dose: float | None
    variant: str | None
    rl_seed: int | None
    config: BoundaryConfig
    prompts: list[str]
    counts_base: np.ndarray
    counts_rl: np.ndarray
    guess_p: np.ndarray | None
    completions_base: list[list[str]] = field(repr=False)
    completions_rl: list[list[str]] = field(repr=False)
    nll_base: pd.DataFrame | None = field(default=None, repr=False)  # base samples scored by the base
    nll_rl: pd.DataFrame | None = field(default=None, repr=False)  # RL samples scored by the base

    @property
    def n(self) -> int:
        return self.config.n_samples

    @property
    def label(self) -> str:
        return self.variant or self.pair

    def curve(self, ks: Sequence[int] | None = None) -> pd.DataFrame:
        """pass@k of base, RL and (when known) the guesser: ``model, k, pass@k, ci_lo, ci_hi, n_problems``."""
        c = self.config
        cur = passk_table({"base": self.counts_base, "rl": self.counts_rl}, self.n, ks, n_boot=c.n_boot, ci=c.ci,
                          seed=c.seed)
        if self.guess_p is not None:
            ks_ = list(range(1, self.n + 1)) if ks is None else list(ks)
            cur = pd.concat([cur, guessing_passk(self.guess_p, ks_, n_boot=c.n_boot, ci=c.ci, seed=c.seed)],
                            ignore_index=True)
        return cur.assign(pair=self.pair, variant=self.variant, dose=self.dose, world=self.world)

    @property
    def crossover_k(self) -> int | None:
        """First k in 1..n where the base's mean pass@k reaches the RL model's (None: RL stays above up to n)."""
        ks = list(range(1, self.n + 1))
        mb = pass_at_k_matrix(self.counts_base, self.n, ks).mean(0)
        mr = pass_at_k_matrix(self.counts_rl, self.n, ks).mean(0)
        df = pd.DataFrame({"model": ["base"] * len(ks) + ["rl"] * len(ks), "k": ks + ks,
                           "pass@k": np.concatenate([mb, mr])})
        return crossover_k(df)

    def coverage(self) -> pd.DataFrame:
        """``category, problems, fraction`` over both / base_only / rl_only / neither (solved = >= 1 of n correct)."""
        return coverage_summary(self.counts_base, self.counts_rl)

    def likelihood(self) -> dict[str, float] | None:
        """Perplexity of RL samples and of base samples under the base, and their ratio with a paired CI."""
        if self.nll_base is None or self.nll_rl is None:
            return None
        from .likelihood import nll_summary, ppl_ratio

        c = self.config
        r = ppl_ratio(self.nll_rl, self.nll_base, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
        sb = nll_summary(self.nll_base, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
        sr = nll_summary(self.nll_rl, n_boot=c.n_boot, ci=c.ci, seed=c.seed)
        return {"ppl_rl_under_base": sr["ppl"], "ppl_rl_under_base_lo": sr["ppl_lo"],
                "ppl_rl_under_base_hi": sr["ppl_hi"], "ppl_base_under_base": sb["ppl"],
                "ppl_base_under_base_lo": sb["ppl_lo"], "ppl_base_under_base_hi": sb["ppl_hi"],
                "ppl_ratio": r["ratio"], "ppl_ratio_lo": r["ci_lo"], "ppl_ratio_hi": r["ci_hi"]}

    def summary(self) -> dict[str, Any]:
        """One row of :func:`boundary_table`. pass@1 and pass@n with CIs over problems, and their paired RL - base
        differences: score intervals where the per-problem values are 0/1 outcomes (pass@n: solved or not; Wilson and
        Newcombe's paired interval, :func:`~.stats.mean_ci`, :func:`~.stats.mean_diff_ci`), else a bootstrap."""
        c = self.config
        n = self.n
        pb = pass_at_k_matrix(self.counts_base, n, [1, n])
        pr = pass_at_k_matrix(self.counts_rl, n, [1, n])
        row: dict[str, Any] = {"pair": self.pair, "world": self.world, "dose": self.dose, "variant": self.variant,
                               "rl_seed": self.rl_seed, "n": n, "n_problems": len(self.prompts)}
        for j, k in ((0, "1"), (1, "n")):
            for model, mat in (("base", pb), ("rl", pr)):
                lo, hi = mean_ci(mat[:, j], n_boot=c.n_boot, ci=c.ci, seed=c.seed)
                row.update({f"pass@{k}_{model}": float(mat[:, j].mean()), f"pass@{k}_{model}_lo": lo,
                            f"pass@{k}_{model}_hi": hi})
            lo, hi = mean_diff_ci(pr[:, j], pb[:, j], n_boot=c.n_boot, ci=c.ci, seed=c.seed)
            d = float(pr[:, j].mean() - pb[:, j].mean())
            row.update({f"d_pass@{k}": d, f"d_pass@{k}_lo": lo, f"d_pass@{k}_hi": hi,
                        f"pass@{k}_change": change_direction(lo, hi)})
        row["crossover_k"] = self.crossover_k
        cov = self.coverage().set_index("category")["fraction"]
        row.update({f"frac_{k}": float(v) for k, v in cov.items()})
        if self.guess_p is not None:
            g = guess_pass_at_k_matrix(self.guess_p, [1, n])
            row.update({"guess_pass@1": float(g[:, 0].mean()), "guess_pass@n": float(g[:, 1].mean())})
        lik = self.likelihood()
        if lik is not None:
            row.update(lik)
        return row

    # ---- persistence
    def to_json(self) -> dict[str, Any]:
        def frame(df: pd.DataFrame | None) -> dict[str, list] | None:
            return None if df is None else {c: df[c].tolist() for c in ("prompt", "n_tokens", "nll_sum")}

        return {"pair": self.pair, "base": self.base, "world": self.world, "dose": self.dose, "variant": self.variant,
                "rl_seed": self.rl_seed, "config": self.config.to_dict(), "prompts": self.prompts,
                "counts_base": self.counts_base.tolist(), "counts_rl": self.counts_rl.tolist(),
                "guess_p": None if self.guess_p is None else self.guess_p.tolist(),
                "completions_base": self.completions_base, "completions_rl": self.completions_rl,
                "nll_base": frame(self.nll_base), "nll_rl": frame(self.nll_rl)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BoundaryResult:
        def frame(d: dict | None) -> pd.DataFrame | None:
            if d is None:
                return None
            df = pd.DataFrame(d)
            with np.errstate(invalid="ignore", divide="ignore"):
                df["nll"] = np.where(df["n_tokens"] > 0, df["nll_sum"] / df["n_tokens"].clip(lower=1), np.nan)
            return df

        return cls(pair=data["pair"], base=data["base"], world=data["world"], dose=data["dose"],
                   variant=data["variant"], rl_seed=data["rl_seed"], config=BoundaryConfig.from_dict(data["config"]),
                   prompts=data["prompts"], counts_base=np.asarray(data["counts_base"], dtype=np.int64),
                   counts_rl=np.asarray(data["counts_rl"], dtype=np.int64),
                   guess_p=None if data["guess_p"] is None else np.asarray(data["guess_p"], dtype=float),
                   completions_base=data["completions_base"], completions_rl=data["completions_rl"],
                   nll_base=frame(data["nll_base"]), nll_rl=frame(data["nll_rl"]))


def guess_pass_at_k_matrix(p: Float[np.ndarray, " problems"], ks: Sequence[int]) -> Float[np.ndarray, "problems ks"]:
    """``1 - (1 - p)^k`` per problem and k: the guesser's expected pass@k."""
    return 1.0 - (1.0 - np.asarray(p, float)[:, None]) ** np.asarray(ks)[None, :]


def change_direction(lo: float | None, hi: float | None) -> str:
    """``up`` / ``down`` when a difference's CI excludes 0, ``no detectable change`` when it holds 0."""
    if lo is None or hi is None or np.isnan(lo) or np.isnan(hi):
        return "undetermined"
    return "up" if lo > 0 else "down" if hi < 0 else "no detectable change"


# --------------------------------------------------------------------------------------------------------- run
def _key(pair: Pair, world: World, config: BoundaryConfig) -> str:
    """The saved result's key: the pair's weights, the world and config, and the code that scores and summarises
    the samples (this module and what it imports, and the world's module), so a result that other code computed
    (e.g. an earlier guessing baseline) is computed again from the cached samples instead of read back."""
    from ..codesource import code_digest

    h = hashlib.sha256()
    wcfg = world.config.to_dict() if hasattr(world, "config") else {}
    world_module = type(world).__module__
    code = code_digest(__name__, *((world_module,) if world_module.startswith("rlmeta_interp.") else ()))
    for part in (code, pair.name, pair.base.name, pair.rl.name, weights_id(pair.base), weights_id(pair.rl), world.name,
                 json.dumps(wcfg, sort_keys=True), json.dumps(config.to_dict(), sort_keys=True)):
        h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def run_boundary(pair: Pair, config: BoundaryConfig = BoundaryConfig(), world: str | World | None = None, *,
                 out_dir: str | Path | None = None, progress: bool = False) -> BoundaryResult:
    """Sample, score and summarise the capability boundary of ``pair`` (a :class:`rlmeta_interp.models.Pair`).

    ``world``: a world object, a world name, or None for the pair's own RL training distribution (rebuilt from the
    zoo manifest by :func:`rlmeta_interp.organism.trained_world.world_for`); worlds other than arithmetic and planning get
    no guessing baseline. With ``out_dir``, the result is saved to
    ``<out_dir>/<pair>/boundary_<key>.json`` and read back by a later call with the same pair weights, world and
    config; the samples themselves are cached per chunk under ``<out_dir>/<pair>/samples/``, so a killed run
    resumes where it stopped.
    """
    from .likelihood import samples_nll
    from ..organism.trained_world import world_for
    from ..sampling import sample_completions

    w = world if world is not None and not isinstance(world, str) else world_for(pair, world)
    if w.name == "bandits":
        raise InvalidConfigError("The boundary test needs a single-turn world (arithmetic, planning); bandits are"
                                 " multi-turn: use analysis.icrl regret curves instead.")
    path = sample_cache = None
    if out_dir is not None:
        path = Path(out_dir) / pair.name.replace("/", "_") / f"boundary_{_key(pair, w, config)}.json"
        sample_cache = path.parent / "samples"
        if path.exists():
            log.info("run_boundary: reading %s", path)
            return BoundaryResult.from_json(read_json(path, rebuild="rerun run_boundary with the same out_dir",
                                                      required=True))
    c = config
    problems = w.sample_held_out(c.n_problems, seed=c.problem_seed)
    prompts = [p.prompt for p in problems]
    max_new = int(w.max_completion_chars()) + 2
    comps: dict[str, list[list[str]]] = {}
    for role in ("base", "rl"):
        m = getattr(pair, role)
        log.info("run_boundary: %s, sampling %d x %d from %s", pair.name, len(prompts), c.n_samples, role)
        comps[role] = sample_completions(m.hf, m.tokenizer, prompts, n=c.n_samples, max_new_tokens=max_new,
                                         temperature=c.temperature, seed=c.seed, max_batch=c.max_batch,
                                         progress=progress, cache_dir=sample_cache)
    counts = {role: evaluate_samples(w, problems, comps[role]) for role in comps}
    nll: dict[str, pd.DataFrame | None] = {"base": None, "rl": None}
    if c.likelihood_samples:
        for role in ("base", "rl"):
            sub = [row[: c.likelihood_samples] for row in comps[role]]
            nll[role] = samples_nll(pair.base, prompts, sub, add_eos=True)
    spec = getattr(pair, "spec", None)
    extra = getattr(spec, "extra", None) or {}
    res = BoundaryResult(
        pair=pair.name, base=pair.base.name, world=w.name, dose=getattr(pair, "dose", None),
        variant=extra.get("variant"), rl_seed=extra.get("seed"), config=c, prompts=prompts,
        counts_base=counts["base"], counts_rl=counts["rl"],
        guess_p=guess_probabilities_for(w, problems) if w.name in GUESSABLE else None,
        completions_base=comps["base"], completions_rl=comps["rl"], nll_base=nll["base"], nll_rl=nll["rl"],
    )
    if path is not None:
        ensure_dir(path.parent)
        write_json_atomic(path, res.to_json(), checksum=True)
    return res
