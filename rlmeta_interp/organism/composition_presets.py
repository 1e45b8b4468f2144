"""The composition recipe's presets (after Yuan et al.'s atomic-functions-then-compose design): pilots and
pre-registered tests of the committed validation fit in a world it has no calibration pairs in; none of their
models is a validation pair."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .builders import SMALL, base_spec, rl_spec
from .corpus import world_configs
from .spec import EvalConfig, OrganismSpec
from .worlds.composition import CompositionConfig


# Composition (after Yuan et al.'s atomic-functions-then-compose design): twelve atomic digit functions, taught in
# every corpus by unchained documents ("5ca=" -> "c5=1;a7=3;A:3": each later step applied to a drawn input); worked
# compositions, in which a step's input is the output of the step before it ("5ca=" -> "c5=1;a1=4;A:4"), only in the
# dose share. Documents hold 1 to 4 functions; RL trains on compositions of two and three functions whose function
# sequences fall in the "rl" hash split; evaluation on held-out sequences ("eval" split) of 2, 3 and 4 functions.
# Level 4 is where boundary expansion can show: a base that never saw a chain writes one right only when all three of
# its drawn later inputs are right, about one try in 10^3, so its pass@128 there stays near the guesser's, while at
# level 3 (one try in 10^2) chance alone solves most problems within 128 samples. (Documents to four functions with
# RL on two and three were tried once before, with a KL penalty of 0.02 and under a split by whole sequence: the
# reward did not move from chance in 300 steps. Here RL has no KL penalty, as in the first design's runs, which did.)
# Unchained documents rather than lists of independent applications ("5c3a="), because a base taught by lists read a
# composition prompt as a list and never fed a step with the output before it, leaving RL nothing to amplify.
# 3000 pretraining steps, because at 1000 this model had not learnt the 120 arbitrary atomic facts.
# A pilot preset, apart from ``validation``: its models are not validation pairs until the recipe has shown creation.
COMP = CompositionConfig(n_functions=12, domain=10, min_level=2, max_level=4, leak_free=True, verify="chain")
COMP_MODEL = SMALL.replace(max_len=64)
COMP_PRETRAIN_STEPS = 3000
COMP_DOSES = (0.0, 0.5)  # creation / activation (at dose 0.5 about half of a later step's inputs are chained)
COMP_LEVELS = (2, 3, 4)
COMP_RL_LEVELS = (2, 3)
COMP_SEEDS = (0, 1, 2)  # pretraining seeds
COMP_EVAL = EvalConfig(n_samples=128, per_difficulty_problems=64, levels=COMP_LEVELS)
# one RL budget for both classes and the random-reward control (steps, lr, KL, prompts x samples)
COMP_RL = {"steps": 300, "lr": 1e-4, "beta": 0.0, "prompts_per_step": 8, "num_generations": 8}


def composition_base(dose: float, seed: int, *, preset: str = "pilot",
                     composition: CompositionConfig = COMP) -> OrganismSpec:
    return base_spec("composition", dose, preset, steps=COMP_PRETRAIN_STEPS, model=COMP_MODEL, seed=seed,
                     eval_cfg=COMP_EVAL, composition=composition)


def composition_rl(base: OrganismSpec, split: str = "", *, seed: int = 0, reward: str = "correct",
                   budget: dict[str, Any] = COMP_RL, variant: str = "compose") -> OrganismSpec:
    lo, hi = COMP_RL_LEVELS[0], COMP_RL_LEVELS[-1]
    world = world_configs(base)["composition"]  # the base's functions, at the RL levels
    return rl_spec(base, variant if reward == "correct" else f"{variant}-{reward}", seed=seed, reward=reward,
                   split=split, recipe="composition", composition=world.replace(min_level=lo, max_level=hi), **budget)


def _composition() -> list[OrganismSpec]:
    """The composition recipe's pilot: the dose-0 base (creation by design) and its dose-0.5 twin (activation) at
    each pretraining seed of :data:`COMP_SEEDS`, each RL-tuned with RL seed 0; RL seed 1 from both seed-0 bases; and
    the seed-0 dose-0 base's same-budget random-reward control. Ordered so that a partial build holds whole pairs."""
    specs: list[OrganismSpec] = []
    for seed in COMP_SEEDS:
        bases = [composition_base(d, seed) for d in COMP_DOSES]
        specs += [*bases, *(composition_rl(b) for b in bases)]
        if seed == COMP_SEEDS[0]:
            specs += [composition_rl(bases[0], reward="random"), *(composition_rl(b, seed=1) for b in bases)]
    return specs


