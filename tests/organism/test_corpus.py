import numpy as np
import pytest

from rlmeta_interp.errors import InvalidConfigError
from rlmeta_interp.organism.corpus import Corpus, CorpusConfig
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig, format_of
from rlmeta_interp.organism.worlds.bandits import BanditConfig, parse_episode
from rlmeta_interp.organism.worlds.planning import PlanningConfig, check_path


@pytest.mark.parametrize("world", ["arithmetic", "bandits", "planning"])
@pytest.mark.parametrize("dose", [0.0, 0.25, 1.0])
def test_dose_is_exact_per_batch(world, dose):
    c = Corpus(CorpusConfig(world=world, dose=dose, bandits=BanditConfig(horizon=8)))
    for step in range(3):
        docs = c.batch(step, 40)
        assert sum(d.demo for d in docs) == round(dose * 40)  # dose * n is an integer here: exact


def test_dose_fraction_unbiased_for_non_integer_counts():
    c = Corpus(CorpusConfig(world="arithmetic", dose=0.33))
    counts = [sum(d.demo for d in c.batch(s, 10)) for s in range(300)]
    assert set(counts) <= {3, 4}
    assert abs(np.mean(counts) / 10 - 0.33) < 0.02


def test_demonstrations_are_what_the_label_says():
    ac = Corpus(CorpusConfig(world="arithmetic", dose=0.5, format_weights=(1.0, 3.0),
                             arithmetic=ArithmeticConfig(max_operands=4)))
    docs = [d for s in range(20) for d in ac.batch(s, 50)]
    for d in docs:
        # the rule-based labeller (independent of the generator) agrees with the generator's label
        assert format_of(d.completion) == d.label
        assert (d.label != "direct") == d.demo
        assert ac.world.reward(_problem(ac, d), d.completion) == 1.0
    demos = [d for d in docs if d.demo]
    eq_share = np.mean([d.label == "eq" for d in demos])
    assert abs(eq_share - 0.75) < 0.06  # format mixture follows format_weights

    pc = Corpus(CorpusConfig(world="planning", dose=0.3, planning=PlanningConfig(max_depth=4), shallow_max_depth=2))
    for d in pc.batch(0, 60):
        depth = int(d.label[5:])
        assert (depth > 2) == d.demo
        assert check_path(d.prompt, d.completion) == (True, True)

    bc = Corpus(CorpusConfig(world="bandits", dose=0.5))
    for d in bc.batch(0, 20):
        assert len(parse_episode(d.completion, bc.world.config)) == 24
        assert d.label == ("thompson" if d.demo else "random")


def _problem(corpus, doc):
    from rlmeta_interp.organism.worlds.base import Problem
    from rlmeta_interp.organism.worlds.arithmetic import evaluate

    expr = doc.prompt[:-1]
    nums, ops, cur = [], [], ""
    for ch in expr:
        if ch in "+-*" and cur:
            nums.append(int(cur))
            ops.append(ch)
            cur = ""
        else:
            cur += ch
    nums.append(int(cur))
    return Problem(doc.prompt, str(evaluate(nums, ops)[-1]), {})


def test_same_seed_same_corpus_and_hash():
    a = Corpus(CorpusConfig(world="planning", dose=0.2, seed=5))
    b = Corpus(CorpusConfig(world="planning", dose=0.2, seed=5))
    assert a.batch(7, 16) == b.batch(7, 16)
    assert a.data_hash(2, 16) == b.data_hash(2, 16)
    assert a.data_hash(2, 16) != Corpus(CorpusConfig(world="planning", dose=0.2, seed=6)).data_hash(2, 16)
    assert a.batch(7, 16) != a.batch(8, 16)


def test_config_validation():
    with pytest.raises(InvalidConfigError, match="dose"):
        CorpusConfig(dose=1.5)
    with pytest.raises(InvalidConfigError, match="format_weights"):
        CorpusConfig(format_weights=(1.0,))
    with pytest.raises(InvalidConfigError, match="shallow_max_depth"):
        CorpusConfig(world="planning", shallow_max_depth=4, planning=PlanningConfig(max_depth=4))
    cfg = CorpusConfig(world="bandits", dose=0.1, bandits=BanditConfig(n_arms=4))
    assert CorpusConfig.from_dict(cfg.to_dict()) == cfg


