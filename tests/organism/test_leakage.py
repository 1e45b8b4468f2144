"""No evaluation problem of a shipped leak-free organism occurs in its pretraining corpus or in any RL prompt set.

Each shipped base's corpus is regenerated from its manifest (batches are a pure function of the corpus config and
the step), and every evaluation set is redrawn from its config, exactly as the build drew them.
"""

from __future__ import annotations

import pytest

from rlmeta_interp.io import read_json
from rlmeta_interp.organism.corpus import Corpus
from rlmeta_interp.organism.rl import training_problems
from rlmeta_interp.organism.spec import OrganismSpec
from rlmeta_interp.organism.worlds.base import split_of_key
from rlmeta_interp.organism.corpus import make_world
from rlmeta_interp.paths import shipped_zoo_dir


def _manifests() -> dict[str, dict]:
    return {p.parent.name: read_json(p) for p in sorted(shipped_zoo_dir().glob("*/manifest.json"))}


MANIFESTS = _manifests()
SPECS = {name: OrganismSpec.from_dict(m["config"]) for name, m in MANIFESTS.items()}
LEAK_FREE_BASES = [n for n, s in SPECS.items() if s.kind == "base" and getattr(s.pretrain.corpus, s.world).leak_free]


def _eval_prompts(spec: OrganismSpec) -> set[str]:
    ev = spec.eval
    prompts: set[str] = set()
    if spec.world == "bandits":
        w = make_world("bandits", bandits=spec.bandits)
        return {w.problem_key(p) for p in w.sample(ev.n_bandits, seed=ev.seed, split="eval")}
    for level in ev.levels:
        if spec.world == "composition":
            w = make_world("composition", composition=spec.composition.replace(min_level=1, max_level=max(
                spec.composition.max_level, level)))
            probs = w.sample(ev.per_difficulty_problems, seed=ev.seed + level, split="eval", level=level)
        elif spec.world == "arithmetic":
            cfg = spec.arithmetic.replace(min_operands=min(spec.arithmetic.min_operands, level),
                                          max_operands=max(spec.arithmetic.max_operands, level))
            w = make_world("arithmetic", arithmetic=cfg)
            probs = w.sample(ev.per_difficulty_problems, seed=ev.seed + level, split="eval", operands=level)
        else:
            w = make_world("planning", planning=spec.planning.replace(min_depth=1, max_depth=max(spec.planning.max_depth, level)))
            probs = w.sample(ev.per_difficulty_problems, seed=ev.seed + level, split="eval", depth=level)
        prompts |= {w.problem_key(p) for p in probs}
    return prompts


def test_the_shipped_zoo_has_leak_free_bases():
    assert LEAK_FREE_BASES, "no shipped base is leak-free: ship the demo preset (rlmeta-interp zoo build --preset demo)"


@pytest.mark.parametrize("name", LEAK_FREE_BASES)
def test_no_evaluation_problem_in_pretraining_or_rl_prompts(name):
    base = SPECS[name]
    children = [s for s in SPECS.values() if s.base == name]
    evals = _eval_prompts(base)
    for child in children:
        evals |= _eval_prompts(child)
    world = base.world
    assert evals and all(split_of_key(world, k) == "eval" for k in evals)
    corpus = Corpus(base.pretrain.corpus)
    seen: set[str] = set()
    for step in range(base.pretrain.steps):
        for doc in corpus.batch(step, base.pretrain.batch_size):
            seen.add(corpus.world.document_key(doc.prompt) if world != "bandits" else doc.text)
    assert len(seen) > 1000
    assert not evals & seen, f"{len(evals & seen)} evaluation problems occur in {name}'s pretraining corpus"
    for child in children:
        if child.rl is not None:
            w = child.rl.world_obj()
            rl_keys = {w.problem_key(p) for p in training_problems(child.rl)}
            assert rl_keys and not evals & rl_keys, f"evaluation problems occur in {child.name}'s RL prompts"
        if child.kind == "sft":
            sft = Corpus(child.pretrain.corpus)
            sft_seen = {sft.world.document_key(d.prompt) for step in range(child.pretrain.steps)
                        for d in sft.batch(step, child.pretrain.batch_size)}
            assert not evals & sft_seen, f"evaluation problems occur in {child.name}'s fine-tuning corpus"


def test_legacy_shipped_models_are_not_validation_cases():
    """Models built before leak-free splits (format-dosed arithmetic, bandits, planning) carry no design label."""
    for name, spec in SPECS.items():
        if spec.kind == "base" or spec.base not in SPECS:
            continue
        base = SPECS[spec.base]
        if not getattr(base.pretrain.corpus, base.world).leak_free:
            assert not MANIFESTS[name].get("label"), name


@pytest.mark.parametrize("world", ["arithmetic", "bandits", "planning", "composition"])
def test_every_world_keeps_pretraining_rl_and_evaluation_problems_apart(world):
    """For each world: a leak-free corpus, RL prompt set and evaluation set, drawn with the seeds a build uses,
    share no problem (the property the shipped-zoo test above checks on real manifests)."""
    from rlmeta_interp.organism.corpus import CorpusConfig
    from rlmeta_interp.organism.rl import RLConfig
    from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig
    from rlmeta_interp.organism.worlds.bandits import BanditConfig
    from rlmeta_interp.organism.worlds.composition import CompositionConfig
    from rlmeta_interp.organism.worlds.planning import PlanningConfig

    cfgs = {"arithmetic": ArithmeticConfig(min_operands=2, max_operands=4, max_digits=1, leak_free=True),
            "bandits": BanditConfig(leak_free=True), "planning": PlanningConfig(leak_free=True),
            "composition": CompositionConfig(max_level=3)}
    kw = {world: cfgs[world]}
    corpus = Corpus(CorpusConfig(world=world, dose=0.5, **kw))
    w = corpus.world
    key = w.problem_key
    seen = {w.document_key(d.prompt) if world != "bandits" else None for step in range(40) for d in corpus.batch(step, 32)}
    # bandit documents do not show their means: regenerate the drawn problems from the corpus's own split instead
    pre = ({key(p) for p in w.sample(2000, seed=0, split="pretrain")} if world == "bandits" else seen)
    rl = {key(p) for p in training_problems(RLConfig(world=world, n_train_problems=500, **kw))}
    ev = {key(p) for p in w.sample(300, seed=20_000, split="eval")}
    assert len(pre) > 100 and len(rl) > 50 and len(ev) > 50
    assert not ev & pre and not ev & rl and not rl & pre