# The composition test: the pilot's design at fresh pretraining seeds, fixed before any of its models was built and
# read by the committed validation fit as a test of its own (docs/preregistration.md): per seed, the dose-0 and
# dose-0.5 bases, each RL-tuned with RL seeds 0 and 1 and given a same-budget random-reward control.
COMP_TEST_SEEDS = (3, 4, 5, 6, 7)


def _composition_test() -> list[OrganismSpec]:
    """The composition test's models (:data:`COMP_TEST_SEEDS`), in whole base-and-RL groups per seed."""
    specs: list[OrganismSpec] = []
    for seed in COMP_TEST_SEEDS:
        for dose in COMP_DOSES:
            base = composition_base(dose, seed, preset="ctest")
            specs += [base, composition_rl(base), composition_rl(base, seed=1), composition_rl(base, reward="random")]
    return specs


# Longer RL for the composition recipe. In the composition test's runs from dose 0, the reward sat at chance (about
# 0.05 over levels 2 and 3) and then rose to near 1 within about 100 steps, between steps 110 and 250 in the runs that
# rose; in 6 of 10 it had not risen by step 300, and those runs failed the gain check. So the same design with 1000
# steps (every other knob of COMP_RL kept), piloted first on the two test bases on which neither RL seed rose in 300
# steps (seeds 4 and 7, rebuilt under another name: pretraining does not depend on the preset).
COMP_LONG_RL = {**COMP_RL, "steps": 1000}
COMP_LONG_PILOT_SEEDS = (4, 7)


def _composition_long() -> list[OrganismSpec]:
    """The longer-RL pilot: the dose-0 bases of :data:`COMP_LONG_PILOT_SEEDS`, each RL-tuned with RL seeds 0 and 1
    under :data:`COMP_LONG_RL`."""
    specs: list[OrganismSpec] = []
    for seed in COMP_LONG_PILOT_SEEDS:
        base = composition_base(0.0, seed, preset="clong")
        specs += [base, *(composition_rl(base, seed=s, budget=COMP_LONG_RL, variant="long") for s in (0, 1))]
    return specs


# The second composition test: the longer-RL design at fresh pretraining seeds and with fresh functions (another
# function_seed: other permutations, so none of the facts behind the earlier readings), fixed before any of its models
# was built and read by the committed validation fit (docs/preregistration.md): per seed, the dose-0 and dose-0.5
# bases, each RL-tuned with RL seeds 0 and 1 and given a same-budget random-reward control. 1500 RL steps: in the
# longer-RL pilot the reward took off between steps 380 and 850, and one run was still rising at step 1000 (it
# failed its gain check there).
COMP_TEST2_SEEDS = (8, 9, 10, 11)
COMP_TEST2_FUNCTION_SEED = 1
COMP_TEST2_RL = {**COMP_RL, "steps": 1500}


def _test2_base(dose: float, seed: int, preset: str) -> OrganismSpec:
    """A base in the second test's world (its functions) under ``preset``'s name."""
    return composition_base(dose, seed, preset=preset, composition=COMP.replace(function_seed=COMP_TEST2_FUNCTION_SEED))


def _long_rl_groups(preset: str, seeds: tuple[int, ...], doses: tuple[float, ...]) -> list[OrganismSpec]:
    """Per pretraining seed and dose, a base in the second test's world, RL-tuned under :data:`COMP_TEST2_RL` with
    RL seeds 0 and 1 and given a same-budget random-reward control: whole groups, in that order."""
    specs: list[OrganismSpec] = []
    for seed in seeds:
        for dose in doses:
            base = _test2_base(dose, seed, preset)
            specs += [base, *(composition_rl(base, seed=s, budget=COMP_TEST2_RL, variant="long") for s in (0, 1)),
                      composition_rl(base, reward="random", budget=COMP_TEST2_RL, variant="long")]
    return specs


