"""Which pairs a notebook or experiment reads: :func:`select_pairs` chooses zoo pairs by world, variant, dose, seed
and preset (with build hints for what is missing), :func:`named_pairs` takes pairs by name (how a figure of record
fixes its pairs), :func:`choose_pairs` is the one of the two a notebook's parameters ask for, and
:class:`PairSelection` carries the chosen pairs with their labels and captions.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .config import PairSpec
from .errors import EmptyInputError, InvalidConfigError, MissingWeightsError
from .registry import all_pairs, manifest_of, skipped_manifests, zoo_entries, zoo_pairs

log = logging.getLogger(__name__)

__all__ = ["PairSelection", "build_command", "choose_pairs", "named_pairs", "select_pairs"]

_FIELDS = ("world", "variant", "dose", "seed")
_PRESET_ORDER = ("paper", "demo")  # "auto" ties go to the first; build hints try them in this order


def _field(p: PairSpec, name: str) -> Any:
    if name == "world":
        return p.world
    if name == "dose":
        return p.dose
    return p.extra.get(name)


def _as_tuple(name: str, value: Any) -> tuple | None:
    if value is None:
        return None
    out = (value,) if isinstance(value, str) or not isinstance(value, Iterable) else tuple(dict.fromkeys(value))
    if not out:
        raise EmptyInputError(f"{name}=[] selects nothing: name at least one value, or pass None to accept any {name}.")
    if name == "dose":
        try:
            [float(v) for v in out]
        except (TypeError, ValueError) as e:
            raise InvalidConfigError(f"dose={value!r}: pass numbers (a share of the corpus, e.g. 0.0 or 0.5).") from e
    return out


def _same(name: str, a: Any, b: Any) -> bool:
    if name == "dose":
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9
    return a == b


def _combos(query: dict[str, tuple | None]) -> list[dict[str, Any]]:
    """Every requested combination of the variant / dose / seed values (fields left as None are not part of it)."""
    fields = [f for f in _FIELDS[1:] if query[f] is not None]
    return [dict(zip(fields, values, strict=True)) for values in itertools.product(*(query[f] for f in fields))]


def _holds(pairs: Sequence[PairSpec], combo: Mapping[str, Any]) -> bool:
    return any(all(_same(f, _field(p, f), v) for f, v in combo.items()) for p in pairs)


def _missing(pairs: Sequence[PairSpec], query: dict[str, tuple | None]) -> list[dict[str, Any]]:
    """What ``pairs`` lack of ``query``, per requested world (all pairs together when no world is requested).

    Each requested world needs a pair for every requested combination of the variant / dose / seed values. One
    entry per gap, in requested order: ``{"world": w}`` for a world without pairs, ``{"world": w, field: v}`` for a
    value no pair of that world has, and ``{"world": w, **combination}`` for a combination missing although each of
    its values occurs in the world (``"world"`` is left out when no world is requested).
    """
    fields = [f for f in _FIELDS[1:] if query[f] is not None]
    out: list[dict[str, Any]] = []
    for world in query["world"] or (None,):
        mine = [p for p in pairs if world is None or _same("world", p.world, world)]
        tag = {} if world is None else {"world": world}
        if world is not None and not mine:
            out.append(tag)
            continue
        absent = {f: [v for v in query[f] if not _holds(mine, {f: v})] for f in fields}
        out += [{**tag, f: v} for f in fields for v in absent[f]]
        out += [{**tag, **c} for c in _combos(query)
                if not any(c[f] in absent[f] for f in c) and not _holds(mine, c)]
    return out


def _fmt_missing(gone: Sequence[Mapping[str, Any]], per_world: bool) -> str:
    """``no variant oneshot, random``; with ``per_world``, ``planning: no seed 1``; a missing combination reads
    ``no pair with (variant random, dose 0.0)``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for g in gone:
        rest = {f: v for f, v in g.items() if f != "world"}
        where = f"{g['world']}: " if per_world and "world" in g and rest else ""
        if not rest:
            what, value = "world", str(g.get("world"))
        elif len(rest) == 1:
            ((what, value),) = rest.items()
        else:
            what, value = "pair with", "(" + ", ".join(f"{f} {v}" for f, v in rest.items()) + ")"
        groups.setdefault((where, what), []).append(str(value))
    return "; ".join(f"{where}no {what} {', '.join(values)}" for (where, what), values in groups.items())


