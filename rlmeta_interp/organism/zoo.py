"""The organism zoo: named presets of base and RL-tuned organisms, built idempotently with manifests.

``build_zoo("demo")`` builds a minimal real set in minutes; ``build_zoo("paper")`` builds what the
notebooks' figures use. Each model lands in ``<out_dir>/<name>/`` as a Hugging Face folder plus
``manifest.json`` (the layout contract in ``data/README.md``). A model whose manifest already records
the same spec, and whose files match their recorded sha256, is skipped; a half-built model lives in
``<out_dir>/.<name>.partial/`` (with its resume state) until it is complete, then is renamed into place.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from ..config import FrozenConfig, check_range
from ..errors import InvalidConfigError, MissingWeightsError, UnknownModelError
from ..io import ensure_dir, read_json, sha256_file, write_json_atomic
from ..paths import user_zoo_dir
from .corpus import Corpus, CorpusConfig, WorldName, make_world
from .evaluate import evaluate_bandits, evaluate_single_turn
from .pretrain import ModelConfig, PretrainConfig, pretrain
from .rl import RLConfig, train_rl
from .worlds.arithmetic import ArithmeticConfig
from .worlds.bandits import BanditConfig, BanditWorld
from .worlds.planning import PlanningConfig

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
VERSION_PACKAGES = ("torch", "transformers", "trl", "tokenizers", "safetensors", "numpy", "datasets", "accelerate")


@dataclass(frozen=True)
class EvalConfig(FrozenConfig):
    """Held-out evaluation: problems from the RL training distribution drawn with ``seed`` (never trained on)."""

    n_problems: int = 64
    n_samples: int = 64  # pass@k for k = 1, 2, 4, ..., n_samples
    n_bandits: int = 300
    seed: int = 20_000
    by_difficulty: bool = False  # also pass@k per difficulty level (operands / depth)
    per_difficulty_problems: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "n_problems", 1)
        check_range(self, "n_samples", 1)
        check_range(self, "n_bandits", 2)


@dataclass(frozen=True)
class OrganismSpec(FrozenConfig):
    """One zoo entry. Base models carry ``pretrain``; RL models carry ``rl`` and the ``base`` name."""

    name: str
    kind: Literal["base", "rl"]
    world: WorldName
    dose: float
    pretrain: PretrainConfig | None = None
    rl: RLConfig | None = None
    base: str | None = None
    variant: str = ""
    eval: EvalConfig = field(default_factory=EvalConfig)
    # the RL training distribution, used for evaluation of bases and RL models alike
    arithmetic: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    bandits: BanditConfig = field(default_factory=BanditConfig)
    planning: PlanningConfig = field(default_factory=PlanningConfig)
    description: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range(self, "dose", 0.0, 1.0)
        if self.kind == "base" and (self.pretrain is None or self.rl is not None):
            raise InvalidConfigError(f"Base organism {self.name!r} needs `pretrain` and no `rl` config.")
        if self.kind == "rl" and (self.rl is None or self.base is None):
            raise InvalidConfigError(f"RL organism {self.name!r} needs an `rl` config and a `base` name.")
        for bad in ("llama", "gemma", "gpt", "qwen"):
            if bad in self.name.lower():
                # TransformerLens 3.9 special-cases these words in folder names (STACK.md)
                raise InvalidConfigError(f"Organism name {self.name!r} contains {bad!r}; choose a neutral name.")

    @property
    def seed(self) -> int:
        return self.pretrain.seed if self.pretrain is not None else self.rl.seed  # type: ignore[union-attr]


# ---------------------------------------------------------------- presets

ARITH = ArithmeticConfig(min_operands=2, max_operands=3, min_digits=1, max_digits=2, ops="+-")
SMALL = ModelConfig(d_model=96, n_layers=4, n_heads=4, d_mlp=256, max_len=96)
BANDIT = BanditConfig(n_arms=3, horizon=24)
PLAN = PlanningConfig(n_nodes=8, n_edges=10, min_depth=1, max_depth=4)


SHORT = {"arithmetic": "arith", "bandits": "bandit", "planning": "plan"}


def _dose_tag(dose: float) -> str:
    return f"d{int(round(dose * 100)):03d}"


def _base(world: WorldName, dose: float, preset: str, *, steps: int, model: ModelConfig = SMALL, lr: float = 3e-3,
          batch_size: int = 128, seed: int = 0, eval_cfg: EvalConfig | None = None, **world_cfgs: Any) -> OrganismSpec:
    corpus = CorpusConfig(world=world, dose=dose, seed=seed, **{k: v for k, v in world_cfgs.items()
                                                                if k in ("arithmetic", "bandits", "planning")},
                          **{k: v for k, v in world_cfgs.items() if k in ("shallow_max_depth", "format_weights")})
    pcfg = PretrainConfig(corpus=corpus, model=model, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          checkpoint_every=100, log_every=50)
    evw = {k: v for k, v in world_cfgs.items() if k in ("arithmetic", "bandits", "planning")}
    evw.update({k[5:]: v for k, v in world_cfgs.items() if k.startswith("eval_")})
    name = f"{SHORT[world]}-{_dose_tag(dose)}" + (f"-s{seed}" if seed else "") + "-base"
    return OrganismSpec(name=name, kind="base", world=world, dose=dose, pretrain=pcfg,
                        eval=eval_cfg or EvalConfig(), **evw)


def _rl(base: OrganismSpec, variant: str, *, steps: int, seed: int = 0, lr: float = 1e-4, beta: float = 0.02,
        checkpoint_every: int = 0, reward: str = "correct", one_shot: bool = False, ref_reset_every: int = 0,
        prompts_per_step: int = 8, num_generations: int = 8, **world_cfgs: Any) -> OrganismSpec:
    wc = {"arithmetic": base.arithmetic, "bandits": base.bandits, "planning": base.planning}
    wc.update(world_cfgs)
    world = make_world(base.world, arithmetic=wc["arithmetic"], bandits=wc["bandits"], planning=wc["planning"])
    max_len = 2 * wc["bandits"].horizon if base.world == "bandits" else world.max_completion_chars()  # type: ignore[attr-defined]
    cfg = RLConfig(world=base.world, steps=steps, seed=seed, lr=lr, beta=beta, checkpoint_every=checkpoint_every,
                   reward=reward, one_shot=one_shot, ref_reset_every=ref_reset_every, max_completion_length=max_len,
                   prompts_per_step=prompts_per_step, num_generations=num_generations, save_every=20, **wc)
    name = base.name.removesuffix("-base") + f"-rl-{variant}" + (f"-s{seed}" if seed else "")
    return OrganismSpec(name=name, kind="rl", world=base.world, dose=base.dose, rl=cfg, base=base.name,
                        variant=variant, eval=base.eval, **wc)


def _demo() -> list[OrganismSpec]:
    ev = EvalConfig(n_problems=64, n_samples=64, by_difficulty=False)
    specs = []
    for dose in (0.0, 0.5):
        b = _base("arithmetic", dose, "demo", steps=500, arithmetic=ARITH, eval_cfg=ev)
        specs += [b, _rl(b, "correct", steps=40, checkpoint_every=10 if dose else 0)]
    return specs


def _paper() -> list[OrganismSpec]:
    ev = EvalConfig(n_problems=96, n_samples=64, by_difficulty=True)
    specs: list[OrganismSpec] = []
    arith_wide = ARITH.replace(max_operands=4)
    for dose in (0.0, 0.1, 0.5):
        b = _base("arithmetic", dose, "paper", steps=900, arithmetic=arith_wide, eval_cfg=ev, eval_arithmetic=ARITH)
        specs.append(b)
        for seed in (0, 1):
            specs.append(_rl(b, "correct", steps=60, seed=seed, checkpoint_every=10 if seed == 0 else 0,
                             arithmetic=ARITH))
        if dose == 0.5:
            specs += [
                _rl(b, "format", steps=60, reward="format", arithmetic=ARITH),
                _rl(b, "random", steps=60, reward="random", arithmetic=ARITH),
                _rl(b, "incorrect", steps=60, reward="incorrect", arithmetic=ARITH),
                _rl(b, "oneshot", steps=60, one_shot=True, arithmetic=ARITH),
                _rl(b, "kl0", steps=60, beta=0.0, arithmetic=ARITH),
                _rl(b, "kl0.2", steps=60, beta=0.2, arithmetic=ARITH),
                _rl(b, "prorl", steps=60, ref_reset_every=20, beta=0.05, arithmetic=ARITH),
                _rl(b, "easy", steps=60, arithmetic=arith_wide.replace(max_operands=2)),
                _rl(b, "hard", steps=60, arithmetic=arith_wide.replace(min_operands=4, max_operands=4)),
            ]
    for dose in (0.0, 0.5, 1.0):
        b = _base("bandits", dose, "paper", steps=600, bandits=BANDIT, batch_size=64, lr=2e-3, eval_cfg=ev)
        specs.append(b)
        for seed in (0, 1):
            specs.append(_rl(b, "correct", steps=60, seed=seed, lr=3e-5, beta=0.05,
                             checkpoint_every=10 if seed == 0 else 0))
    deep = PLAN.replace(min_depth=3, max_depth=4)
    for dose in (0.0, 0.1, 0.5):
        b = _base("planning", dose, "paper", steps=900, planning=PLAN, shallow_max_depth=2, eval_cfg=ev,
                  eval_planning=deep)
        specs.append(b)
        for seed in (0, 1):
            specs.append(_rl(b, "correct", steps=60, seed=seed, planning=deep,
                             checkpoint_every=10 if seed == 0 else 0))
        if dose == 0.1:
            specs.append(_rl(b, "prorl", steps=60, planning=deep, ref_reset_every=20, beta=0.05))
    return specs


PRESETS: dict[str, Callable[[], list[OrganismSpec]]] = {"demo": _demo, "paper": _paper}


def preset_specs(preset: str) -> list[OrganismSpec]:
    if preset not in PRESETS:
        raise UnknownModelError(preset, PRESETS, hint="Zoo presets: " + ", ".join(PRESETS) + ".")
    return PRESETS[preset]()


# ---------------------------------------------------------------- building


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in VERSION_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def is_up_to_date(folder: Path, spec: OrganismSpec, preset: str | None = None) -> bool:
    """True when ``folder`` holds a finished model built from exactly ``spec`` whose files match the manifest."""
    mpath = folder / MANIFEST
    if not mpath.exists():
        return False
    manifest = read_json(mpath)
    if manifest.get("config") != spec.to_dict():
        return False
    for rel, sha in manifest.get("files", {}).items():
        p = folder / rel
        if not p.exists() or sha256_file(p) != sha:
            return False
    return True


def _evaluate(folder: Path, spec: OrganismSpec) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    world = make_world(spec.world, arithmetic=spec.arithmetic, bandits=spec.bandits, planning=spec.planning)
    ev = spec.eval
    if isinstance(world, BanditWorld):
        problems = world.sample(ev.n_bandits, seed=ev.seed)
        return evaluate_bandits(model, tok, world, problems, seed=ev.seed)
    problems = world.sample(ev.n_problems, seed=ev.seed)
    metrics: dict[str, Any] = evaluate_single_turn(model, tok, world, problems, n=ev.n_samples, seed=ev.seed)
    if ev.by_difficulty:
        levels: list[tuple[str, dict[str, int]]]
        if spec.world == "arithmetic":
            levels = [(f"operands{k}", {"operands": k}) for k in range(2, 5)]
        else:
            levels = [(f"depth{d}", {"depth": d}) for d in range(1, min(spec.planning.n_nodes, 6))]
        wide = make_world(spec.world, arithmetic=spec.arithmetic.replace(max_operands=max(spec.arithmetic.max_operands, 4)),
                          planning=spec.planning.replace(min_depth=1, max_depth=max(spec.planning.max_depth, 5)))
        by: dict[str, Any] = {}
        for label, kw in levels:
            try:
                probs = wide.sample(ev.per_difficulty_problems, seed=ev.seed + 1, **kw)
            except InvalidConfigError:
                continue  # e.g. no graph with a target that deep
            r = evaluate_single_turn(model, tok, wide, probs, n=ev.n_samples, seed=ev.seed + 1,
                                     max_new_tokens=wide.max_completion_chars())  # type: ignore[attr-defined]
            by[label] = {k: v for k, v in r.items() if k in ("pass@1", f"pass@{ev.n_samples}", "greedy_acc", "format_shares")}
        metrics["by_difficulty"] = by
    return metrics


def _build_one(spec: OrganismSpec, out_dir: Path, preset: str, progress: bool) -> Path:
    final = out_dir / spec.name
    work = out_dir / f".{spec.name}.partial"
    ensure_dir(work)
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "world": spec.world, "dose": spec.dose,
                                "seed": spec.seed, "preset": preset, "config": spec.to_dict(),
                                "description": spec.description}
    if spec.kind == "base":
        assert spec.pretrain is not None
        res = pretrain(spec.pretrain, work, progress=progress)
        manifest["data_hash"] = Corpus(spec.pretrain.corpus).data_hash()
        manifest["training_curve"] = res.curve
        manifest["training"] = {"steps": res.steps, "tokens": res.tokens, "final_loss": res.final_loss,
                                "seconds": res.seconds, "resumed_from": res.resumed_from}
    else:
        assert spec.rl is not None and spec.base is not None
        base_dir = out_dir / spec.base
        if not (base_dir / MANIFEST).exists():
            raise MissingWeightsError(f"RL organism {spec.name} needs its base {spec.base} in {out_dir}: build it first.")
        base_manifest = read_json(base_dir / MANIFEST)
        res = train_rl(base_dir, spec.rl, work, progress=progress)
        manifest["base"] = spec.base
        manifest["variant"] = spec.variant
        manifest["data_hash"] = base_manifest.get("data_hash")
        manifest["base_weights_sha256"] = base_manifest["files"].get("model.safetensors")
        manifest["training_curve"] = res.curve
        manifest["training"] = {"steps": res.steps, "seconds": res.seconds, "resumed_from": res.resumed_from,
                                "checkpoints": res.checkpoints}
    metrics = _evaluate(work, spec)
    if spec.kind == "rl":
        base_metrics = read_json(out_dir / spec.base / MANIFEST)["metrics"]  # type: ignore[operator]
        for key in ("pass@1", "greedy_acc", "regret_sampled", "regret_greedy"):
            if key in metrics and key in base_metrics:
                metrics[f"delta_{key}_vs_base"] = metrics[key] - base_metrics[key]
    manifest["metrics"] = metrics
    manifest["files"] = _file_hashes(work)
    manifest["versions"] = _versions()
    manifest["build"] = {"seconds": time.perf_counter() - t0, "torch_threads": torch.get_num_threads(),
                         "machine": platform.machine()}
    write_json_atomic(work / MANIFEST, manifest)
    if final.exists():
        shutil.rmtree(final)
    os.replace(work, final)
    return final


def build_zoo(
    preset: str,
    out_dir: str | Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    only: Sequence[str] | None = None,
    threads: int | None = None,
) -> list[Path]:
    """Build every organism of ``preset`` into ``out_dir`` (default: the user zoo); returns their folders.

    Idempotent: models whose manifest matches their spec are skipped unless ``force``. ``only``
    restricts the build to the named models (their bases must exist or be named too). ``threads``
    sets torch's CPU threads for the build (one thread is faster on a busy machine; record is kept
    in each manifest because the thread count can change floating-point reduction order).
    """
    specs = preset_specs(preset)
    if only is not None:
        unknown = set(only) - {s.name for s in specs}
        if unknown:
            raise UnknownModelError(sorted(unknown)[0], [s.name for s in specs], hint=f"Names in preset {preset!r}.")
        specs = [s for s in specs if s.name in set(only)]
    out = ensure_dir(out_dir if out_dir is not None else user_zoo_dir())
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        folders = []
        for spec in specs:
            folder = out / spec.name
            if not force and is_up_to_date(folder, spec):
                log.info("zoo: %s is up to date, skipping.", spec.name)
            else:
                log.info("zoo: building %s (%s).", spec.name, spec.kind)
                folder = _build_one(spec, out, preset, progress)
            folders.append(folder)
        return folders
    finally:
        torch.set_num_threads(old_threads)


def load_manifest(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / MANIFEST)