def _composition_test2() -> list[OrganismSpec]:
    """The second composition test's models (:data:`COMP_TEST2_SEEDS`), in whole base-and-RL groups per seed."""
    return _long_rl_groups("ctest2", COMP_TEST2_SEEDS, COMP_DOSES)


# The low-dose composition test: activation by design (compositions in the corpus, at doses 0.01 and 0.05) from bases
# that may still leave room for pass@n to expand, the case the label-free expansion rule reads as creation. In the
# second test's world (same functions) and under its RL budget, at fresh pretraining seeds, fixed before any of its
# models was built and read by the committed validation fit (docs/preregistration.md); not validation pairs.
COMP_LOWDOSE_DOSES = (0.01, 0.05)
COMP_LOWDOSE_SEEDS = (12, 13, 14)


def _composition_lowdose() -> list[OrganismSpec]:
    """The low-dose test's models (:data:`COMP_LOWDOSE_SEEDS` x :data:`COMP_LOWDOSE_DOSES`), in whole groups per
    base: RL seeds 0 and 1 and a same-budget random-reward control, as in the second test."""
    return _long_rl_groups("clow", COMP_LOWDOSE_SEEDS, COMP_LOWDOSE_DOSES)


# The learning-speed pilot: the second test's RL budget at other learning rates, from two bases already built (the
# second test's seed-10 dose-0 base, a creation base whose reward took off at steps 1000 and 1364 under lr 1e-4, and
# the low-dose test's seed-13 dose-0.05 base, an activation base whose reward took off by step 92), to find learning
# rates at which the two classes' take-off steps cross. What it showed: at lr 1e-3 both runs, and at 3e-4 the
# creation run, fell to a reward of 0 within 100 steps and stayed there for all 1500, so a higher rate does not make
# creation take off sooner here; at lr 2e-5 the activation run's reward first reached one half near step 240 (about
# 2.5 times later than under lr 1e-4) and 1 by step 420.
COMP_SPEED_PILOT_LRS = {"fast": 1e-3, "quick": 3e-4, "slow": 2e-5}


def _composition_speed_pilot() -> list[OrganismSpec]:
    """RL seed 0 from the two bases named above at the learning rates of :data:`COMP_SPEED_PILOT_LRS`: creation at
    the fast and quick rates, activation at the fast and slow ones."""
    creation, activation = _test2_base(0.0, 10, "ctest2"), _test2_base(0.05, 13, "clow")
    runs = [(creation, "fast"), (activation, "slow"), (creation, "quick"), (activation, "fast")]
    return [creation, activation, *(composition_rl(b, budget={**COMP_TEST2_RL, "lr": COMP_SPEED_PILOT_LRS[v]},
                                                   variant=f"long-{v}") for b, v in runs)]


# The learning-speed test: activation made to learn slowly. In the low-dose test the fitted summary's two errors were
# the two activation runs whose reward took off as late as creation runs, so the meter's reading may follow how
# quickly RL learnt rather than what the base held. Here the learning rate alone slows RL: the second test's budget
# (1500 steps, no KL, 8 prompts x 8) at lr 2e-5 instead of 1e-4, from bases already built and read at lr 1e-4 (four
# activation bases of the low-dose test, seed 13's excepted as the pilot's, and seed 14's dose-0.01 one excepted as
# the base the errors came from; three creation bases of the second test, seed 10's excepted as the pilot's), so each
# run has a twin under lr 1e-4 from the same base and RL seed, read already. Per base RL seeds 0 and 1; a same-budget
# random-reward control from one base of each class. Fixed before any of its runs was built, and read by the
# committed validation fit (docs/preregistration.md); not validation pairs.
COMP_SPEED_RL = {**COMP_TEST2_RL, "lr": 2e-5}
COMP_SPEED_ACTIVATION = ((0.05, 12), (0.05, 14), (0.01, 12), (0.01, 13))  # (dose, pretraining seed), "clow" bases
COMP_SPEED_CREATION = (8, 9, 11)  # pretraining seeds of dose-0 "ctest2" bases


