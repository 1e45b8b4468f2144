"""End-to-end jobs behind the CLI: the main ``demo`` job and single-pair scorecards."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import EmptyInputError, InvalidConfigError
from .io import ensure_dir, write_csv_atomic
from .paths import results_dir
from .prose import criteria_note

log = logging.getLogger(__name__)


def setup_logging(quiet: bool = False) -> None:
    """Log this package at INFO (WARNING when ``quiet``) and every other library at WARNING.

    TransformerLens logs "Loading model config ..." at INFO on the root logger for every model view it builds, and
    other libraries log their own INFO lines; none of it helps a user, so only their warnings and errors pass.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("rlmeta_interp").setLevel(logging.WARNING if quiet else logging.INFO)


def demo_pairs() -> list[str]:
    """Names of the demo preset's trained organisms (RL and fine-tuned pairs, each with its design label) found in
    the zoo (shipped first, then the user zoo)."""
    from . import registry
    from .organism.presets import preset_specs

    wanted = {s.name for s in preset_specs("demo") if s.kind != "base"}
    return sorted(n for n in registry.zoo_pairs() if n in wanted)


def ensure_demo_zoo(progress: bool = True) -> list[str]:
    """The demo pairs, building the ``demo`` preset into the user zoo if none is shipped or built."""
    pairs = demo_pairs()
    if pairs:
        return pairs
    from .organism.zoo import build_zoo

    jobs = min(2, os.cpu_count() or 1)
    log.info("No demo organisms found: building the demo preset (about 13 CPU minutes, from the manifests; 7"
             " minutes wall with %d parallel chains on a quiet 2-core machine).", jobs)
    build_zoo("demo", progress=progress, threads=1, jobs=jobs)
    pairs = demo_pairs()
    if not pairs:
        raise EmptyInputError("Building the demo preset produced no trained pair: check the build log above.")
    return pairs


# Hybrid decoding costs more than every other indicator together (about 45 of 60 CPU seconds on a demo pair with a
# gap, measured cold) and is the one the full zoo found against the labels; the demo leaves it to
# `rlmeta-interp scorecard PAIR`, so the main job fits its two-minute budget. Elicitation fine-tunes two copies of
# the base per pair (elicited and control) and is left out for the same reason; `rlmeta-interp validate` scores it.
DEMO_SKIPS = ("hybrid", "elicitation")


def demo_config():
    """The main job's measurement sizes: :meth:`ScorecardConfig.demo` cut to about 30 CPU seconds per pair.

    Smaller samples (32 problems x 16 samples for pass@k, 32 steering problems, 2 multipliers, one random control,
    an 8k-activation SAE) and no hybrid decoding; every other indicator votes. Notebook 11 and
    ``rlmeta-interp scorecard`` run the full sizes.
    """
    from .analysis.scorecard import ScorecardConfig

    full = ScorecardConfig.demo()
    return full.replace(n_problems=32, n_samples=16, n_contrast=32, multipliers=(1.0, 2.0), n_random=1, n_steer=32,
                        n_hybrid=4, sae_samples=8000, crosscoder_steps=300, n_boot=200,
                        indicators=tuple(i for i in full.indicators if i not in DEMO_SKIPS))


def run_pair_scorecard(pair_name: str, out_dir: Path, config=None, world: str | None = None, progress: bool = True):
    """Load ``pair_name``, run its scorecard into ``out_dir``, save its figure; returns the Scorecard."""
    import matplotlib.pyplot as plt

    from .analysis.scorecard import ScorecardConfig, plot_scorecard, run_scorecard
    from .models import load_pair
    from .plotting import save_fig

    pair = load_pair(pair_name)
    card = run_scorecard(pair, world, config or ScorecardConfig(), out_dir=out_dir, progress=progress)
    fig = plot_scorecard(card)
    from .analysis.scorecard_plot import scorecard_caption

    save_fig(fig, "scorecard", pair_name.replace(".", "_"), out_dir=out_dir,
             caption=f"scorecard of {pair_name}: {scorecard_caption(card)}")
    plt.close(fig)
    return card


