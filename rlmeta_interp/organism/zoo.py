"""The organism zoo: named presets of base, RL-tuned and fine-tuned organisms, built idempotently with manifests.

``build_zoo("demo")`` builds a minimal real set in minutes; ``build_zoo("validation")`` the known-by-construction
organisms the meter is validated on; ``build_zoo("paper")`` what the question notebooks' figures use (presets.py). Each model lands in ``<out_dir>/<name>/`` as a Hugging Face folder plus
``manifest.json`` (the layout contract in ``data/README.md``). A model whose manifest already records
the same spec, and whose files match their recorded sha256, is skipped; a half-built model lives in
``<out_dir>/.<name>.partial/`` (with its resume state) until it is complete, then is renamed into place.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InvalidConfigError, MissingWeightsError, UnknownModelError
from ..io import WEIGHTS_FILE, ensure_dir, read_json, sha256_file, write_json_atomic
from ..paths import user_zoo_dir
from ..provenance import package_versions
from .card import write_model_card
from .corpus import Corpus, make_world, world_of
from .evaluate import evaluate_bandits, evaluate_single_turn, pass_k_grid
from .gain import gain_check
from .presets import PRESETS, preset_specs, recorded_preset
from .pretrain import pretrain
from .rl import train_rl
from .spec import EvalConfig, OrganismSpec, exposure_record, records_spec
from .worlds.bandits import BanditWorld

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
TRAINED = ".trained.json"  # written once training is complete, so a kill during evaluation never retrains
EVAL_DIR = ".eval"  # finished evaluation parts, so a kill during evaluation resumes at the next part
__all__ = ["EvalConfig", "OrganismSpec", "PRESETS", "build_zoo", "is_up_to_date", "load_manifest", "preset_specs"]
CPU_LEDGER = ".cpu_seconds.json"  # CPU seconds of a build's earlier, killed processes
LEDGER_EVERY_S = 30.0


class CpuLedger:
    """CPU seconds spent on one build, across processes: a build killed and run again resumes from its checkpoints,
    and its manifest should count the killed process's CPU time too. While the ledger is open, a daemon thread writes
    the running total to ``work/.cpu_seconds.json`` every ``LEDGER_EVERY_S`` seconds (a kill loses at most that
    much); a later ledger on the same folder starts from it. Process CPU time covers every thread of the process."""

    def __init__(self, work: Path) -> None:
        self.path = Path(work) / CPU_LEDGER
        self.before = float(read_json(self.path)["cpu_seconds"]) if self.path.exists() else 0.0
        self._c0 = time.process_time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-ledger", daemon=True)

    def total(self) -> float:
        """CPU seconds so far: earlier processes' plus this one's since the ledger opened."""
        return self.before + time.process_time() - self._c0

    def _run(self) -> None:
        while not self._stop.wait(LEDGER_EVERY_S):
            write_json_atomic(self.path, {"cpu_seconds": self.total()})

    def __enter__(self) -> CpuLedger:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        write_json_atomic(self.path, {"cpu_seconds": self.total()})


VERSION_PACKAGES = ("torch", "transformers", "trl", "tokenizers", "safetensors", "numpy", "datasets", "accelerate")


# ---------------------------------------------------------------- building


def _file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def is_up_to_date(folder: Path, spec: OrganismSpec, preset: str | None = None) -> bool:
    """True when ``folder`` holds a finished model built from exactly ``spec`` whose files, its weights among them,
    match the manifest."""
    mpath = folder / MANIFEST
    if not mpath.exists():
        return False
    manifest = read_json(mpath)
    if not records_spec(manifest, spec):
        return False
    files = manifest.get("files", {})
    if WEIGHTS_FILE not in files:  # a manifest written without its weights (a build killed between the two) is no model
        return False
    for rel, sha in files.items():
        p = folder / rel
        if not p.exists() or sha256_file(p) != sha:
            return False
    if spec.base is not None:
        # a trained model is only current while its base is the one it was trained from
        base_manifest = folder.parent / spec.base / MANIFEST
        if not base_manifest.exists():
            return False
        if read_json(base_manifest).get("files", {}).get(WEIGHTS_FILE) != manifest.get("base_weights_sha256"):
            return False
    return True


def _eval_part(folder: Path, name: str, compute: Any) -> dict[str, Any]:
    """One evaluation part, cached under ``.eval/`` so a killed evaluation resumes at the next part."""
    path = folder / EVAL_DIR / f"{name}.json"
    if path.exists():
        return read_json(path)
    result = compute()
    write_json_atomic(path, result)
    return result


def _guess_passk(world: Any, problems: list, ks: Sequence[int]) -> dict[str, float]:
    """pass@k of a guesser that draws answers from the evaluated problems' own answer distribution (leave one out);
    in arithmetic, also every running value a chain-verified completion must contain."""
    p = np.asarray(world.guess_probabilities(problems))
    return {f"guess_pass@{k}": float(np.mean(1.0 - (1.0 - p) ** k)) for k in ks}


def problems_digest(world: Any, problems: list) -> str:
    """sha256 of the problems' canonical keys, in order: equal digests mean the same evaluation set."""
    return hashlib.sha256("\n".join(world.problem_key(p) for p in problems).encode()).hexdigest()