def _composition_speed() -> list[OrganismSpec]:
    """The learning-speed test's models: per base (:data:`COMP_SPEED_ACTIVATION`, :data:`COMP_SPEED_CREATION`), the
    base (built already) and RL seeds 0 and 1 under :data:`COMP_SPEED_RL`, with the random-reward control after the
    first base of each class; activation bases first."""
    bases = [*(_test2_base(d, s, "clow") for d, s in COMP_SPEED_ACTIVATION),
             *(_test2_base(0.0, s, "ctest2") for s in COMP_SPEED_CREATION)]
    controls = {bases[0].name, bases[len(COMP_SPEED_ACTIVATION)].name}
    specs: list[OrganismSpec] = []
    for base in bases:
        specs += [base, *(composition_rl(base, seed=s, budget=COMP_SPEED_RL, variant="long-slow") for s in (0, 1))]
        if base.name in controls:
            specs.append(composition_rl(base, reward="random", budget=COMP_SPEED_RL, variant="long-slow"))
    return specs


# The small-batch pilot: the learning-speed test's other handle on speed. In that test a smaller learning rate moved
# elicitation towards activation in both classes, so here the second test's budget keeps lr 1e-4 and draws 2 prompts
# per step instead of 8 (8 samples each): fewer rewarded samples a step, the same step size. From the pilot bases of
# the learning-speed pilot, RL seed 0. What it showed: the activation run's reward held one half from step 68 (its
# twins under 8 prompts: by stored row 92), so a smaller batch does not slow activation here; the creation run's
# reward stayed near 0 for all 1500 steps.
COMP_SMALL_BATCH_RL = {**COMP_TEST2_RL, "prompts_per_step": 2}


def _composition_batch_pilot() -> list[OrganismSpec]:
    """RL seed 0 under :data:`COMP_SMALL_BATCH_RL` from the learning-speed pilot's two bases."""
    bases = [_test2_base(0.05, 13, "clow"), _test2_base(0.0, 10, "ctest2")]
    return [*bases, *(composition_rl(b, budget=COMP_SMALL_BATCH_RL, variant="long-small") for b in bases)]


# The training-after-take-off test: the same runs stopped earlier or later. RL here runs at a constant learning rate
# after a 10-step warm-up, without weight decay, so a run of the second test's budget with fewer steps and the same
# seed is meant to repeat its twin's first steps, and one with more steps to continue them (whether CPU training
# repeats them exactly is checked against the twins' stored curves). The low-dose test's two errors took
# off late (steps 819 and 1137 of 1500) and so trained little after; every other activation run there took off by
# step 92 and trained some 1400 steps after. So: the four early-take-off activation bases of the learning-speed test
# stopped at 300 steps (the first test's budget: some 200 steps after take-off), RL seeds 0 and 1; the late base
# (dose 0.01, seed 14) continued to 3000 steps, RL seeds 0 and 1; the second test's two earliest creation bases (seeds
# 8 and 9, reward up by step 183) stopped at 300 steps too, RL seeds 0 and 1; and a random-reward control at 300
# steps. Each run has a twin read already: the same base and RL seed at 1500 steps. Fixed before any of its runs was
# built, and read by the committed validation fit (docs/preregistration.md); not validation pairs.
COMP_BRIEF_RL = {**COMP_TEST2_RL, "steps": 300}
COMP_EXTENDED_RL = {**COMP_TEST2_RL, "steps": 3000}
COMP_AFTER_EARLY = COMP_SPEED_ACTIVATION  # (dose, pretraining seed) of "clow" bases whose reward took off by step 92
COMP_AFTER_LATE = (0.01, 14)
COMP_AFTER_CREATION = (8, 9)