@dataclass(frozen=True)
class Reuse:
    """Which indicator results a run read back from an earlier run's files instead of measuring."""

    reused: int
    measured: int
    oldest: float | None  # POSIX time of the oldest reused result

    def sentence(self) -> str:
        from .report import fmt_when

        total = self.reused + self.measured
        if not self.reused:
            return f"All {total} indicator results were measured in this run."
        since = f", measured on {fmt_when(self.oldest)}" if self.oldest is not None else ""
        return (f"{self.reused} of {total} indicator results were reused from an earlier run{since} (same weights,"
                f" world and sizes); delete the pair folders under the output folder to measure them again.")


def _looks_measured(folder: Path, config) -> bool:
    """Whether ``folder`` holds a finished scorecard at these sizes (the scorecard still checks every result's key)."""
    import json

    from .errors import RlmetaError
    from .io import read_json

    try:
        saved = dict(read_json(folder / "scorecard.json").get("config") or {})
    except (RlmetaError, OSError, ValueError):
        return False
    saved.pop("rules", None)
    wanted = json.loads(json.dumps(config.measured(), default=str))
    return saved == wanted and all((folder / f"{n}.json").exists() for n in config.indicators)


def _result_times(folder: Path, indicators: tuple[str, ...]) -> dict[str, int]:
    return {n: (folder / f"{n}.json").stat().st_mtime_ns for n in indicators if (folder / f"{n}.json").exists()}


def run_demo(out_dir: Path | None = None, *, progress: bool = True, config=None, workers: int | None = None) -> Path:
    """The main job: the demo organisms' scorecards side by side, checked against their known labels.

    Writes ``<out_dir>/report.md`` and ``report.html`` (figures embedded) and returns the HTML path. Indicator results
    already measured with the same weights, world and sizes are reused, and the report and log say so and from when.
    ``workers``: pairs measured at once, each in its own process with one torch thread (default: up to 2, one per
    core; these models are too small for threads to help, so processes are what uses a second core).
    """
    from .analysis.scorecard import indicator_reliability, validate_against_labels
    from .report import (
        answer_line,
        fmt_duration,
        footer,
        meter_accuracy_text,
        read_meter_accuracy,
        reliability_table,
        scorecard_section,
        votes_table,
        write_report,
    )

    t0, c0 = time.perf_counter(), _cpu_seconds()
    out = ensure_dir(out_dir or results_dir() / "demo")
    names = ensure_demo_zoo(progress=progress)
    cfg = config or demo_config()
    before = {n: _result_times(out / n, cfg.indicators) for n in names}
    if workers is None:  # worker processes pay off only when something is measured; a rerun reads files
        workers = 1 if all(_looks_measured(out / n, cfg) for n in names) else min(2, os.cpu_count() or 1)
    cards = _scorecards(names, out, cfg, progress, workers)
    reused, measured, oldest = 0, 0, []
    for n in names:
        after = _result_times(out / n, cfg.indicators)
        same = [k for k, t in after.items() if before[n].get(k) == t]
        reused += len(same)
        measured += len(after) - len(same)
        oldest += [before[n][k] / 1e9 for k in same]
    reuse = Reuse(reused, measured, min(oldest) if oldest else None)
    if reuse.reused:
        log.info("demo: %s", reuse.sentence())
    validation = validate_against_labels(cards)
    write_csv_atomic(out / "validation.csv", validation, index=False)
    accuracy = read_meter_accuracy()
    fitted = _fitted_lines(cards)
    headline = _headline_figure(cards, out, accuracy)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    md = [
        "# Did RL activate the capability, or create it?", "",
        "## The answer, per pair", "",
        *[f"- {answer_line(c)}" for c in cards], "",
        meter_accuracy_text(accuracy), "",
        *fitted,
        f"![the toolkit's verdict against the known label]({headline.name})", "",
        "## What was measured", "",
        "Each pair is a model organism: a small transformer pretrained on a synthetic world in which a known share of"
        " documents (the exposure dose) demonstrated the capability, then trained towards it (RL with GRPO on a"
        " verifiable reward, or fine-tuning on demonstrations, as its model card says). Its label (*activation*,"
        " *creation* or *no signal*) is fixed by how its corpus was designed, never read from the model's outputs."
        " Every indicator votes by a rule written next to it; the summary needs at least two decisive votes that"
        " agree. A pair whose training made no measurable gain reads *no gain*: there is nothing to attribute.", "",
        "## Votes against the known label", "",
        "Each indicator's vote per pair; ✗ marks a vote that disagrees with the known label.", "",
        votes_table(validation), "",
        "## How often each indicator agreed with the label", "",
        "Undecided votes (n/a, inconclusive, mixed) and every vote of a pair without a measurable gain are not"
        " counted. With this few pairs, agreement is a sanity check, not a validation: notebook 11 measures the"
        " meter on the labelled validation zoo.", "",
        reliability_table(indicator_reliability(validation)), "",
    ]
    for card in cards:
        md.append(scorecard_section(card, f"{card.pair}/scorecard_{card.pair.replace('.', '_')}.png"))
    sizes = ", ".join(f"{k.replace('_', ' ')} {'the middle one' if v is None else v}" for k, v in cfg.measured().items()
                      if k not in ("indicators", "seed") and not isinstance(v, (list, tuple, dict)))
    md.append(footer([
        f"Generated by `rlmeta-interp demo` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: this run took"
        f" {fmt_duration(seconds)} wall and {fmt_duration(cpu)} of CPU time for {len(cards)} pairs.",
        reuse.sentence(),
        f"Indicators: {', '.join(cfg.indicators)}; seed {cfg.seed}. Measurement sizes: {sizes}.",
        f"Output folder: {out}.",
    ]))
    _, html = write_report("\n".join(md), out, title="rlmeta-interp demo: activation or creation?")
    log.info("demo: %d pairs in %s wall, %s CPU; %s", len(cards), fmt_duration(seconds), fmt_duration(cpu),
             reuse.sentence())
    return html


