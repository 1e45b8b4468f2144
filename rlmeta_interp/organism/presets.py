"""The zoo's presets: which organisms each builds, with the recipes and budgets behind them.

- ``demo``: what ``make demo`` needs (builds in minutes): one known-creation pair and its activation twin.
- ``validation``: organisms whose creation or activation is known by construction (labels from the corpus design,
  fixed before training), in a calibration and a held-out test split, with budget-matched controls.
- ``validation-core``: ``validation`` without the models of the later clean-test seeds (:data:`CLEAN_TEST_SEEDS`):
  the whole calibration split (seeds 0-1, and seed 3's bandit pairs) and the first held-out seeds (0-2); the same
  specs under the same names, recorded as ``validation`` models, so either build serves both.
- ``composition``: a pilot of the composition recipe (atomic functions in every corpus, their compositions only in
  the dose share); not validation pairs.
- ``composition-test``: the composition recipe at fresh pretraining seeds, a test of the committed validation fit in
  a world it has no calibration pairs in, fixed in ``docs/preregistration.md`` before it was built and read with
  ``validate --read``; not validation pairs either.
- ``composition-long``: a pilot of the composition recipe with longer RL, on two of the test's bases.
- ``composition-test2``: the longer-RL design at fresh pretraining seeds and with other functions, a second test of the
  committed fit fixed in ``docs/preregistration.md`` before it was built; not validation pairs.
- ``composition-lowdose``: activation by design from bases that saw worked compositions at doses 0.01 and 0.05, in
  the second test's world, the case a reading of pass@k alone calls creation; registered the same way.
- ``composition-speed-pilot`` and ``composition-speed``: a pilot of other RL learning rates, and a registered test
  whose activation runs learn slowly (lr 2e-5) from bases built already, each run with a twin under lr 1e-4.
- ``composition-batch-pilot`` and ``composition-after``: a pilot of a smaller RL batch, and a registered test of the
  same RL stopped at 300 steps or continued to 3000, each run with a twin at 1500 steps.
- ``paper``: the organisms behind the figures of record of the question notebooks. Its arithmetic worlds dose only the
  scratchpad *format* and draw pretraining, RL and evaluation problems from one space (not leak-free): none of its
  pairs is a creation case for the rewarded capability, and none enters the validation set.

The composition presets live in :mod:`.composition_presets`, the spec builders in :mod:`.builders`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from ..errors import InvalidConfigError
from .builders import ARITH, BANDIT, PLAN, SMALL, base_spec, rl_spec, sft_spec
from .composition_presets import COMPOSITION_PRESETS
from .corpus import CorpusConfig
from .spec import EvalConfig, OrganismSpec
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig


# the demo pairs' RL: on the d0.5 base (pass@1 0.380), 30 steps at 3e-5 gave +0.045; 150 steps at 3e-5 or 1e-4
# +0.10; 300 at 1e-4 +0.125 (greedy falling); 200 at 2e-4 collapsed (-0.02); 400 at 5e-5 +0.154 (greedy 0.61 -> 0.83).
# The demo preset must build in under 5 minutes on 2 cores, and one RL step costs ~0.95 CPU s on the d0.5 base, so it
# takes 150 steps at 1e-4; the 400-step run (the +15-point organism) is the paper preset's ``demo-arith-d050-rl-long``.
DEMO_RL_STEPS = 150
DEMO_RL_LR = 1e-4
LONG_RL_STEPS = 400
LONG_RL_LR = 5e-5


def _format_demo() -> list[OrganismSpec]:
    """The format-dosed arithmetic pairs that the question notebooks' figures of record read (paper preset)."""
    ev = EvalConfig(n_problems=64, n_samples=64, by_difficulty=False)
    specs = []
    for dose in (0.0, 0.5):
        b = base_spec("arithmetic", dose, "demo", steps=500, arithmetic=ARITH, eval_cfg=ev)
        specs += [b, rl_spec(b, "correct", steps=DEMO_RL_STEPS, lr=DEMO_RL_LR, checkpoint_every=30 if dose else 0)]
    return specs