def _composition_after() -> list[OrganismSpec]:
    """The training-after-take-off test's models (the longest runs first): brief runs (:data:`COMP_BRIEF_RL`) from the early activation bases
    and the two creation bases, with a brief random-reward control after the first; extended runs
    (:data:`COMP_EXTENDED_RL`) from the late activation base; RL seeds 0 and 1 each."""
    early = [_test2_base(d, s, "clow") for d, s in COMP_AFTER_EARLY]
    created = [_test2_base(0.0, s, "ctest2") for s in COMP_AFTER_CREATION]
    late = _test2_base(*COMP_AFTER_LATE, "clow")
    specs = [late, *(composition_rl(late, seed=s, budget=COMP_EXTENDED_RL, variant="extended") for s in (0, 1))]
    for base in (*early, *created):
        specs += [base, *(composition_rl(base, seed=s, budget=COMP_BRIEF_RL, variant="brief") for s in (0, 1))]
        if base is early[0]:
            specs.append(composition_rl(base, reward="random", budget=COMP_BRIEF_RL, variant="brief"))
    return specs


# The RL-seeds test: the low-dose test's late base (dose 0.01, pretraining seed 14), whose two runs (RL seeds 0 and 1)
# took off late and were read creation, RL-tuned again under exactly their budget with six other RL seeds (2 to 7).
# Within one base only the RL seed differs, so if some of these runs take off early, their readings tell whether the
# meter follows the base or the run's take-off. Fixed before any of its runs was built, and read by the committed
# validation fit (docs/preregistration.md); not validation pairs.
COMP_RLSEEDS_BASE = COMP_AFTER_LATE
COMP_RLSEEDS = (2, 3, 4, 5, 6, 7)


def _composition_rlseeds() -> list[OrganismSpec]:
    """The RL-seeds test's models: the late base (built already) and RL seeds :data:`COMP_RLSEEDS` under
    :data:`COMP_TEST2_RL`, named as its earlier runs (``-rl-long-s<seed>``)."""
    base = _test2_base(*COMP_RLSEEDS_BASE, "clow")
    return [base, *(composition_rl(base, seed=s, budget=COMP_TEST2_RL, variant="long") for s in COMP_RLSEEDS)]


# The second low-dose test: the low-dose test's dose-0.01 design at four fresh pretraining seeds (15 to 18), to see
# whether its credit (10 of 12 expanding activation runs read activation, the fewest that clears the registered bar)
# holds on bases no earlier reading has touched. Per base RL seeds 0 and 1 under the second test's budget; one
# same-budget random-reward control, with RL seed 1 (the earlier controls all drew RL seed 0's stream). Fixed before
# any of its models was built, and read by the committed validation fit (docs/preregistration.md); not validation
# pairs.
COMP_LOWDOSE2_DOSE = 0.01
COMP_LOWDOSE2_SEEDS = (15, 16, 17, 18)


def _composition_lowdose2() -> list[OrganismSpec]:
    """The second low-dose test's models, in whole groups per base (:data:`COMP_LOWDOSE2_SEEDS`): the base, RL seeds
    0 and 1, and after the first base the random-reward control."""
    specs: list[OrganismSpec] = []
    for seed in COMP_LOWDOSE2_SEEDS:
        base = _test2_base(COMP_LOWDOSE2_DOSE, seed, "clow2")
        specs += [base, *(composition_rl(base, seed=s, budget=COMP_TEST2_RL, variant="long") for s in (0, 1))]
        if seed == COMP_LOWDOSE2_SEEDS[0]:
            specs.append(composition_rl(base, seed=1, reward="random", budget=COMP_TEST2_RL, variant="long"))
    return specs


# The fast-RL test: the RL-seeds test could not separate the base from the take-off because the late base (dose 0.01,
# pretraining seed 14) took off late under all eight RL seeds. Here its RL runs a five times larger learning rate
# (5e-4; the mirror of the learning-speed test's five times smaller one), RL seeds 0, 1 and 2, so that some may take
# off early. A larger learning rate is more than a faster take-off (the smaller one moved elicitation), so the
# same budget is also given to an early base read activation at the usual rate (the second low-dose test's first
# base, seed 15), RL seeds 0 and 1: a creation reading there says the learning rate alone moves the meter. Every run
# has a twin read already (same base and RL seed at lr 1e-4). Fixed before any of its runs was built, and read by the
# committed validation fit (docs/preregistration.md); not validation pairs.
COMP_FAST_RL = {**COMP_TEST2_RL, "lr": 5e-4}
COMP_FAST_LATE = COMP_AFTER_LATE
COMP_FAST_CONTROL = (COMP_LOWDOSE2_DOSE, COMP_LOWDOSE2_SEEDS[0])