def test_depth_dose_shows_deep_chains_only_in_the_dose_share():
    from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

    arith = ArithmeticConfig(min_operands=2, max_operands=6, max_digits=1, leak_free=True)
    c0 = Corpus(CorpusConfig(world="arithmetic", dose=0.0, arithmetic=arith, arithmetic_dose="depth",
                             shallow_max_depth=4, format_weights=(0.0, 1.0)))
    docs = [d for step in range(5) for d in c0.batch(step, 64)]
    assert {d.label for d in docs} <= {"depth2", "depth3", "depth4"} and not any(d.demo for d in docs)
    assert all(";A:" in d.completion for d in docs)  # every document shows the (eq) scratchpad
    c1 = Corpus(c0.config.replace(dose=0.25))
    docs1 = [d for step in range(8) for d in c1.batch(step, 64)]
    deep = [d for d in docs1 if d.demo]
    assert len(deep) == 8 * 16 and {d.label for d in deep} <= {"depth5", "depth6"}
    from rlmeta_interp.organism.worlds.base import split_of_key

    assert all(split_of_key("arithmetic", d.prompt) == "pretrain" for d in docs + docs1)
    with pytest.raises(InvalidConfigError, match="shallow_max_depth"):
        CorpusConfig(world="arithmetic", arithmetic=arith, arithmetic_dose="depth", shallow_max_depth=6)


def test_shuffled_bandit_corpus_keeps_arms_and_reward_counts_but_breaks_the_link():
    base = CorpusConfig(world="bandits", dose=1.0)
    true_docs = Corpus(base).batch(0, 32)
    shuf_docs = Corpus(base.replace(bandit_rewards="shuffled")).batch(0, 32)
    a, b = true_docs[0], shuf_docs[0]  # the first episode: the same RNG stream up to its shuffle
    assert a.text[0::2] == b.text[0::2] and sorted(a.text[1::2]) == sorted(b.text[1::2]) and a.text != b.text


def test_composition_dose_shows_chained_steps_only_in_the_dose_share():
    from rlmeta_interp.organism.worlds.composition import CompositionConfig, parse_steps

    comp = CompositionConfig(max_level=3)
    c0 = Corpus(CorpusConfig(world="composition", dose=0.0, composition=comp))
    docs = [d for step in range(5) for d in c0.batch(step, 64)]
    assert not any(d.demo for d in docs) and {d.label for d in docs} == {"composition1", "unchained2", "unchained3"}
    w = c0.world

    def chained_share(documents):
        links = [x == y for d in documents for (_, x, _), (_, _, y) in
                 zip(parse_steps(d.completion)[1:], parse_steps(d.completion)[:-1], strict=True)]
        return float(np.mean(links))

    assert chained_share(docs) < 0.2  # chance only
    c1 = Corpus(c0.config.replace(dose=0.25))
    docs1 = [d for step in range(8) for d in c1.batch(step, 64)]
    composed = [d for d in docs1 if d.demo]
    assert len(composed) == 8 * 16 and {d.label for d in composed} == {"composition2", "composition3"}
    assert chained_share(composed) == 1.0
    assert all(w.document_key(d.prompt) == d.prompt or w.split_of(w.composition(d.prompt[1:-1], int(d.prompt[0])))
               == "pretrain" for d in docs + docs1)
    assert c1.max_chars() >= max(len(d.text) + 2 for d in docs1)
    with pytest.raises(InvalidConfigError, match="min_level"):
        CorpusConfig(world="composition", composition=comp.replace(min_level=1))


def test_data_hash_of_other_worlds_ignores_the_composition_config():
    """Corpora of the other worlds keep the fingerprints recorded before the composition world existed."""
    from rlmeta_interp.organism.worlds.composition import CompositionConfig

    cfg = CorpusConfig(world="bandits", dose=0.5)
    assert Corpus(cfg).data_hash(2, 8) == Corpus(cfg.replace(composition=CompositionConfig(n_functions=5))).data_hash(2, 8)
    comp = CorpusConfig(world="composition", dose=0.5)
    assert Corpus(comp).data_hash(2, 8) != Corpus(comp.replace(composition=CompositionConfig(n_functions=5))).data_hash(2, 8)
