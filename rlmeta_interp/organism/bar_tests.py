"""Reading a test of the bar from its design: which bases each class's pairs start from, the units the base-level
criteria count (registered in docs/preregistration.md for every test after the third). The fourth test's design
itself lives in the ``validation`` preset (:func:`.presets.fourth_test_specs`), which builds it."""

from __future__ import annotations

from collections.abc import Sequence

from .spec import OrganismSpec


def design_bases(specs: Sequence[OrganismSpec], world: str | None = None) -> dict[str, set[str]]:
    """The bases each label's tuned models start from (``{label: {base name}}``), in ``world`` only where given: the
    units the base-level criteria count, read from the design alone."""
    out: dict[str, set[str]] = {}
    for s in specs:
        if s.kind != "base" and s.label and (world is None or s.world == world):
            out.setdefault(s.label, set()).add(str(s.base))
    return out