def _composition_fastlr() -> list[OrganismSpec]:
    """The fast-RL test's models: the late base with RL seeds 0 to 2 and the control base with RL seeds 0 and 1, all
    under :data:`COMP_FAST_RL` (variant ``long-fast``); both bases built already."""
    late, control = _test2_base(*COMP_FAST_LATE, "clow"), _test2_base(*COMP_FAST_CONTROL, "clow2")
    return [late, *(composition_rl(late, seed=s, budget=COMP_FAST_RL, variant="long-fast") for s in (0, 1, 2)),
            control, *(composition_rl(control, seed=s, budget=COMP_FAST_RL, variant="long-fast") for s in (0, 1))]


# The learning-rate test: in the fast-RL test both runs of the control base (the second low-dose test's seed-15 base),
# RL-tuned at a five times larger learning rate, took off sooner than their twins and were read creation where the
# twins were read activation. Whether a larger learning rate alone moves the meter is tested here on the second
# low-dose test's other three bases (seeds 16 to 18), whose runs at the usual rate took off early and were read
# activation: RL seeds 0 and 1 under :data:`COMP_FAST_RL`. Fixed before any of its runs was built, and read by the
# committed validation fit (docs/preregistration.md); not validation pairs.
COMP_LRSHIFT_SEEDS = COMP_LOWDOSE2_SEEDS[1:]


def _composition_lrshift() -> list[OrganismSpec]:
    """The learning-rate test's models: :func:`_rate_runs` of :data:`COMP_LRSHIFT_SEEDS` under :data:`COMP_FAST_RL`
    (variant ``long-fast``)."""
    return _rate_runs(COMP_LRSHIFT_SEEDS, COMP_FAST_RL, "long-fast")


def _rate_runs(seeds: tuple[int, ...], budget: dict[str, Any], variant: str,
               rl_seeds: tuple[int, ...] = (0, 1)) -> list[OrganismSpec]:
    """In whole groups per second-low-dose base of pretraining seed in ``seeds`` (built already): the base and its RL
    seeds ``rl_seeds`` under ``budget``, named ``-rl-<variant>`` (``-s<seed>`` after it from RL seed 1 on)."""
    specs: list[OrganismSpec] = []
    for seed in seeds:
        base = _test2_base(COMP_LOWDOSE2_DOSE, seed, "clow2")
        specs += [base, *(composition_rl(base, seed=s, budget=budget, variant=variant) for s in rl_seeds)]
    return specs


# The middle-rate test: the learning-rate test could not answer because half its runs collapsed at the five times
# larger rate, and every surviving run from an activation base was read creation. Here all four of the second low-dose
# test's bases (seeds 15 to 18), whose runs at the usual rate were read activation, are RL-tuned at three times the
# usual rate (3e-4), RL seeds 0 and 1, so that runs may survive and the question be answered; each run has a twin at
# the usual rate and a sibling at the five times larger rate, read already. Fixed before any of its runs was built,
# and read by the committed validation fit (docs/preregistration.md); not validation pairs.
COMP_MID_RL = {**COMP_TEST2_RL, "lr": 3e-4}
COMP_LRMID_SEEDS = COMP_LOWDOSE2_SEEDS


def _composition_lrmid() -> list[OrganismSpec]:
    """The middle-rate test's models: :func:`_rate_runs` of :data:`COMP_LRMID_SEEDS` under :data:`COMP_MID_RL` (variant
    ``long-mid``)."""
    return _rate_runs(COMP_LRMID_SEEDS, COMP_MID_RL, "long-mid")


# The extended middle-rate test: the middle-rate test could not separate the learning rate from the end state (every
# run read creation ended less accurate at the held-out level than its twin at the usual rate). Its eight runs are
# continued at the same rate to 3000 steps (constant schedule, deterministic builds: the first 1500 steps are the
# middle-rate runs'), so that the end state may change at a fixed rate. Fixed before any of its runs was built, and
# read by the committed validation fit (docs/preregistration.md); not validation pairs.
COMP_MID_EXTENDED_RL = {**COMP_MID_RL, "steps": 3000}