def _has_checkpoints(p: PairSpec) -> bool:
    """True when the RL model's manifest lists dynamics checkpoints (``checkpoints/step_*/model.safetensors``)."""
    manifest = manifest_of(p.rl.name) or {}
    return any(k.startswith("checkpoints/step_") for k in manifest.get("files", {}))


def _preset_rank(preset: str) -> tuple[int, str]:
    return (_PRESET_ORDER.index(preset), "") if preset in _PRESET_ORDER else (len(_PRESET_ORDER), preset)


def _auto_preset(pairs: list[PairSpec], query: dict[str, tuple | None]) -> list[PairSpec]:
    """Per world, the pairs of one preset: the one missing the fewest requested (variant, dose, seed) combinations;
    ties go to the one with the most distinct (dose, variant, seed) models, then to paper, then demo."""
    combos = _combos(query)

    def rank(preset: str, ps: list[PairSpec]) -> tuple:
        return (sum(not _holds(ps, c) for c in combos),
                -len({(x.dose, x.extra.get("variant"), x.extra.get("seed")) for x in ps}), _preset_rank(preset))

    out: list[PairSpec] = []
    for world in dict.fromkeys(p.world for p in pairs):
        by_preset: dict[str, list[PairSpec]] = {}
        for p in pairs:
            if p.world == world:
                by_preset.setdefault(str(p.extra.get("preset")), []).append(p)
        out += min(by_preset.items(), key=lambda kv: rank(*kv))[1]
    return out


class PairSelection(list[PairSpec]):
    """The zoo pairs :func:`select_pairs` chose (a ``list`` of :class:`PairSpec`), plus where they came from.

    ``source`` says which preset(s) they are from and whether a smoke fallback stood in; ``missing`` lists what the
    chosen pairs lack of the request, per requested world (empty unless a smoke run or ``require="any"`` tolerated
    it): ``{"world": w}`` for a world without pairs, ``{"world": w, "seed": 1}`` for a value that world lacks, and
    ``{"world": w, "variant": v, "dose": d}`` for a requested combination it lacks (no ``"world"`` key when no world
    was requested).
    """

    def __init__(self, pairs: Iterable[PairSpec] = (), source: str = "",
                 missing: Iterable[Mapping[str, Any]] | None = None):
        super().__init__(pairs)
        self.source = source
        self.missing = [dict(m) for m in missing or ()]

    def case_labels(self) -> dict[str, str]:
        """``{pair name: label}`` as figures name them: the label fixed before tuning, with ", no gain" where the
        tuned model's recorded gain check failed (:func:`~rlmeta_interp.organism.gain.case_label`); "" unlabelled."""
        from .organism.gain import case_label

        return {p.name: case_label(p.label, (manifest_of(p.name) or {}).get("gain_check")) for p in self}

    def gain_passed(self) -> dict[str, bool | None]:
        """``{pair name: passed}``: whether each pair labelled creation or activation is a case of its label (its
        recorded gain check passed, :func:`~rlmeta_interp.organism.gain.is_validation_case`), None for controls and
        unlabelled pairs (no gain is asked of them)."""
        from .organism.gain import is_validation_case

        return {p.name: is_validation_case(p.label, (manifest_of(p.name) or {}).get("gain_check"))
                if p.label in ("creation", "activation") else None for p in self}

    def titles(self) -> dict[str, str]:
        """``{pair name: panel title}``: the name with its dose (where known) and its label as :meth:`case_labels`
        gives it (where it has one); the bare name when it has neither (a hub pair)."""
        labels = self.case_labels()
        facts = {p.name: [f"dose {p.dose}"] * (p.dose is not None) + [labels[p.name]] * bool(labels[p.name]) for p in self}
        return {name: f"{name} ({', '.join(f)})" if f else name for name, f in facts.items()}

    def note(self, rl_named: bool = True) -> str:
        """A caption's account of these pairs: each with its recipe and label (:meth:`case_labels`) and, with
        ``rl_named`` (a figure labels tuned models "RL"), that "RL" names each pair's tuned model, fine-tuned or not."""
        labels = {name: f"label {label}" if label else "no label" for name, label in self.case_labels().items()}
        return (" Pairs: " + ", ".join(f"{p.name} ({p.recipe or 'no recipe'}, {labels[p.name]})" for p in self)
                + ("; 'RL' names each pair's tuned model." if rl_named else "."))

    def by(self, field: str) -> dict[Any, list[PairSpec]]:
        """``{value: [pairs]}`` grouped by ``world``, ``variant``, ``dose``, ``seed`` or ``preset``, in list order."""
        if field not in (*_FIELDS, "preset"):
            raise InvalidConfigError(f"Cannot group pairs by {field!r}: choose one of {(*_FIELDS, 'preset')}.")
        out: dict[Any, list[PairSpec]] = {}
        for p in self:
            out.setdefault(_field(p, field), []).append(p)
        return out