def _fitted_lines(cards: list) -> list[str]:
    """Per pair, the reading of the summary fitted by ``rlmeta-interp validate`` (from the committed validation
    table), with the pair's split there; nothing when no table is committed."""
    from .analysis.validation.reading import committed_summary, fitted_reading, held_out_record
    from .report import fitted_line

    summary = committed_summary()
    if summary is None:
        return []
    split_of = {p: split for split, names in summary.get("pairs", {}).items() for p in names}
    lines = [f"- {fitted_line(c, r, split_of)}" for c in cards if (r := fitted_reading(c)) is not None]
    records = [(c, rec) for c in ("creation", "activation", "no_signal")
               if (rec := held_out_record(summary, c)) is not None and rec["read"]]
    right = "; ".join(f"read {c.replace('_', ' ')}: {rec['right']} of {rec['read']} right (exact 95% interval"
                      f" {rec['lo']:.2f}-{rec['hi']:.2f})" for c, rec in records)
    tail = [f"How often each reading was right on the validation table's {records[0][1]['test']}: {right}. These"
            " intervals count pairs as independent; several pairs start from one base model, so they are narrower"
            " than the bases can support (the README's trust paragraph reads the tests over their bases).", ""] \
        if records else []
    return ["The vote rule above uses thresholds set by hand; the summary fitted on the calibration split reads:", "",
            *lines, "", *tail] if lines else []


