"""Tests of analysis.capability: guessing baselines, the boundary config, and run_boundary on tiny real pairs."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from rlmeta_interp import load_pair
from rlmeta_interp.analysis import capability as cap
from rlmeta_interp.analysis.passk import guess_probabilities
from rlmeta_interp.config import FrozenConfig
from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.experiments import boundary as bd
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, ArithmeticWorld
from rlmeta_interp.organism.worlds.base import Problem, World
from rlmeta_interp.organism.worlds.planning import PlanningConfig, PlanningWorld, parse_prompt

from ..conftest import save_noisy_twin, save_tiny_pair


@dataclass(frozen=True)
class DigitConfig(FrozenConfig):
    leak_free: bool = False  # every world config carries the flag; this world has no hash splits


class DigitWorld(World):
    """A verifier random models pass sometimes: the completion starts with a digit (gives non-trivial counts)."""

    name = "digits"
    config = DigitConfig()

    def sample(self, n, seed, **difficulty):
        rng = np.random.default_rng(seed)
        return [Problem(prompt=f"{int(rng.integers(10, 99))}+{int(rng.integers(1, 9))}=", answer="0") for _ in range(n)]

    def reward(self, problem, completion):
        return 1.0 if completion[:1].isdigit() else 0.0

    def max_completion_chars(self):
        return 3


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory):
    return load_pair(save_tiny_pair(tmp_path_factory.mktemp("bd_pair"), scale=0.5, seed=3))


def _walk_enumeration(prompt):
    """Independent reference: enumerate every walk from the source that stops at the target (up to its distance)."""
    adj, s, t = parse_prompt(prompt)
    total = 0.0
    for d in range(1, 8):
        for path in itertools.product(range(len(adj)), repeat=d):
            nodes = (s, *path)
            if any(b not in adj[a] for a, b in zip(nodes, nodes[1:], strict=False)) or t in nodes[1:-1] or nodes[-1] != t:
                continue
            total += float(np.prod([1.0 / len(adj[a]) for a in nodes[:-1]]))
        if total:
            return total  # shorter walks reach t first; longer ones are not shortest paths
    return 0.0


def test_random_walk_guess_matches_enumeration_and_hand_value():
    # path a-b-c: from a the walk must go to b (p=1), then to c (p=1/2)
    assert cap.random_walk_guess_probability("ab bc|a>c:") == pytest.approx(0.5)
    world = PlanningWorld(PlanningConfig(n_nodes=5, n_edges=5, min_depth=1, max_depth=3))
    for p in world.sample(4, seed=1):
        sub = "".join(sorted(set(p.prompt.split("|")[0].replace(" ", ""))))
        # relabel onto a small alphabet so the enumeration stays small
        m = {ch: "abcdefghijklmnop"[i] for i, ch in enumerate(sub)}
        small = "".join(m.get(ch, ch) for ch in p.prompt)
        assert cap.random_walk_guess_probability(small) == pytest.approx(_walk_enumeration(small), abs=1e-12)


def test_guess_probabilities_for_each_world():
    probs = ArithmeticWorld().sample(20, seed=0)
    np.testing.assert_allclose(cap.guess_probabilities_for(ArithmeticWorld(), probs),
                               guess_probabilities([p.answer for p in probs]))
    # under chain verification the guesser must hit every running value too: never likelier than the answer alone,
    # and far less likely on long chains
    chain = ArithmeticWorld(ArithmeticConfig(min_operands=5, max_operands=5, max_digits=1, verify="chain"))
    long = chain.sample(64, seed=0)
    g_chain, g_answer = cap.guess_probabilities_for(chain, long), guess_probabilities([p.answer for p in long])
    assert np.all(g_chain <= g_answer + 1e-12) and g_chain.mean() < g_answer.mean() / 10
    np.testing.assert_allclose(g_chain, chain.guess_probabilities(long))
    mixed = ArithmeticWorld(ArithmeticConfig(min_operands=2, max_operands=7, max_digits=1, verify="chain"))
    some = mixed.sample(80, seed=1)  # chains of several lengths: a shorter chain has no value at a deeper step
    g_mixed = cap.guess_probabilities_for(mixed, some)
    assert np.all((g_mixed >= 0) & (g_mixed <= 1))  # step-wise frequencies: a short chain's answer is compared with
    # the other chains' values at the same step, so it need not stay below the answer-only guesser
    two = [i for i, p in enumerate(some) if p.meta["n_operands"] == 2]
    np.testing.assert_array_less(g_mixed[[i for i, p in enumerate(some) if p.meta["n_operands"] == 7]].max(),
                                 g_mixed[two].max())
    pw = PlanningWorld()
    pp = pw.sample(5, seed=0)
    g = cap.guess_probabilities_for(pw, pp)
    assert g.shape == (5,) and np.all((g > 0) & (g <= 1))
    # composition: the world's own guesser (atomic facts known, later inputs guessed), zero-free at level 2 where a
    # guessed input of 10 digits is right about one time in ten, and smaller a level deeper
    from rlmeta_interp.organism.worlds.composition import CompositionConfig, CompositionWorld

    cw = CompositionWorld(CompositionConfig(min_level=2, max_level=4))
    cp = [*cw.sample(40, seed=0, level=2), *cw.sample(40, seed=1, level=4)]
    gc = cap.guess_probabilities_for(cw, cp)
    np.testing.assert_allclose(gc, cw.guess_probabilities(cp))
    assert np.all(gc[:40] > 0.0) and gc[40:].mean() < gc[:40].mean() < 0.3
    with pytest.raises(InvalidConfigError, match="No guessing baseline for world 'digits'.*composition"):
        cap.guess_probabilities_for(DigitWorld(), DigitWorld().sample(2, 0))


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="likelihood_samples"):
        cap.BoundaryConfig(n_samples=4, likelihood_samples=8)
    with pytest.raises(InvalidConfigError, match="n_samples"):
        cap.BoundaryConfig(n_samples=0)
    with pytest.raises(InvalidConfigError, match="temperature"):
        cap.BoundaryConfig(temperature=0.0)


def test_run_boundary_counts_summary_and_persistence(tiny_pair, tmp_path):
    cfg = cap.BoundaryConfig(n_problems=6, n_samples=8, likelihood_samples=2, n_boot=100)
    world = DigitWorld()
    res = cap.run_boundary(tiny_pair, cfg, world, out_dir=tmp_path)
    # counts are a recount of the verifier on the stored samples
    probs = world.sample(cfg.n_problems, seed=cfg.problem_seed)
    for counts, comps in ((res.counts_base, res.completions_base), (res.counts_rl, res.completions_rl)):
        assert counts.tolist() == [sum(world.reward(p, c) for c in row) for p, row in zip(probs, comps, strict=True)]
    assert 0 < res.counts_base.sum() + res.counts_rl.sum() < 2 * 6 * 8  # the fixture gives non-trivial counts
    row = bd.boundary_table([res]).iloc[0]
    assert row["pass@1_base"] == pytest.approx(res.counts_base.mean() / 8)
    assert row["pass@n_rl"] == pytest.approx((res.counts_rl > 0).mean())
    assert row["d_pass@n"] == pytest.approx((res.counts_rl > 0).mean() - (res.counts_base > 0).mean())
    assert row["d_pass@1_lo"] <= row["d_pass@1"] <= row["d_pass@1_hi"]
    fracs = [row[f"frac_{k}"] for k in ("both", "base_only", "rl_only", "neither")]
    assert sum(fracs) == pytest.approx(1.0)
    assert row["frac_rl_only"] == pytest.approx(((res.counts_rl > 0) & (res.counts_base == 0)).mean())
    assert "guess_pass@n" not in row  # no guessing baseline for this world
    assert row["ppl_ratio_lo"] <= row["ppl_ratio"] <= row["ppl_ratio_hi"]
    # the crossover is the first k where the base's mean pass@k reaches the RL model's
    cur = res.curve()
    b = cur[cur.model == "base"].set_index("k")["pass@k"]
    r = cur[cur.model == "rl"].set_index("k")["pass@k"]
    hits = [k for k in range(1, 9) if b[k] >= r[k]]
    assert res.crossover_k == (hits[0] if hits else None)
    assert set(cur.model) == {"base", "rl"} and cur.k.max() == 8
    # saved once; a rerun reads the file back; another config is another file
    files = list(tmp_path.rglob("boundary_*.json"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    again = cap.run_boundary(tiny_pair, cfg, world, out_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(bd.boundary_table([again]), bd.boundary_table([res]))
    cap.run_boundary(tiny_pair, cfg.replace(seed=1), world, out_dir=tmp_path)
    assert len(list(tmp_path.rglob("boundary_*.json"))) == 2
    json.loads(files[0].read_text())  # plain JSON
    # the samples are cached per chunk: without the result file, a rerun rebuilds the same result from them
    chunks = {p: p.stat().st_mtime_ns for p in (files[0].parent / "samples").rglob("chunk_*.safetensors")}
    assert chunks
    files[0].unlink()
    rebuilt = cap.run_boundary(tiny_pair, cfg, world, out_dir=tmp_path)
    assert rebuilt.completions_rl == res.completions_rl and rebuilt.completions_base == res.completions_base
    assert {p: p.stat().st_mtime_ns for p in chunks} == chunks  # read back, not sampled again


def test_summary_gives_pass_at_n_score_intervals_where_every_problem_is_solved():
    from rlmeta_interp.analysis.stats import paired_proportion_diff_ci, proportion_ci

    n, solved = 8, np.array([8, 2, 5, 1] * 16)  # both models solve all 64 problems at least once in 8
    res = cap.BoundaryResult(pair="p", base="b", world="arithmetic", dose=0.0, variant="v", rl_seed=0,
                             config=cap.BoundaryConfig(n_samples=n, likelihood_samples=0, n_boot=200),
                             prompts=[f"{i}=" for i in range(64)], counts_base=solved, counts_rl=solved[::-1].copy(),
                             guess_p=None, completions_base=[], completions_rl=[])
    row = res.summary()
    # a bootstrap read both as [1, 1] and the difference as [0, 0]; the score intervals keep their width
    assert (row["pass@n_base_lo"], row["pass@n_base_hi"]) == pytest.approx(proportion_ci(np.ones(64)))
    assert (row["d_pass@n_lo"], row["d_pass@n_hi"]) == pytest.approx(paired_proportion_diff_ci(np.ones(64),
                                                                                                np.ones(64)))
    assert row["d_pass@n_lo"] < 0 < row["d_pass@n_hi"] and row["pass@n_change"] == "no detectable change"
    # pass@1 is fractional per problem: a bootstrap, inside the values' range
    assert 0 < row["pass@1_base_lo"] < row["pass@1_base"] < row["pass@1_base_hi"] < 1


def test_run_boundary_rereads_only_the_same_weights(tmp_path):
    """Pairs without a manifest (folders) are keyed by their weights: new weights at the same path are resampled."""
    root = tmp_path / "models"
    save_tiny_pair(root, scale=0.5, seed=3)
    cfg = cap.BoundaryConfig(n_problems=4, n_samples=4, likelihood_samples=0, n_boot=50)
    out = tmp_path / "out"
    first = cap.run_boundary(load_pair((root / "base", root / "rl")), cfg, DigitWorld(), out_dir=out)
    assert cap.run_boundary(load_pair((root / "base", root / "rl")), cfg, DigitWorld(), out_dir=out).completions_rl \
        == first.completions_rl and len(list(out.rglob("boundary_*.json"))) == 1
    # retrain the RL model in place: same folder, same names, other weights
    shutil.rmtree(root / "rl")
    save_noisy_twin(root / "base", root / "rl", scale=0.5, seed=4)
    pair = load_pair((root / "base", root / "rl"))
    second = cap.run_boundary(pair, cfg, DigitWorld(), out_dir=out)
    assert len(list(out.rglob("boundary_*.json"))) == 2  # a new result, not the stale one
    fresh = cap.run_boundary(pair, cfg, DigitWorld())  # no out_dir: sampled from these weights
    assert second.completions_rl == fresh.completions_rl != first.completions_rl
    assert second.completions_base == first.completions_base  # the base did not change


def test_run_boundary_rejects_bandits(tiny_pair):
    with pytest.raises(InvalidConfigError, match="single-turn"):
        cap.run_boundary(tiny_pair, cap.BoundaryConfig(n_problems=2, n_samples=2, likelihood_samples=0), "bandits")