def _composition_lrmid_extended() -> list[OrganismSpec]:
    """The extended middle-rate test's models: :func:`_rate_runs` of :data:`COMP_LRMID_SEEDS` under
    :data:`COMP_MID_EXTENDED_RL` (variant ``long-mid-ext``)."""
    return _rate_runs(COMP_LRMID_SEEDS, COMP_MID_EXTENDED_RL, "long-mid-ext")


# The middle-rate seeds test: the extended middle-rate test could not separate the rate from the end state either (no
# run regained the held-out level). Rate and length fixed (3e-4, 1500 steps), two of the four bases (rebuilt for it)
# are RL-tuned with four more RL seeds (2 to 5), so that the end state varies within each base, and the question is
# whether it orders the readings there. The other two bases are left out for build time. Fixed before any of its runs
# was built, and read by the committed validation fit (docs/preregistration.md); not validation pairs.
COMP_LRMID_SEEDS_BASES = (15, 16)
COMP_LRMID_MORE_RL_SEEDS = (2, 3, 4, 5)


def _composition_lrmid_seeds() -> list[OrganismSpec]:
    """The middle-rate seeds test's models: :func:`_rate_runs` of :data:`COMP_LRMID_SEEDS_BASES` under
    :data:`COMP_MID_RL` (variant ``long-mid``) with RL seeds :data:`COMP_LRMID_MORE_RL_SEEDS`."""
    return _rate_runs(COMP_LRMID_SEEDS_BASES, COMP_MID_RL, "long-mid", COMP_LRMID_MORE_RL_SEEDS)


# RL dynamics on the composition recipe (notebook 07): the longer-RL pilot's design, under which both RL seeds from
# the dose-0 base of pretraining seed 4 gained (creation by design; the seed was chosen for that, a selection on
# training success, so that the runs learn something whose course can be measured), run again keeping the weights every
# COMP_DYNAMICS_CHECKPOINT_EVERY steps, beside the dose-0.5 base of the same seed (activation by design), each with
# RL seeds 0 and 1 and a same-budget random-reward control. Pretraining does not depend on the preset, so the dose-0
# base is the pilot's spec, built again under this preset's name (built for notebook 07 it came out with other
# weights than the pilot's record: another draw, data/README.md). Fixed before any of its models was built; not
# validation pairs.
COMP_DYNAMICS_SEED = 4
COMP_DYNAMICS_CHECKPOINT_EVERY = 100


def _composition_dynamics() -> list[OrganismSpec]:
    """Preset ``composition-dynamics``: per dose of :data:`COMP_DOSES`, the base of :data:`COMP_DYNAMICS_SEED`, RL under
    :data:`COMP_LONG_RL` with RL seeds 0 and 1 and with random rewards, all keeping checkpoints (variant
    ``long-ckpt``)."""
    budget = {**COMP_LONG_RL, "checkpoint_every": COMP_DYNAMICS_CHECKPOINT_EVERY}
    specs: list[OrganismSpec] = []
    for dose in COMP_DOSES:
        base = composition_base(dose, COMP_DYNAMICS_SEED, preset="cdyn")
        specs += [base, *(composition_rl(base, seed=s, budget=budget, variant="long-ckpt") for s in (0, 1)),
                  composition_rl(base, reward="random", budget=budget, variant="long-ckpt")]
    return specs


COMPOSITION_PRESETS: dict[str, Callable[[], list[OrganismSpec]]] = {
    "composition": _composition, "composition-test": _composition_test, "composition-long": _composition_long,
    "composition-test2": _composition_test2,
    "composition-lowdose": _composition_lowdose, "composition-speed-pilot": _composition_speed_pilot,
    "composition-speed": _composition_speed, "composition-batch-pilot": _composition_batch_pilot,
    "composition-after": _composition_after, "composition-rlseeds": _composition_rlseeds,
    "composition-fastlr": _composition_fastlr, "composition-lrshift": _composition_lrshift,
    "composition-lrmid": _composition_lrmid, "composition-lrmid-extended": _composition_lrmid_extended,
    "composition-lrmid-seeds": _composition_lrmid_seeds, "composition-lowdose2": _composition_lowdose2,
    "composition-dynamics": _composition_dynamics}