def undefined_values(query: dict[str, tuple | None], fields: Sequence[str] = _FIELDS) -> dict[str, list[Any]]:
    """Per field of ``query`` among ``fields``, the requested values that no zoo preset's tuned (RL or fine-tuned)
    model has and no pair in the zoo has either (a misspelt world or variant)."""
    from .organism.zoo import PRESETS, preset_specs

    rl_specs = [s for name in PRESETS for s in preset_specs(name) if s.kind != "base"]  # RL and fine-tuned
    defined = {"world": [s.world for s in rl_specs], "variant": [s.variant for s in rl_specs],
               "dose": [s.dose for s in rl_specs], "seed": [s.seed for s in rl_specs]}
    built = list(zoo_pairs().values())
    return {f: [v for v in q if not any(_same(f, d, v) for d in defined[f])
                and not any(_same(f, _field(p, f), v) for p in built)]
            for f, q in query.items() if q is not None and f in fields}


def _build_hint(query: dict[str, tuple | None], need_checkpoints: bool, preset: str | None, smoke: bool) -> str:
    """How to build the models a query asks for: the ``rlmeta-interp zoo build --preset P --only NAMES`` command
    (bases included; names already in the zoo left out), and which requested values no preset defines."""
    try:
        from .organism.zoo import PRESETS, preset_specs
    except ImportError:  # pragma: no cover - the zoo builder is part of the package; stay helpful without it
        return f"Build them with `rlmeta-interp zoo build --preset {preset if preset not in (None, 'auto') else 'paper'}`"

    def values(s: Any) -> dict[str, Any]:
        return {"world": s.world, "variant": s.variant, "dose": s.dose, "seed": s.seed}

    def wanted(s: Any) -> bool:
        return (s.kind == "rl" and all(q is None or any(_same(f, values(s)[f], v) for v in q) for f, q in query.items())
                and (not need_checkpoints or bool(s.rl and s.rl.checkpoint_every)))

    every = {name: preset_specs(name) for name in PRESETS}
    unknown = undefined_values(query)
    note = "; ".join(f"no zoo preset defines {f} {', '.join(map(repr, v))}" for f, v in unknown.items() if v)
    note = f" Note: {note} (check the value)." if note else ""
    order = [preset] if preset in PRESETS else sorted(PRESETS, key=_preset_rank)
    if smoke and preset not in PRESETS:  # a smoke run wants the smallest build that has them
        order.sort(key=lambda p: p != "demo")
    have = set(zoo_entries())
    for name in order:
        specs = every[name]
        by_name = {s.name for s in specs}
        rl = [s for s in specs if wanted(s)]
        if not rl:
            continue
        names = list(dict.fromkeys(n for s in rl for n in (s.base, s.name) if n in by_name))
        names = [n for n in names if n not in have] or names
        only = "" if len(names) == len(specs) else " --only " + " ".join(names)
        return f"Build them with `rlmeta-interp zoo build --preset {name}{only}`.{note}"
    return ("No zoo preset defines models matching all of this query; `rlmeta-interp zoo build --preset paper` builds"
            f" the largest one.{note}")


