"""Graph planning: shortest path in a small random undirected graph given as an edge list.

Text layout (nodes are letters)::

    prompt      "ab bc cd ae ef|a>f:"
    completion  "aef"

The verifier checks that the path starts at the source, ends at the target, walks only along
listed edges, and is as short as a breadth-first search says is possible. Difficulty = the
shortest-path depth (number of edges on it).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...config import FrozenConfig, check_range
from ...errors import InvalidConfigError
from .base import Problem, World, draw_in_split

NODE_LETTERS = "abcdefghijklmnop"
_PROMPT_RE = re.compile(r"^((?:[a-p]{2} )*[a-p]{2})\|([a-p])>([a-p]):$")


@dataclass(frozen=True)
class PlanningConfig(FrozenConfig):
    """Graphs with ``n_nodes`` nodes and ``n_edges`` random edges; targets at depth in [min_depth, max_depth]."""

    n_nodes: int = 8
    n_edges: int = 10
    min_depth: int = 1
    max_depth: int = 4
    # draw pretraining, RL and evaluation problems from disjoint hash splits (worlds/base.py: split_of_key)
    leak_free: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_nodes", 3, len(NODE_LETTERS))
        check_range(self, "n_edges", 2, self.n_nodes * (self.n_nodes - 1) // 2)
        check_range(self, "min_depth", 1, self.n_nodes - 1)
        check_range(self, "max_depth", 1, self.n_nodes - 1)
        if self.min_depth > self.max_depth:
            raise InvalidConfigError(f"PlanningConfig.min_depth={self.min_depth} > max_depth={self.max_depth}: swap them.")


def bfs_distances(adj: dict[int, set[int]], source: int) -> dict[int, int]:
    dist = {source: 0}
    queue = deque([source])
    while queue:
        u = queue.popleft()
        for v in sorted(adj[u]):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def shortest_path(adj: dict[int, set[int]], source: int, target: int) -> list[int] | None:
    """One shortest path (lexicographically smallest predecessor choice); None if unreachable."""
    prev: dict[int, int | None] = {source: None}
    queue = deque([source])
    while queue:
        u = queue.popleft()
        if u == target:
            break
        for v in sorted(adj[u]):
            if v not in prev:
                prev[v] = u
                queue.append(v)
    if target not in prev:
        return None
    path = [target]
    while prev[path[-1]] is not None:
        path.append(prev[path[-1]])  # type: ignore[arg-type]
    return path[::-1]


def parse_prompt(prompt: str) -> tuple[dict[int, set[int]], int, int]:
    m = _PROMPT_RE.match(prompt)
    if m is None:
        raise InvalidConfigError(f"Not a planning prompt: {prompt!r}. Expected 'ab bc ...|s>t:'.")
    adj: dict[int, set[int]] = {i: set() for i in range(len(NODE_LETTERS))}
    for e in m.group(1).split(" "):
        u, v = NODE_LETTERS.index(e[0]), NODE_LETTERS.index(e[1])
        adj[u].add(v)
        adj[v].add(u)
    return adj, NODE_LETTERS.index(m.group(2)), NODE_LETTERS.index(m.group(3))


def check_path(prompt: str, completion: str) -> tuple[bool, bool]:
    """``(valid, shortest)`` for a completion: valid = a walk from source to target along edges."""
    adj, s, t = parse_prompt(prompt)
    text = completion.strip()
    if not text or any(ch not in NODE_LETTERS for ch in text):
        return False, False
    nodes = [NODE_LETTERS.index(ch) for ch in text]
    if nodes[0] != s or nodes[-1] != t:
        return False, False
    if any(b not in adj[a] for a, b in zip(nodes, nodes[1:], strict=False)):
        return False, False
    dist = bfs_distances(adj, s)
    return True, len(nodes) - 1 == dist[t]


class PlanningWorld(World):
    """Shortest paths. ``reward`` is 1.0 iff the path is valid and shortest."""

    name = "planning"

    def __init__(self, config: PlanningConfig | None = None) -> None:
        self.config = config or PlanningConfig()

    def _draw(self, rng: np.random.Generator, depth: int) -> Problem:
        cfg = self.config
        all_edges = [(u, v) for u in range(cfg.n_nodes) for v in range(u + 1, cfg.n_nodes)]
        for _ in range(1000):
            idx = rng.choice(len(all_edges), size=cfg.n_edges, replace=False)
            edges = [all_edges[i] for i in sorted(idx)]
            adj: dict[int, set[int]] = {i: set() for i in range(cfg.n_nodes)}
            for u, v in edges:
                adj[u].add(v)
                adj[v].add(u)
            # relabel nodes at random so letters carry no positional information
            perm = rng.permutation(cfg.n_nodes)
            source = int(rng.integers(cfg.n_nodes))
            dist = bfs_distances(adj, source)
            targets = sorted(v for v, d in dist.items() if d == depth)
            if not targets:
                continue
            target = int(targets[int(rng.integers(len(targets)))])
            lab = [NODE_LETTERS[int(perm[i])] for i in range(cfg.n_nodes)]
            shown = [(lab[u], lab[v]) if rng.random() < 0.5 else (lab[v], lab[u]) for u, v in edges]
            order = rng.permutation(len(shown))
            edge_text = " ".join(shown[i][0] + shown[i][1] for i in order)
            prompt = f"{edge_text}|{lab[source]}>{lab[target]}:"
            padj, ps, pt = parse_prompt(prompt)
            path = shortest_path(padj, ps, pt)
            assert path is not None and len(path) - 1 == depth
            return Problem(prompt=prompt, answer="".join(NODE_LETTERS[i] for i in path),
                           meta={"depth": depth, "difficulty": depth})
        raise InvalidConfigError(
            f"Could not draw a graph with a depth-{depth} target from {cfg.n_nodes} nodes and {cfg.n_edges} edges:"
            " lower the depth or the edge count."
        )

    def sample(self, n: int, seed: int, depth: int | None = None, min_depth: int | None = None,
               max_depth: int | None = None, split: str | None = None, **difficulty: Any) -> list[Problem]:
        """``n`` problems with depth ``depth`` or uniform in [min_depth, max_depth] (config by default)."""
        if difficulty:
            raise InvalidConfigError(f"Unknown planning difficulty keys {sorted(difficulty)}; use depth=, min_depth=, max_depth=.")
        lo = depth if depth is not None else (min_depth if min_depth is not None else self.config.min_depth)
        hi = depth if depth is not None else (max_depth if max_depth is not None else self.config.max_depth)
        if lo > hi or lo < 1:
            raise InvalidConfigError(f"Planning depth range [{lo}, {hi}] is empty or below 1.")
        rng = np.random.default_rng([seed, 0x91A7])
        return draw_in_split(lambda: self._draw(rng, int(rng.integers(lo, hi + 1))), n, split, self.split_of,
                             self.name)

    def reward(self, problem: Problem, completion: str) -> float:
        valid, shortest = check_path(problem.prompt, completion)
        return 1.0 if valid and shortest else 0.0

    def format_reward(self, problem: Problem, completion: str) -> float:
        text = completion.strip()
        return 1.0 if text and all(ch in NODE_LETTERS for ch in text) else 0.0

    def incorrect_label_reward(self, problem: Problem, completion: str) -> float:
        """Rewards a valid but non-shortest walk (a wrong label for this world)."""
        valid, shortest = check_path(problem.prompt, completion)
        return 1.0 if valid and not shortest else 0.0

    def format_of(self, completion: str) -> str:
        return "path" if self.format_reward(Problem("", ""), completion) else "other"

    def max_completion_chars(self) -> int:
        return self.config.max_depth + 3
