"""The seed design of a preset, read from its specs (data/README.md renders it, so the seeds it names are the build's,
not typed by hand)."""

from __future__ import annotations

from collections.abc import Callable

from .presets import preset_specs
from .spec import OrganismSpec


def seed_ranges(seeds: set[int]) -> str:
    """``{0, 1, 2, 4, 5}`` -> ``"0-2, 4-5"``; ``"none"`` when empty."""
    runs: list[list[int]] = []
    for s in sorted(seeds):
        if runs and s == runs[-1][-1] + 1:
            runs[-1].append(s)
        else:
            runs.append([s])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs) or "none"


def seed_design(preset: str = "validation") -> list[dict[str, str | int]]:
    """Per recipe and world of ``preset``'s trained models (RL and fine-tuning), read from the specs themselves: how
    many pairs, the pretraining seeds of their bases in the calibration and held-out splits, the pretraining seeds
    whose bases have a second training seed (RL seed, or another draw of the fine-tuning documents), and those with
    a no-signal control. data/README.md renders it, so the seeds it names are the build's, not typed by hand."""
    specs = preset_specs(preset)
    bases = {s.name: s for s in specs if s.kind == "base"}
    groups: dict[tuple[str, str], list[OrganismSpec]] = {}
    for s in specs:
        if s.kind != "base":
            groups.setdefault((s.recipe, s.world), []).append(s)

    def seeds(members: list[OrganismSpec], keep: Callable[[OrganismSpec], bool]) -> str:
        return seed_ranges({bases[s.base].seed for s in members if s.base in bases and keep(s)})

    def second(s: OrganismSpec) -> bool:  # RL seed > 0, or the fine-tuning document draw named -sN
        return (s.rl.seed > 0) if s.kind == "rl" and s.rl is not None else s.variant.rsplit("-s", 1)[-1].isdigit()

    return [{"recipe": recipe, "world": world, "pairs": len(members),
             "calibration seeds": seeds(members, lambda s: s.split == "calibration"),
             "held-out seeds": seeds(members, lambda s: s.split == "test"),
             "second training seed at": seeds(members, second),
             "no-signal control at": seeds(members, lambda s: s.label == "no_signal")}
            for (recipe, world), members in sorted(groups.items())]