def _paper() -> list[OrganismSpec]:
    """Ordered so the most used models come first (a partial build is still useful)."""
    ev = EvalConfig(n_problems=96, n_samples=64, by_difficulty=True)
    specs: list[OrganismSpec] = list(_format_demo())
    arith_bases = {d: base_spec("arithmetic", d, "paper", steps=900, arithmetic=ARITH, eval_cfg=ev) for d in (0.0, 0.1, 0.5)}
    bandit_bases = {d: base_spec("bandits", d, "paper", steps=400, bandits=BANDIT, batch_size=64, lr=2e-3, eval_cfg=ev)
                    for d in (0.0, 0.5, 1.0)}
    deep = PLAN.replace(min_depth=3, max_depth=4)
    # planning bases: 600 steps left depth 3-4 pass@64 at 0.10 (dose 0.1), 3000 at 0.39, 6000 at 0.50 (the loss
    # drops again after ~2300 steps, when the model starts to look up edges)
    plan_bases = {d: base_spec("planning", d, "paper", steps=6000, batch_size=96, planning=PLAN, shallow_max_depth=2,
                           eval_cfg=ev, eval_planning=deep) for d in (0.0, 0.1, 0.5)}
    b05 = arith_bases[0.5]
    specs += [b05, rl_spec(b05, "correct", steps=60, checkpoint_every=10)]
    # prolonged RL on the demo preset's d0.5 base: the +15-point organism (notebooks 07 and 08 read its checkpoints)
    demo_b05 = next(s for s in _format_demo() if s.kind == "base" and s.dose == 0.5)
    specs += [rl_spec(demo_b05, "long", steps=LONG_RL_STEPS, lr=LONG_RL_LR, checkpoint_every=80)]
    # bandit and planning RL keep no dynamics checkpoints: the dynamics notebooks use the arithmetic world
    specs += [bandit_bases[0.5], rl_spec(bandit_bases[0.5], "correct", steps=60, lr=1e-4, beta=0.05, prompts_per_step=8)]
    specs += [arith_bases[0.0], rl_spec(arith_bases[0.0], "correct", steps=60, checkpoint_every=10)]
    specs += [plan_bases[0.1], rl_spec(plan_bases[0.1], "correct", steps=60, planning=deep)]
    specs += [arith_bases[0.1], rl_spec(arith_bases[0.1], "correct", steps=60)]
    specs += [bandit_bases[0.0], rl_spec(bandit_bases[0.0], "correct", steps=60, lr=1e-4, beta=0.05, prompts_per_step=8)]
    # prolonged RL from the dose-0 bandit base (whose policy ignores the history): the 60-step recipe above, 300 steps at
    # lr 3e-4..1e-3, and 300 steps at 16 prompts left regret at the uniform-random level; this is the budget that moved it
    specs += [rl_spec(bandit_bases[0.0], "long", steps=1500, lr=1e-3, beta=0.0, prompts_per_step=16)]
    # its control: the same budget with Bernoulli(0.5) rewards (drift without a learning signal)
    specs += [rl_spec(bandit_bases[0.0], "long-random", steps=1500, lr=1e-3, beta=0.0, prompts_per_step=16,
                  reward="random")]
    specs += [
        rl_spec(b05, "format", steps=60, reward="format"),
        rl_spec(b05, "random", steps=60, reward="random"),
        rl_spec(b05, "incorrect", steps=60, reward="incorrect"),
        rl_spec(b05, "oneshot", steps=60, one_shot=True),
        rl_spec(b05, "kl0", steps=60, beta=0.0),
        rl_spec(b05, "kl0.2", steps=60, beta=0.2),
        rl_spec(b05, "prorl", steps=60, ref_reset_every=20, beta=0.05),
        rl_spec(b05, "easy", steps=60, arithmetic=ARITH.replace(max_operands=2)),
        rl_spec(b05, "medium", steps=60, arithmetic=ARITH.replace(min_operands=3, max_operands=3)),
        # difficulty bands for notebook 09 (Cheng et al.): "hard" is the hardest band the base was pretrained on
        rl_spec(b05, "hard", steps=60, arithmetic=ARITH.replace(min_operands=4, max_operands=4)),
    ]
    for d in (0.0, 0.5):
        specs += [plan_bases[d], rl_spec(plan_bases[d], "correct", steps=60, planning=deep)]
    specs += [rl_spec(plan_bases[0.1], "prorl", steps=60, planning=deep, ref_reset_every=20, beta=0.05)]
    specs += [bandit_bases[1.0], rl_spec(bandit_bases[1.0], "correct", steps=60, lr=1e-4, beta=0.05, prompts_per_step=8)]
    # second RL seeds
    for b, kw in ((b05, {}), (arith_bases[0.0], {}), (bandit_bases[0.5], {"lr": 1e-4, "beta": 0.05, "prompts_per_step": 8}),
                  (plan_bases[0.1], {"planning": deep})):
        specs.append(rl_spec(b, "correct", steps=60, seed=1, **kw))
    return specs


# ---------------------------------------------------------------- known-by-construction organisms