def select_pairs(
    world: str | Sequence[str] | None = None,
    *,
    variant: str | Sequence[str] | None = None,
    dose: float | Sequence[float] | None = None,
    seed: int | Sequence[int] | None = None,
    preset: str | None = "auto",
    need_checkpoints: bool = False,
    smoke: bool = False,
    require: Literal["all", "any"] = "all",
) -> PairSelection:
    """The zoo pairs a notebook or experiment studies: the one place that chooses them (never a hand-kept list).

    ``world``, ``variant``, ``dose`` and ``seed`` (the RL seed) each take one value, several (any of them), or None
    (any). ``preset``: a preset name, None for pairs of any preset (mixed), or ``"auto"``: per world, the one preset
    missing the fewest of the requested (variant, dose, seed) combinations; ties go to the preset with the most
    distinct (dose, variant, seed) models, then to ``paper``, then ``demo``. So a partly built paper zoo loses to a
    complete demo zoo, and presets are never mixed within a world.
    ``need_checkpoints`` keeps only RL models that saved dynamics checkpoints.

    Sorted by world (in the order requested), dose, variant (in the order requested) and seed. Outside smoke mode
    ``require="all"`` needs every requested world to hold a pair for every combination of the requested variant /
    dose / seed values (the cross-product of the fields given; fields left as None are free): with
    ``world=["arithmetic", "planning"], seed=[0, 1]`` each world needs seed 0 and seed 1, and ``variant=["correct",
    "random"], dose=[0.0, 0.5]`` needs all four (variant, dose) models. Without a world, the combinations may come from
    any world. ``require="any"`` needs at least one pair. Otherwise :class:`MissingWeightsError` names what is missing
    and the ``rlmeta-interp zoo build --preset P --only NAMES`` command that builds it. In smoke mode what is missing
    is left out (with a warning, and ``.missing`` / ``.source`` say so); when nothing matches, the preset, then the
    dose, the seed and the variant are relaxed in turn (the world and ``need_checkpoints`` never are), e.g. falling
    back to the shipped demo pairs; if even the world has no pairs, the error names the build command.
    """
    if require not in ("all", "any"):
        raise InvalidConfigError(f"require={require!r}: choose 'all' (every requested value) or 'any' (one pair).")
    query = {f: _as_tuple(f, v) for f, v in zip(_FIELDS, (world, variant, dose, seed), strict=True)}
    for flag, value in (("need_checkpoints", need_checkpoints), ("smoke", smoke)):
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidConfigError(f"{flag}={value!r}: pass True or False (a string such as 'false' is true).")
    misspelt = {f: v for f, v in undefined_values(query, ("world", "variant")).items() if v}
    if misspelt:  # with require="any" or in smoke mode a misspelt value would silently drop out of the selection
        raise InvalidConfigError("; ".join(
            f"no zoo preset or built pair has {f} {', '.join(map(repr, v))}" for f, v in misspelt.items())
            + ": check the spelling (`rlmeta-interp list` shows the zoo's pairs).")

    def in_preset(p: PairSpec, pre: str | None) -> bool:
        if pre in (None, "auto"):
            return True
        from .organism.presets import of_preset  # here: the presets import the training stack

        return of_preset(pre, p.name, p.extra.get("preset"))

    def choose(q: dict[str, tuple | None], pre: str | None) -> list[PairSpec]:
        found = [p for p in zoo_pairs().values()
                 if all(v is None or any(_same(f, _field(p, f), x) for x in v) for f, v in q.items())
                 and in_preset(p, pre)
                 and (not need_checkpoints or _has_checkpoints(p))]
        return _auto_preset(found, q) if pre == "auto" else found

    per_world = query["world"] is not None and len(query["world"]) > 1

    def fmt(gone: list[dict[str, Any]]) -> str:
        return _fmt_missing(gone, per_world)

    def rank(f: str, p: PairSpec) -> tuple:  # requested order first, then the value
        q, v = query[f], _field(p, f)
        return (next((i for i, x in enumerate(q or ()) if _same(f, v, x)), 0), "" if v is None else str(v))

    def result(pairs: list[PairSpec], note: str = "") -> PairSelection:
        pairs = sorted(pairs, key=lambda p: (rank("world", p), p.dose if p.dose is not None else -1.0,
                                             rank("variant", p), p.extra.get("seed") or 0))
        presets = sorted({str(p.extra.get("preset")) for p in pairs}, key=_preset_rank)
        source = f"preset {'/'.join(presets)}" + (f" ({note})" if note else "")
        return PairSelection(pairs, source, _missing(pairs, query))

    asked = ", ".join(f"{f}={list(v) if len(v) > 1 else v[0]!r}" for f, v in query.items() if v is not None)
    asked = (asked or "any pair") + (f", preset={preset!r}" if preset is not None else "")
    asked += ", with RL checkpoints" if need_checkpoints else ""
    pairs = choose(query, preset)
    gone = _missing(pairs, query)
    if pairs and (not gone or require == "any" or smoke):
        if gone:
            (log.warning if smoke else log.info)("Zoo pairs with %s: %s; using the %d that exist.", asked,
                                                 fmt(gone), len(pairs))
        return result(pairs, f"{'smoke: ' if smoke else ''}{fmt(gone)} here" if gone else "")
    if smoke:
        relaxed = dict(query)
        pre: str | None = preset
        dropped = []
        for drop in ("preset", "dose", "seed", "variant"):
            if drop == "preset":
                if preset in (None, "auto"):
                    continue
                pre, was = "auto", preset
            else:
                if relaxed[drop] is None:
                    continue
                relaxed[drop], was = None, query[drop]
                was = list(was) if len(was) > 1 else was[0]
            dropped.append(f"{drop} {was}")
            alt = choose(relaxed, pre)
            if alt:
                log.warning("Smoke mode: no zoo pair has %s; using %s instead.", asked, [p.name for p in alt])
                return result(alt, f"smoke fallback: no pairs with {', '.join(dropped)} here")
    what = f"{fmt(gone)} among the zoo pairs with {asked}" if pairs else f"The zoo has no pair with {asked}"
    # presets are chosen per world: name only the models of the worlds with gaps
    gap_worlds = tuple(dict.fromkeys(g["world"] for g in gone if "world" in g))
    hint_query = {**query, "world": gap_worlds} if pairs and gap_worlds else query
    skipped = skipped_manifests()
    unread = (f" The zoo skipped {len(skipped)} model(s) whose manifest cannot be read; fix them first: "
              + "; ".join(str(e) for e in skipped.values())) if skipped else ""
    raise MissingWeightsError(
        f"{what[0].upper()}{what[1:]}{' (nor any smoke fallback in that world)' if smoke else ''}.{unread}"
        f" {_build_hint(hint_query, need_checkpoints, preset, smoke)} Then rerun (or set RLMETA_DATA / RLMETA_HOME to a"
        " folder that holds a built zoo" + ("" if smoke else "; or run with SMOKE=True / smoke=True to use what exists")
        + "); `rlmeta-interp list` shows what exists."
    )