def fitted_verdict(card: Any) -> list[str]:
    """For one scorecard: the reading of the summary fitted by ``rlmeta-interp validate`` (the committed table), what
    that reading cannot claim (a world the fit has no cuts of; sizes, indicators or layer other than the validated
    ones), and how often that reading was right on the table's held-out pairs, with the test it was counted on.
    Withheld for a validation pair the table does not hold yet (``validate --add`` reads and records it). Empty
    without a committed table."""
    from .analysis.validation.fit import FittedRules
    from .analysis.validation.labels import preset_labelled_names
    from .analysis.validation.reading import (committed_summary, fitted_reading_and_source, held_out_record,
                                              table_pairs, validated_config)

    summary = committed_summary()
    if summary is None:
        return []
    if card.pair in set(preset_labelled_names("validation")) - table_pairs(summary):
        return ["Fitted reading withheld: this validation pair has no row in the committed table yet, and"
                " `rlmeta-interp validate --add` reads it and records that it did (a held-out pair read outside"
                " that record would no longer count as unseen)."]
    fitted = FittedRules.from_dict(summary["fitted"])
    reading, source = fitted_reading_and_source(card, summary)
    name = reading.replace("_", " ")
    how = {"vote rule": " (the vote rule's reading: none of the summary's inputs was measured)",
           "no gain": " (no gain: a pair without one reads no signal)"}.get(source, "")
    lines = [f"Fitted reading (the summary fitted on the validation table's calibration pairs): {name}{how}."]
    if card.world not in fitted.world_cuts:
        lines.append(f"The fit has no cut of its own for the {card.world} world: the pair is read by the cuts pooled"
                     " over its calibration pairs, and how often that is right in this world has not been measured.")
    want = validated_config(summary)
    cfg = card.config
    same = ({k: v for k, v in cfg.measured().items() if k != "indicators"}
            == {k: v for k, v in want.measured().items() if k != "indicators"}
            and set(fitted.inputs) <= set(cfg.indicators))
    if not same:
        lines.append("Measured with other sizes, indicators or layer than the table's: `--size validated` (without"
                     " --indicators or --layer) reads the pair as the fit was validated.")
    rec = held_out_record(summary, reading) if source != "vote rule" else None
    if rec is not None and rec["read"]:
        mix = ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in sorted(rec["classes"].items()))
        lines.append(f"On that table's {rec['test']} ({rec['n']} pairs: {mix}; recipes {', '.join(rec['recipes'])}),"
                     f" {rec['right']} of the {rec['read']} pairs read {name} were {name} (exact 95% interval"
                     f" {rec['lo']:.2f}-{rec['hi']:.2f}; pairs sharing a base are not independent), and"
                     f" {rec['right']} of its {rec['label_n']} {name} pairs were read so. That share depends on the"
                     " test's mix of recipes and classes.")
    return lines


def validated_scorecard_config(world: str | None) -> Any:
    """The committed validation table's sizes and indicators, voting by the cuts it fitted for ``world`` (the pooled
    ones for None or a world it has no cuts of)."""
    from .analysis.validation.reading import committed_summary, fitted_rules, validated_config

    summary = committed_summary()
    if summary is None:
        raise InvalidConfigError("--size validated reads the sizes of the committed validation table, and there is"
                                 " none: run `rlmeta-interp validate`, or pick --size default, demo or smoke.")
    return validated_config(summary).replace(rules=fitted_rules(world=world))


def read_pairs_job(names: list[str], *, out: str | Path | None, readings: str | Path | None,
                   table_dir: str | Path | None = None, progress: bool = True, preset: str | None = None,
                   expected_table: str | list[str] | None = None) -> tuple[pd.DataFrame, dict, Path]:
    """``validate --read``: labelled pairs the committed table does not hold, read by its fit at its sizes, and the
    table's held-out evaluation over those that are validation cases
    (:func:`~rlmeta_interp.analysis.validation.outside.read_pairs`; ``table_dir``: another table than the committed
    one, for tests). ``preset``: read exactly that preset's labelled pairs (``names`` empty); ``expected_table``:
    the table checksum a registration fixed. The readings go, with a checksum, to ``readings`` (default
    ``<out>/readings.csv``), the evaluation beside them as JSON (same name, ``.json``). Returns both and the CSV's
    path."""
    from .analysis.validation.outside import preset_pairs, read_pairs
    from .io import write_json_atomic

    if preset is not None and names:
        raise InvalidConfigError(f"validate --read with --preset {preset} reads that preset's pairs: name none.")
    folder = Path(out) if out else results_dir() / "validation"
    table, evaluation = read_pairs(preset_pairs(preset) if preset is not None else names, out=folder,
                                   progress=progress, folder=table_dir, expected_table=expected_table, preset=preset)
    dest = Path(readings) if readings else folder / "readings.csv"
    write_csv_atomic(dest, table)
    write_json_atomic(dest.with_suffix(".json"), evaluation, checksum=True)
    return table, evaluation, dest