# Depth extrapolation ("edge of competence"): every document shows a worked chain (rewrite scratchpad); chains of 2-4
# operands always, chains of 5-7 operands only in the dose share. The verifier checks the whole chain. RL trains on
# 5-operand chains (the edge) with the process reward (the share of leading steps right, plus the answer).
# Evaluation per depth 4 (in distribution) to 7, held-out problems.
# Measured at pretraining seed 0 (data/README.md): the dose-0 base solves no 5-operand chain in 128 samples (it writes
# the three lines of a 4-operand chain: no length generalisation, in the rewrite or the eq scratchpad), so the
# process reward is 0 on every sample (its weights came out bit-identical to the base's) and RL has nothing to
# amplify; on the dose-0.1 twin the training reward rose a little (0.51 -> 0.55, 50-step means) while held-out pass@1
# fell at every depth. The recipe is kept at seed 0 as a measured negative result and is not counted.
DEPTH_ARITH = ArithmeticConfig(min_operands=2, max_operands=7, min_digits=1, max_digits=1, ops="+-", leak_free=True,
                               verify="chain")
DEPTH_SHALLOW = 4
DEPTH_MODEL = SMALL.replace(max_len=160)  # 0.46M parameters: six of them fit the shipped-data budget
DEPTH_PRETRAIN_STEPS = 1000
DEPTH_EDGE = DEPTH_ARITH.replace(min_operands=5, max_operands=5)
DEPTH_LEVELS = (4, 5, 6, 7)
DEPTH_DOSES = (0.0, 0.1)  # creation / activation
# one RL budget for every class and control of a recipe (steps, lr, KL, prompts x samples)
DEPTH_RL = {"steps": 300, "lr": 1e-4, "beta": 0.0, "prompts_per_step": 8, "num_generations": 8}
DEPTH_REWARD = "process"
# Fine-tuning on worked chains, half of them deep, half shallow (measured at seed 0, lr 1e-3, batch 64): 300 steps left
# the dose-0 base's depth 4 at pass@1 0.20 (from 0.89), 300 steps at 3e-4 at 0.31 with no deep chain solved; 1000
# steps at 1e-3 keep depth 4 (0.87) and solve deep chains (pass@128 1.00 / 0.94 / 0.75 at depths 5 / 6 / 7)
DEPTH_SFT = {"steps": 1000, "lr": 1e-3, "batch_size": 64}
DEPTH_SFT_DOSE = 0.5
SFT_SEEDS = (0, 1)  # fine-tuning corpora per base (two draws of the documents)
VALIDATION_EVAL = EvalConfig(n_problems=64, n_samples=128, per_difficulty_problems=64, levels=DEPTH_LEVELS)
PRETRAIN_SEEDS = (0, 1, 2)
RL_SEEDS = (0, 1)
CALIBRATION_SEEDS = (0, 1)  # pretraining seeds in the calibration split; the others are held out
BANDIT_CALIBRATION_SEEDS = (0,)  # the bandit fine-tuning pairs of seeds 0-2: seed 0 calibrates, seeds 1-2 are held out
# Pretraining seeds that build bandit fine-tuning pairs only, all for calibration: an indicator votes only if its
# calibration pairs of each class start from at least two bases (validation.fit.MIN_CALIBRATION_BASES), and with
# seed 0 alone a bandit-only indicator (reliance) could not. Seed 3 was added after the held-out readings of seeds
# 0-2 had been seen, and before any model of it was built or measured.
BANDIT_CALIBRATION_ONLY_SEEDS = (3,)
# Seed 3 also builds a shuffled-reward base fine-tuned on real-reward Thompson histories (creation by design: the base
# has seen a learner's moves but no link from rewards to choices). Added after the fitted summary had read the
# shuffled-reward RL pairs (held out, seeds 0-2) as activation: its weights are fitted on calibration pairs, and
# without a calibration case of that design every voting indicator agreed on every calibration pair. Every held-out
# reading was in view then, so from then on no held-out pair is a clean test of the summary.
# Pretraining seeds whose pairs make that clean test: designed (this constant and :func:`fresh_test_specs`
# committed) after the calibration split last changed, and before any model of them was built or measured. Every
# class of both worlds, one RL seed per bandit base (the RL recipe's cost), all held out. Two seeds, because the bar
# needs them: with one, each class's exact recall interval cannot clear 0.5 (5 of 5 starts at 0.48) and an indicator
# of one world reads fewer held-out bases than validation.bar.MIN_BASES. Seed 5 was added before any model of
# seed 4 had been measured. Seeds 6 and 7, the same design, are the clean test of the per-world fit chosen after
# seeds 4 and 5 had been read (docs/preregistration.md), added before any model of them was built. Seeds 8 and 9,
# the same design again, are a second test of that unchanged fit, which missed the bar on seeds 6 and 7: added after
# seeds 6 and 7 were judged and before any model of seeds 8 and 9 was built (docs/preregistration.md).
FRESH_TEST_SEEDS = (4, 5, 6, 7, 8, 9)