def named_pairs(names: Sequence[str], *, need_checkpoints: bool = False) -> PairSelection:
    """The pairs ``names``, in that order, whatever else the zoo holds: how a figure of record fixes its pairs, and how
    a user points a notebook at a registered pair outside the zoo (a hub or adapter pair; its weights are found, or
    refused with how to get them, when it loads).

    A zoo pair name the zoo lacks raises :class:`MissingWeightsError` with the ``rlmeta-interp zoo build --preset P --only
    NAMES`` command of the preset that defines it (its base included unless built); a name no preset defines, or a
    repeated one, raises :class:`InvalidConfigError`; so does, with ``need_checkpoints``, a pair whose RL model
    saved no dynamics checkpoints.
    """
    names = list(names)
    if not names or len(set(names)) != len(names):
        raise InvalidConfigError(f"Pair names {names}: name each pair once, at least one.")
    pairs = all_pairs()  # the zoo's first, then registered pairs outside it (hub, adapters)
    gone = [n for n in names if n not in pairs]
    skipped = skipped_manifests()
    if bad := [n for n in gone if n in skipped]:  # a manifest that cannot be read: its own error names the key
        raise skipped[bad[0]]
    if gone:
        from .organism.zoo import PRESETS, preset_specs

        # the demo preset reuses some validation models under their names: a build under the fuller preset records
        # that preset in the manifests, which notebooks filtering on it expect
        every = {pre: {s.name: s for s in preset_specs(pre)} for pre in sorted(PRESETS, key=lambda p: p == "demo")}
        build: dict[str, list[str]] = {}
        undefined, bases = [], []
        for n in gone:
            pre = next((p for p, specs in every.items() if n in specs), None)
            if pre is None:
                undefined.append(n)
            elif every[pre][n].kind == "base":
                bases.append(n)
            else:
                build.setdefault(pre, []).append(n)
        if undefined or bases:
            raise InvalidConfigError(
                " ".join([f"No zoo preset defines the pair(s) {undefined}: check the names (`rlmeta-interp list` shows"
                          " the pairs this machine knows)."] * bool(undefined)
                         + [f"{bases} name base models: name their RL or fine-tuned models."] * bool(bases)))
        how = "; ".join(filter(None, (build_command(pre, ns) for pre, ns in build.items())))
        raise MissingWeightsError(f"The zoo lacks the pair(s) {gone}: " + (
            f"build them with {how}." if how else "their models are built but not listed as pairs; check that each"
                                                  " manifest.json names its base (`rlmeta-interp list`)."))
    chosen = [pairs[n] for n in names]
    if need_checkpoints and (bare := [p.name for p in chosen if not _has_checkpoints(p)]):
        from .organism.presets import DYNAMICS_PRESETS

        raise InvalidConfigError(f"The pair(s) {bare} kept no RL checkpoints: name pairs built with checkpoint_every > 0"
                                 f" (for example those of the presets {', '.join(DYNAMICS_PRESETS)}:"
                                 f" `rlmeta-interp zoo build --preset {DYNAMICS_PRESETS[0]}`).")
    presets = sorted({str(p.extra.get("preset", p.base.source)) for p in chosen}, key=_preset_rank)
    return PairSelection(chosen, f"preset {'/'.join(presets)} (pairs named)")


