"""Designs of later tests of the bar, fixed before any of their models is built (docs/preregistration.md, "The
fourth test"). A design lives here until the session that builds it adds its specs to the ``validation`` preset;
until then the committed table's preset, and so its judged test, are unchanged.

The fourth test is designed to meet the base-level criteria registered for every later test: at least 6 bases of
each class, and at least 6 creation and 6 activation bases among the pairs of each indicator the bar counts. Reliance
reads bandit pairs only, and a seed of the third test's design gives the bandit world one activation base, so the
design adds the dose-0.5 bandit bases of four more pretraining seeds (one spare) to three seeds of the unchanged
design, rather than a new dose the calibration split never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

from .presets import bandit_base, fresh_test_specs
from .spec import OrganismSpec

#: pretraining seeds built with the third test's design unchanged (:func:`~.presets.fresh_test_specs`); none was used
#: before in the bandit or depth worlds
FOURTH_TEST_SEEDS = (10, 11, 12)
#: pretraining seeds whose dose-0.5 bandit base alone is built, with its RL run, its two fine-tuning draws and the
#: random-play control: with the three above, 7 bandit activation bases, one more than the criteria's minimum, since
#: reliance reads a pair only where the model's own reliance is measurably above zero
FOURTH_TEST_EXTRA_SEEDS = (13, 14, 15, 16)


def extra_activation_specs(seed: int) -> list[OrganismSpec]:
    """The dose-0.5 bandit base of pretraining seed ``seed`` and the held-out pairs :func:`fresh_test_specs` builds
    from it (the RL run at the validation budget, two draws of Thompson histories, the same-budget random-play
    control), taken from that design so that the two cannot drift apart."""
    base = bandit_base(0.5, "val", seed).name
    return [s for s in fresh_test_specs(seed) if base in (s.name, s.base)]


def fourth_test_specs() -> list[OrganismSpec]:
    """Every model of the fourth test, bases first within each seed (the RL runs, the longest builds, right after)."""
    return ([s for seed in FOURTH_TEST_SEEDS for s in fresh_test_specs(seed)]
            + [s for seed in FOURTH_TEST_EXTRA_SEEDS for s in extra_activation_specs(seed)])


def design_bases(specs: Sequence[OrganismSpec], world: str | None = None) -> dict[str, set[str]]:
    """The bases each label's tuned models start from (``{label: {base name}}``), in ``world`` only where given: the
    units the base-level criteria count, read from the design alone."""
    out: dict[str, set[str]] = {}
    for s in specs:
        if s.kind != "base" and s.label and (world is None or s.world == world):
            out.setdefault(s.label, set()).add(str(s.base))
    return out