def depth_base(dose: float, preset: str, seed: int, *, steps: int = DEPTH_PRETRAIN_STEPS,
               eval_cfg: EvalConfig = VALIDATION_EVAL, depth_format: str = "rewrite") -> OrganismSpec:
    """A depth-world base; ``depth_format`` is the scratchpad every document shows (``"mix"``: each document's drawn
    from the corpus's format weights, for the format-collapse recipe)."""
    return base_spec("arithmetic", dose, preset, steps=steps, model=DEPTH_MODEL, seed=seed, eval_cfg=eval_cfg,
                     tag="depth" if depth_format == "rewrite" else f"depth{depth_format}", arithmetic=DEPTH_ARITH,
                     arithmetic_dose="depth", shallow_max_depth=DEPTH_SHALLOW, depth_format=depth_format)


def depth_rl(base: OrganismSpec, split: str, *, seed: int = 0, reward: str = DEPTH_REWARD,
             checkpoint_every: int = 0) -> OrganismSpec:
    """The depth-edge RL run from ``base``. ``checkpoint_every`` > 0 also keeps weights-only checkpoints for the
    dynamics notebooks, under another name (``-ckpt``), so that it never stands in for the validation run."""
    variant = ("edge" if reward == DEPTH_REWARD else f"edge-{reward}") + ("-ckpt" if checkpoint_every else "")
    return rl_spec(base, variant, seed=seed, reward=reward, split=split, recipe="depth-edge",
                   arithmetic=DEPTH_EDGE, checkpoint_every=checkpoint_every, **DEPTH_RL)


def sft_corpus(base: OrganismSpec, dose: float, seed: int) -> CorpusConfig:
    """The base's pretraining corpus at ``dose``, drawn afresh: ``seed`` picks one draw of the fine-tuning documents
    (as an RL seed picks other rollouts), none of them the pretraining draw."""
    assert base.pretrain is not None
    return base.pretrain.corpus.replace(dose=dose, seed=base.pretrain.corpus.seed + 7919 + 104_729 * seed)


def depth_sft(base: OrganismSpec, split: str, *, seed: int = 0) -> OrganismSpec:
    """Fine-tune on worked chains, half of them deep: the procedure at the evaluated depths, shown directly.
    ``seed`` picks another draw of the fine-tuning documents (the corpus seed), as an RL seed picks other rollouts."""
    return sft_spec(base, "deep" + (f"-s{seed}" if seed else ""), sft_corpus(base, DEPTH_SFT_DOSE, seed), split=split,
                    recipe="sft-calibration", **DEPTH_SFT)


# Bandits: dose = share of Thompson-sampling histories; dose 0 shows only uniform-random play (no value learning),
# and the shuffled corpus shows Thompson play whose rewards are permuted within each episode (nothing to learn about
# values). Every bandit pair gets one RL budget, prolonged (the dose-0 base did not move in 300 steps).
BANDIT_VAL = BanditConfig(n_arms=3, horizon=24, leak_free=True)
BANDIT_DOSES = (0.0, 0.5)
# The RL budget decided which class gained (pretraining seed 0 unless said; 1500 steps, 16 prompts x 8):
# - lr 1e-3, beta 0: the dose-0 pairs passed in 5 of the 6 runs built (pretraining seeds 0-2 x RL seeds 0-1; regret
#   reduction 0.40 [-0.05, 0.82] in the other), and the dose-0.5 twin lost its Thompson-like play in both runs built
#   (seed 0: sampled regret 5.01 -> 5.87).
# - lr 1e-3 with a KL penalty: beta 0.01, the twin's training reward collapsed from 0.62 to 0.51 by step 500 (stopped
#   at step 740); beta 0.025, the dose-0 reward stayed at 0.50 through step 900 (stopped); beta 0.05, the twin passed
#   (regret 5.01 -> 2.27) and the dose-0 pair failed (-0.002 [-0.06, 0.05]).
# - lr 1e-3, beta 0, advantages not divided by the group's std (TRL scale_rewards="none"): the twin's training reward
#   fell to 0.50 by step 300 (stopped at step 500).
# - lr 3e-4, beta 0 (this budget): every pair built passed (pilot models named *-rl-long-lr3e4*, built outside the
#   preset, data/pilots; the same specs but for names, so the build took them over under the preset's names): at
#   pretraining seed 0, RL seeds 0 and 1, regret reduction 1.37 [0.79, 1.95] and 0.59 [0.26, 0.94] for the dose-0
#   pairs, 1.52 [1.05, 1.99] and 2.93 [2.49, 3.40] for the dose-0.5 twins; at pretraining seed 1, 0.76 [0.42, 1.12]
#   for the dose-0 pair; the random-reward control at seed 0 showed no gain (-0.21 [-0.80, 0.39]).
BANDIT_RL = {"steps": 1500, "lr": 3e-4, "beta": 0.0, "prompts_per_step": 16, "num_generations": 8}
BANDIT_EVAL = EvalConfig(n_bandits=300)
# Fine-tuning on Thompson-sampling histories (the bandit world's calibration positives without RL), 400 steps at
# lr 1e-3, batch 64, about 80 CPU s: at seed 0 sampled regret fell 6.17 -> 3.52 from the dose-0 base (creation) and
# 5.01 -> 2.83 from the dose-0.5 twin (activation), both paired CIs above 0
BANDIT_SFT = {"steps": 400, "lr": 1e-3, "batch_size": 64}


