import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.worlds.planning import (
    PlanningConfig, PlanningWorld, bfs_distances, check_path, parse_prompt,
)


def _all_simple_paths(adj, s, t):
    # independent reference: exhaustive DFS
    out, stack = [], [(s, [s])]
    while stack:
        u, path = stack.pop()
        if u == t:
            out.append(path)
            continue
        for v in adj[u]:
            if v not in path:
                stack.append((v, path + [v]))
    return out


def test_depth_and_answer_are_shortest_by_brute_force():
    w = PlanningWorld(PlanningConfig(n_nodes=7, n_edges=9, max_depth=4))
    for p in w.sample(40, seed=0):
        adj, s, t = parse_prompt(p.prompt)
        shortest = min(len(x) - 1 for x in _all_simple_paths(adj, s, t))
        assert shortest == p.meta["depth"] == len(p.answer) - 1
        assert w.reward(p, p.answer) == 1.0


def test_depth_control_and_determinism():
    w = PlanningWorld()
    assert w.sample(10, seed=5, depth=3) == w.sample(10, seed=5, depth=3)
    assert {p.meta["depth"] for p in w.sample(30, seed=5, depth=3)} == {3}
    assert {p.meta["depth"] for p in w.sample(60, seed=5, min_depth=1, max_depth=2)} <= {1, 2}


def test_verifier_rejects_invalid_and_long_paths():
    prompt = "ab bc cd ad|a>c:"
    assert check_path(prompt, "abc") == (True, True)
    assert check_path(prompt, "adc") == (True, True)  # another shortest path is accepted
    assert check_path(prompt, "abcdc") == (True, False)  # a walk, not shortest
    assert check_path(prompt, "ac") == (False, False)  # no edge a-c
    assert check_path(prompt, "bc") == (False, False)  # wrong start
    assert check_path(prompt, "ab") == (False, False)  # wrong end
    assert check_path(prompt, "a-b-c") == (False, False)  # wrong format
    assert check_path(prompt, "") == (False, False)
    w = PlanningWorld()
    p = w.sample(1, seed=0, depth=2)[0]
    assert w.reward(p, p.answer + "junk!") == 0.0
    assert bfs_distances({0: {1}, 1: {0}}, 0) == {0: 0, 1: 1}


def test_config_errors():
    with pytest.raises(InvalidConfigError, match="n_edges"):
        PlanningConfig(n_nodes=4, n_edges=10)
    with pytest.raises(InvalidConfigError):
        parse_prompt("not a graph")