def _evaluate_levels(folder: Path, spec: OrganismSpec, model: Any, tok: Any) -> dict[str, Any]:
    """pass@k per difficulty level on held-out problems (the "eval" hash split for leak-free worlds), the guessing
    baseline at the same k, and per-problem correct counts for paired comparisons with the base."""
    ev = spec.eval
    by: dict[str, Any] = {}
    # one world for every model of a design: it depends only on the evaluation levels (not on the model's own
    # training band), so a base and its trained model see the same problems with the same decoding budget
    lo, hi = min(ev.levels), max(ev.levels)
    if spec.world == "arithmetic":
        world = make_world("arithmetic", arithmetic=spec.arithmetic.replace(min_operands=max(lo, 2), max_operands=hi))
    elif spec.world == "composition":
        world = make_world("composition", composition=spec.composition.replace(min_level=lo, max_level=hi))
    else:
        world = make_world("planning", planning=spec.planning.replace(min_depth=lo, max_depth=hi))
    budget = world.max_completion_chars()  # type: ignore[attr-defined]
    split = "eval" if world.config.leak_free else None
    for level in ev.levels:
        kw: dict[str, Any] = {"arithmetic": {"operands": level}, "composition": {"level": level}}.get(
            spec.world, {"depth": level})
        problems = world.sample(ev.per_difficulty_problems, seed=ev.seed + level, split=split, **kw)

        def compute(problems: list = problems, level: int = level) -> dict[str, Any]:
            r = evaluate_single_turn(model, tok, world, problems, n=ev.n_samples, seed=ev.seed + level,
                                     max_new_tokens=budget)
            r.update(_guess_passk(world, problems, pass_k_grid(ev.n_samples)))
            r["problems_sha256"] = problems_digest(world, problems)
            r["max_new_tokens"] = budget
            return r

        by[str(level)] = _eval_part(folder, f"level{level}", compute)
    keys = [k for k in next(iter(by.values())) if k.startswith(("pass@", "guess_pass@")) or k == "greedy_acc"]
    # headline numbers: the mean over levels (each level has the same number of problems)
    out: dict[str, Any] = {k: float(np.mean([v[k] for v in by.values()])) for k in keys}
    out["by_level"] = by
    out["n_samples"] = ev.n_samples
    return out