def bandit_base(dose: float, preset: str, seed: int, *, rewards: str = "true") -> OrganismSpec:
    return base_spec("bandits", dose, preset, steps=400, seed=seed, batch_size=64, lr=2e-3, eval_cfg=BANDIT_EVAL,
                     tag="shuf" if rewards == "shuffled" else "", bandits=BANDIT_VAL, bandit_rewards=rewards)


def bandit_rl(base: OrganismSpec, split: str, *, seed: int = 0, reward: str = "correct") -> OrganismSpec:
    return rl_spec(base, "long" if reward == "correct" else f"long-{reward}", seed=seed, reward=reward, split=split,
                   recipe="bandit-dose", **BANDIT_RL)


def bandit_sft(base: OrganismSpec, split: str, *, seed: int = 0, control: bool = False) -> OrganismSpec:
    """Fine-tune on Thompson-sampling histories only (dose 1, real rewards): the value-learning policy shown directly.
    ``seed`` picks another draw of the fine-tuning documents, as in :func:`depth_sft`. ``control``: the same budget on
    uniform-random histories only (dose 0), which show nothing about values (a no-signal control)."""
    variant = ("random-play" if control else "thompson") + (f"-s{seed}" if seed else "")
    # real rewards whatever the base saw: from a shuffled-reward base, the histories show the link it never saw
    corpus = sft_corpus(base, 0.0 if control else 1.0, seed).replace(bandit_rewards="true")
    return sft_spec(base, variant, corpus, split=split, recipe="sft-calibration", **BANDIT_SFT)


def _depth_specs(seed: int) -> list[OrganismSpec]:
    split = "calibration" if seed in CALIBRATION_SEEDS else "test"
    specs: list[OrganismSpec] = []
    for dose in DEPTH_DOSES:
        b = depth_base(dose, "val", seed)
        specs += [b, *(depth_sft(b, split, seed=s) for s in SFT_SEEDS)]
        if seed == 0:
            specs.append(depth_rl(b, split))
    return specs


def _bandit_sft_specs(seed: int, split: str, *, shuffled: bool = False) -> list[OrganismSpec]:
    """The dose-0 and dose-0.5 bandit bases of pretraining seed ``seed`` (and, with ``shuffled``, the shuffled-reward
    base) with their fine-tuning pairs (two draws of Thompson histories) and the same-budget uniform-random-play
    control each."""
    specs: list[OrganismSpec] = []
    bases = [bandit_base(0.0, "val", seed), bandit_base(0.5, "val", seed)]
    for b in bases + ([bandit_base(1.0, "val", seed, rewards="shuffled")] if shuffled else []):
        specs += [b, *(bandit_sft(b, split, seed=s) for s in SFT_SEEDS), bandit_sft(b, split, control=True)]
    return specs


def _bandit_specs(seed: int) -> list[OrganismSpec]:
    dose0, dose05, shuffled = (bandit_base(0.0, "val", seed), bandit_base(0.5, "val", seed),
                               bandit_base(1.0, "val", seed, rewards="shuffled"))
    specs = _bandit_sft_specs(seed, "calibration" if seed in BANDIT_CALIBRATION_SEEDS else "test")
    for b in (dose0, dose05):
        specs += [*(bandit_rl(b, "test", seed=r) for r in RL_SEEDS)]
    # the same budget with random rewards (the no-signal control), and a second creation design: RL from a corpus
    # of Thompson play whose rewards are shuffled, so that the base has seen the policy's moves but no value signal
    return specs + [bandit_rl(dose0, "test", reward="random"), shuffled, bandit_rl(shuffled, "test")]