def readings_text(table: pd.DataFrame, result: dict[str, Any], dest: Path) -> str:
    """What ``validate --read`` prints: the readings, the evaluation's headline over the cases (three classes, then
    creation against activation alone), and where both were written."""
    ev = result.get("evaluation")
    if ev is None:
        head = "no pair read is a validation case by its gain check"
    else:
        s = ev["summary"]
        two = s.get("creation_vs_activation")
        head = (f"over the {ev['n_test']} cases: the fitted summary's balanced accuracy {s['balanced_accuracy']:.2f}"
                f" (CI {s['ci_lo']:.2f}-{s['ci_hi']:.2f})"
                + (f"; creation against activation alone {two['balanced_accuracy']:.2f} (CI {two['ci_lo']:.2f}-"
                   f"{two['ci_hi']:.2f}, {two['n']} pairs)" if two else "")
                + f"; the project's bar{criteria_note(ev.get('bar_criteria', 1))}"
                  f" {'met' if ev['meets_bar'] else 'not met'}")
        if rule := ev.get("expansion_rule"):
            head += (f"\nthe label-free expansion rule (pass@n expanded: creation) over the same cases: balanced"
                     f" accuracy {rule['balanced_accuracy']:.2f} (CI {rule['ci_lo']:.2f}-{rule['ci_hi']:.2f})")
    return table.to_string(index=False) + f"\n{head}\nwritten to {dest} and {dest.with_suffix('.json')}\n"


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (the scorecard workers)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _pair_worker(name: str, folder: Path, config) -> str:
    import torch

    torch.set_num_threads(1)
    setup_logging(quiet=True)  # a fresh process: warnings in the same format as the main process's log
    run_pair_scorecard(name, folder, config, progress=False)
    return name


def _scorecards(names: list[str], out: Path, config, progress: bool, workers: int) -> list:
    """Every pair's scorecard, ``workers`` pairs at a time in separate processes (1: in this process)."""
    from .analysis.scorecard import load_scorecard

    if workers <= 1 or len(names) <= 1:
        return [run_pair_scorecard(n, out / n, config, progress=progress) for n in names]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    # The workers inherit this environment when they start: TQDM_DISABLE silences the progress bars of the
    # libraries they call (SAELens's SAE trainer draws one per SAE), whose interleaved output would be noise here;
    # this process shows one bar over the pairs instead.
    old = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(names)), mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_pair_worker, n, out / n, config) for n in names]
            bar = tqdm(as_completed(futures), total=len(futures), desc="demo pairs", disable=not progress)
            if old is None:
                os.environ.pop("TQDM_DISABLE", None)
            for f in bar:
                log.info("demo: %s done", f.result())
    finally:
        if old is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = old
    return [load_scorecard(out / n, config.rules) for n in names]


def _headline_figure(cards, out: Path, accuracy) -> Path:
    import matplotlib.pyplot as plt

    from .plotting import save_fig, verdict_chart
    from .report import meter_accuracy_text

    rows = pd.DataFrame([{"pair": c.pair, "verdict": c.summary, "label": c.label, "expected": c.expected}
                         for c in cards])
    fig = verdict_chart(rows, meter_accuracy_text(accuracy).replace("`", ""))
    png, _ = save_fig(fig, "demo", "verdicts", out_dir=out,
                      caption="the toolkit's verdict per demo pair against its known label")
    plt.close(fig)
    return png