def _evaluate(folder: Path, spec: OrganismSpec) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    world = world_of(spec)
    ev = spec.eval
    split = "eval" if world.config.leak_free else None
    if isinstance(world, BanditWorld):
        problems = world.sample(ev.n_bandits, seed=ev.seed, split=split)
        return _eval_part(folder, "bandits", lambda: evaluate_bandits(model, tok, world, problems, seed=ev.seed))
    if ev.levels:
        return _evaluate_levels(folder, spec, model, tok)
    problems = world.sample(ev.n_problems, seed=ev.seed, split=split)
    metrics: dict[str, Any] = evaluate_single_turn(model, tok, world, problems, n=ev.n_samples, seed=ev.seed)
    if ev.by_difficulty:
        levels: list[tuple[str, dict[str, int]]]
        if spec.world == "arithmetic":
            levels = [(f"operands{k}", {"operands": k}) for k in range(2, 6)]
        else:
            levels = [(f"depth{d}", {"depth": d}) for d in range(1, min(spec.planning.n_nodes, 6))]
        wide = make_world(spec.world, arithmetic=spec.arithmetic.replace(max_operands=max(spec.arithmetic.max_operands, 5)),
                          planning=spec.planning.replace(min_depth=1, max_depth=max(spec.planning.max_depth, 5)))
        by: dict[str, Any] = {}
        for label, kw in levels:
            try:
                probs = wide.sample_held_out(ev.per_difficulty_problems, seed=ev.seed + 1, **kw)
            except InvalidConfigError:
                continue  # e.g. no graph with a target that deep
            r = evaluate_single_turn(model, tok, wide, probs, n=ev.n_samples, seed=ev.seed + 1,
                                     max_new_tokens=wide.max_completion_chars())  # type: ignore[attr-defined]
            by[label] = {k: v for k, v in r.items() if k in ("pass@1", f"pass@{ev.n_samples}", "greedy_acc", "format_shares")}
        metrics["by_difficulty"] = by
    return metrics


# what an RL manifest keeps of TRL's per-step log (about 25 keys a step; the full log of a 1500-step run is 1.4 MB)
RL_CURVE_KEYS = ("step", "reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "loss", "grad_norm",
                 "learning_rate", "completions/mean_length", "completions/clipped_ratio", "step_time")