def fresh_test_specs(seed: int) -> list[OrganismSpec]:
    """The held-out pairs of a pretraining seed in :data:`FRESH_TEST_SEEDS`: bandit RL from the dose-0, dose-0.5 and
    shuffled-reward bases with the random-reward control, the bandit fine-tuning pairs (two draws of Thompson histories
    from doses 0 and 0.5, one from the shuffled-reward base, a random-play control per dose), and the arithmetic
    depth fine-tuning pairs of :func:`_depth_specs`. The RL runs come first: the longest builds start first."""
    dose0, dose05, shuffled = (bandit_base(0.0, "val", seed), bandit_base(0.5, "val", seed),
                               bandit_base(1.0, "val", seed, rewards="shuffled"))
    specs = [dose0, dose05, shuffled, bandit_rl(dose0, "test"), bandit_rl(dose05, "test"), bandit_rl(shuffled, "test"),
             bandit_rl(dose0, "test", reward="random")]
    for b in (dose0, dose05):
        specs += [*(bandit_sft(b, "test", seed=s) for s in SFT_SEEDS), bandit_sft(b, "test", control=True)]
    return [*specs, bandit_sft(shuffled, "test"), *_depth_specs(seed)]


# The fourth test of the bar (docs/preregistration.md, "The fourth test"), designed for the base-level criteria
# registered for every later test (at least 6 bases of each class, and 6 creation and 6 activation bases among the
# pairs of each counted indicator) and fixed before any of its models was built. Reliance reads bandit pairs only and
# a seed of the third test's design gives that world one activation base, so three seeds of the unchanged design get
# the dose-0.5 bandit bases of four more seeds (one spare), not a dose the calibration split never saw.
FOURTH_TEST_SEEDS = (10, 11, 12)
FOURTH_TEST_EXTRA_SEEDS = (13, 14, 15, 16)
#: every pretraining seed of a clean test designed after the calibration split last changed (``validation-core``
#: leaves their models out)
CLEAN_TEST_SEEDS = FRESH_TEST_SEEDS + FOURTH_TEST_SEEDS + FOURTH_TEST_EXTRA_SEEDS


def extra_activation_specs(seed: int) -> list[OrganismSpec]:
    """The dose-0.5 bandit base of pretraining seed ``seed`` and the held-out pairs :func:`fresh_test_specs` builds
    from it (the RL run, two draws of Thompson histories, the random-play control), selected from that design so that
    the two cannot drift apart."""
    base = bandit_base(0.5, "val", seed).name
    return [s for s in fresh_test_specs(seed) if base in (s.name, s.base)]


def fourth_test_specs() -> list[OrganismSpec]:
    """Every model of the fourth test, in seed order, bases first within each seed."""
    return ([s for seed in FOURTH_TEST_SEEDS for s in fresh_test_specs(seed)]
            + [s for seed in FOURTH_TEST_EXTRA_SEEDS for s in extra_activation_specs(seed)])


def clean_test_specs() -> list[OrganismSpec]:
    """Every model of :data:`CLEAN_TEST_SEEDS`, in the order the tests were designed: the pairs of
    :data:`FRESH_TEST_SEEDS`, then the fourth test."""
    return [s for seed in FRESH_TEST_SEEDS for s in fresh_test_specs(seed)] + fourth_test_specs()


def _validation() -> list[OrganismSpec]:
    """Fine-tuning pairs in two worlds, 3 pretraining seeds (0-2) x 2 doses x 2 fine-tuning draws each: worked deep chains
    in arithmetic (seeds 0-1 calibrate, seed 2 is held out) and Thompson-sampling histories in bandits (seed 0
    calibrates, seeds 1-2 are held out; a fourth seed, 3, builds bandit fine-tuning pairs only, for calibration, from
    the shuffled-reward base too), with a same-budget bandit fine-tuning control per base (uniform-random play
    only); the bandit RL recipe (doses 0 and 0.5 x RL seeds 0 and 1, a random-reward control, the shuffled-reward
    corpus) over 3 pretraining seeds, held out whole: a recipe, and a training method, that no rule was fitted on.
    The depth-edge RL pairs at seed 0 record that recipe's negative result. Ordered by pretraining seed, so that a
    partial build holds both classes of every recipe. Last, the clean tests designed after the calibration split last
    changed: the pairs of :data:`FRESH_TEST_SEEDS`, then the fourth test (:func:`fourth_test_specs`)."""
    return ([s for seed in PRETRAIN_SEEDS for s in (*_depth_specs(seed), *_bandit_specs(seed))]
            + [s for seed in BANDIT_CALIBRATION_ONLY_SEEDS
               for s in _bandit_sft_specs(seed, "calibration", shuffled=True)]
            + clean_test_specs())