def choose_pairs(names: Sequence[str], world: str | Sequence[str] | None = None, *, operands: Any = 0,
                 need_checkpoints: bool = False, **query: Any) -> PairSelection:
    """The pairs a notebook reads: the pairs ``names`` when any are named (:func:`named_pairs`), else
    :func:`select_pairs` of ``world`` and ``query`` (variant, dose, seed, preset, smoke, require).

    ``operands`` is a notebook's chain depth for named pairs (its ``OPERANDS``): the preset's own pairs are measured on
    their own worlds, so a depth given without names raises :class:`InvalidConfigError` rather than being ignored.
    """
    if operands and not names:
        raise InvalidConfigError(f"OPERANDS={operands} applies to named pairs only: set PAIRS too, or OPERANDS = 0.")
    if names:
        return named_pairs(names, need_checkpoints=need_checkpoints)
    return select_pairs(world, need_checkpoints=need_checkpoints, **query)


def build_command(preset: str, names: Sequence[str]) -> str:
    """The ``rlmeta-interp zoo build --preset P --only ...`` command (in backticks) for the trained models ``names``
    of ``preset``: each one's base first, models already in the zoo left out, each model once; "" when all are
    built."""
    from .organism.zoo import preset_specs

    specs, have = {s.name: s for s in preset_specs(preset)}, set(zoo_entries())
    todo = list(dict.fromkeys(m for n in names for m in (specs[n].base, n) if m and m not in have))
    return f"`rlmeta-interp zoo build --preset {preset} --only {' '.join(todo)}`" if todo else ""