def slim_rl_curve(curve: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The RL training curve with :data:`RL_CURVE_KEYS` only (rows that keep nothing but ``step`` are dropped)."""
    rows = [{k: r[k] for k in RL_CURVE_KEYS if k in r} for r in curve]
    return [r for r in rows if set(r) - {"step"}]


def _pretrain_record(res: Any) -> dict[str, Any]:
    """The manifest keys of a pretraining or fine-tuning run."""
    return {"training_curve": res.curve,
            "training": {"steps": res.steps, "tokens": res.tokens, "final_loss": res.final_loss,
                         "seconds": res.seconds, "resumed_from": res.resumed_from}}


def _train(spec: OrganismSpec, work: Path, out_dir: Path, progress: bool) -> dict[str, Any]:
    """Train ``spec`` into ``work``; returns the manifest's training keys. Written to ``.trained.json`` at the end,
    so a rerun after a kill during evaluation reads it back instead of training again."""
    done = work / TRAINED
    if done.exists():
        saved = read_json(done)
        if saved.get("config") == spec.to_dict():
            log.info("zoo: %s is already trained; resuming its evaluation.", spec.name)
            return saved["manifest"]
    out: dict[str, Any] = {}
    if spec.kind == "base":
        assert spec.pretrain is not None
        out["data_hash"] = Corpus(spec.pretrain.corpus).data_hash()
        out.update(_pretrain_record(pretrain(spec.pretrain, work, progress=progress)))
    else:
        assert spec.base is not None
        base_dir = out_dir / spec.base
        if not (base_dir / MANIFEST).exists():
            raise MissingWeightsError(f"Organism {spec.name} needs its base {spec.base} in {out_dir}: build it first.")
        base_manifest = read_json(base_dir / MANIFEST)
        out["base"] = spec.base
        out["variant"] = spec.variant
        out["data_hash"] = base_manifest.get("data_hash")
        out["base_weights_sha256"] = base_manifest["files"].get(WEIGHTS_FILE)
        if spec.kind == "sft":
            assert spec.pretrain is not None
            out["sft_data_hash"] = Corpus(spec.pretrain.corpus).data_hash()
            out.update(_pretrain_record(pretrain(spec.pretrain, work, progress=progress, init_from=base_dir)))
        else:
            assert spec.rl is not None
            rres = train_rl(base_dir, spec.rl, work, progress=progress)
            out["training_curve"] = slim_rl_curve(rres.curve)
            out["training"] = {"steps": rres.steps, "seconds": rres.seconds, "resumed_from": rres.resumed_from,
                               "checkpoints": rres.checkpoints}
    write_json_atomic(done, {"config": spec.to_dict(), "manifest": out})
    return out


def design_record(spec: OrganismSpec, out_dir: Path) -> dict[str, Any]:
    """The manifest keys fixed by design before training: label, split, recipe, exposure, budget."""
    if spec.kind == "base":
        assert spec.pretrain is not None
        return {"exposure": exposure_record(spec.pretrain.corpus)}
    rec: dict[str, Any] = {"label": spec.label or None, "split": spec.split or None, "recipe": spec.recipe}
    base_cfg = OrganismSpec.from_dict(read_json(out_dir / str(spec.base) / MANIFEST)["config"])
    assert base_cfg.pretrain is not None
    rec["exposure"] = exposure_record(base_cfg.pretrain.corpus)
    if spec.rl is not None:
        rec["budget"] = {"kind": "rl", "steps": spec.rl.steps, "lr": spec.rl.lr, "beta": spec.rl.beta,
                         "prompts_per_step": spec.rl.prompts_per_step, "num_generations": spec.rl.num_generations,
                         "reward": spec.rl.reward}
    elif spec.pretrain is not None:
        rec["budget"] = {"kind": "sft", "steps": spec.pretrain.steps, "lr": spec.pretrain.lr,
                         "batch_size": spec.pretrain.batch_size}
    return rec


def _build_one(spec: OrganismSpec, out_dir: Path, preset: str, progress: bool) -> Path:
    final = out_dir / spec.name
    work = out_dir / f".{spec.name}.partial"
    ensure_dir(work)
    with CpuLedger(work) as ledger:
        manifest = _build_in(spec, work, out_dir, preset, progress, ledger)
    write_json_atomic(work / MANIFEST, manifest)
    for scratch in (work / TRAINED, work / CPU_LEDGER):
        scratch.unlink(missing_ok=True)
    shutil.rmtree(work / EVAL_DIR, ignore_errors=True)
    if final.exists():
        shutil.rmtree(final)
    os.replace(work, final)
    write_model_card(final)
    return final


def _build_in(spec: OrganismSpec, work: Path, out_dir: Path, preset: str, progress: bool,
              ledger: CpuLedger) -> dict[str, Any]:
    """Train and evaluate ``spec`` in ``work``; returns its manifest."""
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "world": spec.world, "dose": spec.dose,
                                "seed": spec.seed, "preset": preset, "config": spec.to_dict(),
                                "description": spec.description}
    # the label and what the corpus held are recorded before training, from the configs alone
    manifest.update(design_record(spec, out_dir))
    write_json_atomic(work / ".design.json", manifest)
    manifest.update(_train(spec, work, out_dir, progress))
    metrics = _evaluate(work, spec)
    if spec.kind != "base":
        base_metrics = read_json(out_dir / str(spec.base) / MANIFEST)["metrics"]
        for key in ("pass@1", "greedy_acc", "regret_sampled", "regret_greedy"):
            if key in metrics and key in base_metrics:
                metrics[f"delta_{key}_vs_base"] = metrics[key] - base_metrics[key]
        if spec.label:
            # the operational reading: did training produce the gain its label calls for? (never changes the label)
            manifest["gain_check"] = gain_check(base_metrics, metrics, spec.label)
    manifest["metrics"] = metrics
    manifest["files"] = _file_hashes(work)
    manifest["versions"] = package_versions(VERSION_PACKAGES, python=True)
    # cpu_seconds counts killed earlier runs of this build too (the ledger); seconds is this run's wall time only.
    # cpu_capability is the vector instruction set torch's CPU kernels dispatch to (e.g. AVX2, AVX512): builds of one
    # spec with one torch version and thread count have given different weights on different machines, and the
    # kernels' instruction set is the suspected cause, so it is recorded beside the thread count.
    manifest["build"] = {"seconds": time.perf_counter() - t0, "cpu_seconds": ledger.total(),
                         "cpu_seconds_earlier_runs": ledger.before, "torch_threads": torch.get_num_threads(),
                         "machine": platform.machine(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    return manifest


def build_zoo(
    preset: str,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    only: Sequence[str] | None = None,
    threads: int | None = None,
    jobs: int = 1,
) -> list[Path]:
    """Build every organism of ``preset`` into ``out_dir`` (default: the user zoo); returns their folders. Their
    manifests record ``preset``, or the preset it is part of (:data:`~.presets.PART_OF`).

    Idempotent: models whose manifest matches their spec are skipped unless ``force``. ``only``
    restricts the build to the named models (their bases must exist or be named too). ``threads``
    sets torch's CPU threads for the build (default: ``$RLMETA_THREADS``, else torch's default; one thread is
    much faster on a busy machine, where two threads measured 5-10x slower; the count is kept
    in each manifest because the thread count can change floating-point reduction order).
    ``jobs`` > 1 builds independent chains (a base and the RL models made from it) in that many worker
    processes, each with ``threads`` threads (default 1); every model is built exactly as in a serial build, so the
    weight hashes are the same.
    """
    specs = preset_specs(preset)
    if only is not None:
        if not only:
            raise InvalidConfigError("zoo build --only was given no model names: name at least one, or drop --only.")
        unknown = set(only) - {s.name for s in specs}
        if unknown:
            raise UnknownModelError(sorted(unknown)[0], [s.name for s in specs], hint=f"Names in preset {preset!r}.")
        specs = [s for s in specs if s.name in set(only)]
    if int(jobs) < 1:
        raise InvalidConfigError(f"jobs={jobs}: pass 1 (serial) or more worker processes.")
    out = ensure_dir(out_dir if out_dir is not None else user_zoo_dir())
    if threads is None and os.environ.get("RLMETA_THREADS"):
        threads = int(os.environ["RLMETA_THREADS"])
    todo = [s for s in specs if force or not is_up_to_date(out / s.name, s)]
    if only is not None:  # checked before any training, so a long build does not stop at its first RL model
        spec_of = {s.name: s for s in preset_specs(preset)}
        named = {s.name for s in specs}
        missing = sorted({s.base for s in todo if s.base is not None and s.base not in named
                          and not is_up_to_date(out / s.base, spec_of[s.base])})
        if missing:
            raise MissingWeightsError(f"zoo build --only: the base models {', '.join(missing)} are not built (or out of"
                                      f" date) in {out}, and the named models are trained from them: add them to"
                                      " --only, e.g. --only " + " ".join([*missing, *sorted(named)]) + ".")
    for s in specs:
        if s not in todo:
            log.info("zoo: %s is up to date, skipping.", s.name)
    chains = _chains(todo)
    record = recorded_preset(preset)
    if jobs > 1 and len(chains) > 1:
        # worker processes (spawned: torch and fork do not mix) get the specs themselves, not the preset name
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        log.info("zoo: building %d models in %d independent chains with %d worker processes.", len(todo),
                 len(chains), min(jobs, len(chains)))
        with ProcessPoolExecutor(max_workers=min(jobs, len(chains)), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
            for fut in [pool.submit(_build_chain, c, out, record, False, threads or 1) for c in chains]:
                fut.result()
    else:
        for chain in chains:
            _build_chain(chain, out, record, progress, threads)
    return [out / s.name for s in specs]


def exit_with_parent(parent: int, every: float = 2.0) -> None:
    """Worker initializer: a daemon thread ends this process once its parent ``parent`` is gone. A build killed by
    its process (Ctrl-C, ``kill``) must not leave workers training on: they would keep writing into the zoo, where a
    rerun builds the same models in the same folders and the two races each other's files. Neither
    concurrent.futures nor multiprocessing ends orphaned workers, hence this watch."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _chains(specs: Sequence[OrganismSpec]) -> list[list[OrganismSpec]]:
    """Group specs into independent build chains, each a base (if listed) followed by the RL models built from it;
    RL models whose base is not listed form a chain per base (the base must already exist)."""
    groups: dict[str, list[OrganismSpec]] = {}
    for s in specs:
        groups.setdefault(s.name if s.kind == "base" else str(s.base), []).append(s)
    return list(groups.values())


def _build_chain(chain: Sequence[OrganismSpec], out: Path, preset: str, progress: bool, threads: int | None) -> None:
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        for spec in chain:
            log.info("zoo: building %s (%s).", spec.name, spec.kind)
            _build_one(spec, out, preset, progress)
    finally:
        torch.set_num_threads(old_threads)


def load_manifest(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / MANIFEST)