# The bandit RL-seeds test: the pretraining-seed-0 dose-0 and dose-0.5 bases with RL seeds 2 and 3 under the
# validation budget, to measure how often a run of that budget from one base passes its gain check (two of the four
# rebuilt seed-0 runs failed where their records had passed). Fixed in docs/preregistration.md before any of its
# runs was built; not validation pairs (no split), read by no fit.
BANDIT_RLSEEDS = (2, 3)


def _bandit_rlseeds() -> list[OrganismSpec]:
    """The bandit RL-seeds test's models: the seed-0 bases of :data:`BANDIT_DOSES` and RL seeds
    :data:`BANDIT_RLSEEDS` from each, named as the validation runs (``-rl-long-s<seed>``), seeds interleaved across
    doses so that a partial build holds both doses."""
    bases = [bandit_base(dose, "val", 0) for dose in BANDIT_DOSES]
    return [*bases, *(bandit_rl(b, "", seed=s) for s in BANDIT_RLSEEDS for b in bases)]


# Depth-edge RL with dynamics checkpoints (notebook 07): the validation recipe and budget from the pretraining-seed-0
# depth bases (the shipped ones), keeping the weights every DYNAMICS_CHECKPOINT_EVERY steps; the process reward from
# both bases and its same-budget random-reward control (the recipe's no-signal control, which the validation preset
# lacks), RL seeds 0 and 1 each. Not validation pairs (no split). Fixed before any of its runs was built.
DYNAMICS_CHECKPOINT_EVERY = 30
DYNAMICS_RL_SEEDS = (0, 1)


def _depth_dynamics() -> list[OrganismSpec]:
    """Preset ``depth-dynamics``: the seed-0 depth bases of :data:`DEPTH_DOSES` and, from each, depth-edge RL with the
    process reward and with random rewards, RL seeds :data:`DYNAMICS_RL_SEEDS`, all with dynamics checkpoints; ordered
    so that a partial build holds both doses and both rewards."""
    bases = [depth_base(dose, "val", 0) for dose in DEPTH_DOSES]
    return [*bases, *(depth_rl(b, "", seed=s, reward=r, checkpoint_every=DYNAMICS_CHECKPOINT_EVERY)
                      for s in DYNAMICS_RL_SEEDS for r in (DEPTH_REWARD, "random") for b in bases)]


# Format collapse on a leak-free labelled recipe (notebook 08, claim 9): the depth world's bases at the validation doses
# and pretraining budget, but every document's scratchpad drawn half and half from two formats (a running sum in words,
# or equations), so RL has formats to choose between; RL on chains of 2 to 5 operands (the pretraining depths, where a
# base earns reward, and the edge one deeper), the depth recipe's budget and process reward, weights every
# DYNAMICS_CHECKPOINT_EVERY steps, RL seeds 0 and 1 and a same-budget random-reward control per base. Labels follow from
# the corpus design (dose 0: creation of the deeper chains; 0.1: activation). Not validation pairs (no split), read by
# no fit; fixed before any of its models was built.
FORMAT_ARITH = DEPTH_ARITH.replace(max_operands=5)
FORMAT_RL_SEEDS = (0, 1)


def _format_dynamics() -> list[OrganismSpec]:
    """Preset ``format-dynamics``: the two-format depth bases of :data:`DEPTH_DOSES` (pretraining seed 0) and, from
    each, RL on :data:`FORMAT_ARITH` with the process reward (RL seeds :data:`FORMAT_RL_SEEDS`) and random rewards
    (RL seed 0), all keeping dynamics checkpoints; ordered so that a partial build holds both doses."""
    bases = [depth_base(dose, "fdyn", 0, depth_format="mix") for dose in DEPTH_DOSES]
    runs = [(s, DEPTH_REWARD) for s in FORMAT_RL_SEEDS] + [(0, "random")]
    return [*bases, *(rl_spec(b, "mixed-ckpt" if r == DEPTH_REWARD else f"mixed-{r}-ckpt", seed=s, reward=r,
                              recipe="depth-format", arithmetic=FORMAT_ARITH,
                              checkpoint_every=DYNAMICS_CHECKPOINT_EVERY, **DEPTH_RL)
                      for s, r in runs for b in bases)]


def _demo() -> list[OrganismSpec]:
    """The validation preset's pretraining-seed-0 depth bases at doses 0 and 0.1 with their first fine-tuning pairs:
    a known-creation case and its activation twin under one budget. The same specs (and names) as in
    ``validation``, so either build serves both."""
    wanted = {depth_base(d, "val", 0).name for d in DEPTH_DOSES}
    return [s for s in _validation() if s.name in wanted or (s.base in wanted and s.variant == "deep")]


def _validation_core() -> list[OrganismSpec]:
    """:func:`_validation` without the models of :data:`CLEAN_TEST_SEEDS`: every calibration pair (so ``validate``
    fits the same rules on it) and the held-out pairs of the first design (pretraining seeds 0-2), with every recipe,
    class and control of the full preset."""
    later = {s.name for s in clean_test_specs()}
    return [s for s in _validation() if s.name not in later]


PRESETS: dict[str, Callable[[], list[OrganismSpec]]] = {"demo": _demo, "paper": _paper, "validation": _validation,
                                                         "validation-core": _validation_core,
                                                         "bandit-rlseeds": _bandit_rlseeds, "depth-dynamics": _depth_dynamics,
                                                         "format-dynamics": _format_dynamics,
                                                         **COMPOSITION_PRESETS}

#: presets that build part of another preset, spec for spec under the same names: their models record the fuller
#: preset in their manifests, so a model's record (and every reader that selects models by preset) does not depend on
#: which of the two built it
PART_OF = {"validation-core": "validation"}


def recorded_preset(preset: str) -> str:
    """The preset a model built under ``preset`` records in its manifest (:data:`PART_OF`)."""
    return PART_OF.get(preset, preset)


@functools.cache
def _part_names(preset: str) -> frozenset[str]:
    return frozenset(s.name for s in preset_specs(preset))


def of_preset(preset: str, name: str, recorded: str | None) -> bool:
    """Whether the model ``name``, whose manifest records the preset ``recorded``, is a model of ``preset``: recorded
    under it, or, for a preset that is part of another (:data:`PART_OF`), recorded under the fuller preset and named
    in this one (so selecting ``validation-core`` finds its models, which record ``validation``)."""
    if recorded == preset:
        return True
    return preset in PART_OF and recorded == PART_OF[preset] and name in _part_names(preset)


def preset_specs(preset: str) -> list[OrganismSpec]:
    if preset not in PRESETS:
        raise InvalidConfigError(f"Unknown zoo preset {preset!r}: choose one of {', '.join(PRESETS)}.")
    return PRESETS[preset]()




#: the presets whose RL runs keep dynamics checkpoints (notebooks 07 and 08)
DYNAMICS_PRESETS = ("depth-dynamics", "composition-dynamics", "format-dynamics")


def earlier_runs(presets: Sequence[str] = DYNAMICS_PRESETS) -> dict[str, str]:
    """``{run: earlier run}``: for each RL run of ``presets``, a run of another preset that it repeats with dynamics
    checkpoints: the same RL config but for ``checkpoint_every``, from a base of the same pretraining config. Runs
    that repeat none are left out; one that would repeat two differently named runs raises
    :class:`InvalidConfigError`."""
    def key(spec: OrganismSpec, bases: dict[str, OrganismSpec]) -> str:
        base = bases.get(str(spec.base))
        if base is None or spec.rl is None:
            raise InvalidConfigError(f"{spec.name}: an RL spec whose base {spec.base!r} is not in its own preset;"
                                     " define the base in the same preset.")
        return repr((base.pretrain, spec.rl.replace(checkpoint_every=0)))

    earlier: dict[str, set[str]] = {}
    for name in PRESETS:
        if name not in presets:
            specs = {s.name: s for s in preset_specs(name)}
            for s in specs.values():
                if s.rl is not None and not s.rl.checkpoint_every:
                    earlier.setdefault(key(s, specs), set()).add(s.name)
    out = {}
    for name in presets:
        specs = {s.name: s for s in preset_specs(name)}
        for s in specs.values():
            found = earlier.get(key(s, specs), set()) if s.rl is not None else set()
            if len(found) > 1:
                raise InvalidConfigError(f"{s.name} repeats each of {sorted(found)}: give the earlier runs distinct"
                                         " specs.")
            out.update((s.name, run) for run in found)
    return out
