from collections import Counter

import pytest
import torch

from rlmeta_interp.errors import InvalidConfigError, MissingWeightsError
from rlmeta_interp.io import sha256_file
from rlmeta_interp.organism import presets, zoo
from rlmeta_interp.organism.pretrain import ModelConfig
from rlmeta_interp.organism.worlds.arithmetic import ArithmeticConfig

ARITH = ArithmeticConfig(max_operands=2, max_digits=1)
TINY = ModelConfig(d_model=32, n_layers=2, n_heads=2, d_mlp=64, max_len=48)
EV = zoo.EvalConfig(n_problems=4, n_samples=4, n_bandits=4)


def _tiny() -> list[zoo.OrganismSpec]:
    b = presets.base_spec("arithmetic", 0.5, "tiny", steps=4, model=TINY, batch_size=8, arithmetic=ARITH, eval_cfg=EV)
    return [b, presets.rl_spec(b, "random", steps=2, reward="random", prompts_per_step=2, num_generations=4,
                       checkpoint_every=1)]


@pytest.fixture
def tiny_preset(monkeypatch):
    monkeypatch.setitem(zoo.PRESETS, "tiny", _tiny)


REQUIRED = {"name", "kind", "world", "dose", "seed", "preset", "config", "data_hash", "training_curve", "metrics",
            "files", "versions"}


def test_build_manifest_idempotent_and_loadable(tiny_preset, tmp_path, monkeypatch):
    monkeypatch.setenv("RLMETA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RLMETA_DATA", str(tmp_path / "data"))
    folders = zoo.build_zoo("tiny", progress=False, threads=1)
    assert [f.name for f in folders] == ["tiny-arith-d050-base", "tiny-arith-d050-rl-random"]
    base_m, rl_m = (zoo.load_manifest(f) for f in folders)
    assert REQUIRED <= set(base_m) and REQUIRED | {"base", "variant"} <= set(rl_m)
    assert rl_m["base"] == "tiny-arith-d050-base" and rl_m["variant"] == "random" and rl_m["dose"] == 0.5
    assert base_m["kind"] == "base" and base_m["world"] == "arithmetic"
    assert {"pass@1", "pass@4", "greedy_acc", "format_shares"} <= set(base_m["metrics"])
    assert "delta_pass@1_vs_base" in rl_m["metrics"]
    # the RL curve keeps the listed TRL keys, one row per logged step, with the reward in every row
    assert rl_m["training_curve"] and all(set(r) <= set(zoo.RL_CURVE_KEYS) and "reward" in r
                                          for r in rl_m["training_curve"])
    # dynamics checkpoints between the ends (step 0 is the base, the last step is model.safetensors)
    ckpts = sorted(k for k in rl_m["files"] if k.startswith("checkpoints/"))
    assert ckpts and f"checkpoints/step_{rl_m['training']['steps']:06d}/model.safetensors" not in ckpts
    for f, m in zip(folders, (base_m, rl_m), strict=True):
        for rel, sha in m["files"].items():
            assert sha256_file(f / rel) == sha
    assert not list(folders[0].parent.glob(".*partial"))
    stamp = (folders[1] / "manifest.json").stat().st_mtime_ns
    again = zoo.build_zoo("tiny", progress=False, threads=1)
    assert again == folders
    assert (folders[1] / "manifest.json").stat().st_mtime_ns == stamp  # skipped, not rebuilt
    # a manifest that lists no weights (as a build killed between writing the two leaves it) is no model
    import json

    spec = {s.name: s for s in zoo.preset_specs("tiny")}[folders[1].name]
    assert zoo.is_up_to_date(folders[1], spec)
    m = json.loads((folders[1] / "manifest.json").read_text())
    (folders[1] / "manifest.json").write_text(json.dumps({**m, "files": {k: v for k, v in m["files"].items()
                                                                        if k != "model.safetensors"}}))
    assert not zoo.is_up_to_date(folders[1], spec)
    (folders[1] / "manifest.json").write_text(json.dumps(m))

    from rlmeta_interp.models import load_pair

    pair = load_pair("tiny-arith-d050-rl-random")
    assert pair.spec.dose == 0.5 and pair.spec.world == "arithmetic"
    ids = torch.tensor([[pair.base.tokenizer.bos_token_id, 5, 6]])
    assert pair.rl.hf(input_ids=ids).logits.shape[:2] == (1, 3)


def test_build_is_deterministic(tiny_preset, tmp_path):
    a = zoo.build_zoo("tiny", tmp_path / "a", progress=False, threads=1)
    b = zoo.build_zoo("tiny", tmp_path / "b", progress=False, threads=1)
    for fa, fb in zip(a, b, strict=True):
        assert zoo.load_manifest(fa)["files"] == zoo.load_manifest(fb)["files"]


def _two_chains() -> list[zoo.OrganismSpec]:
    out = []
    for dose in (0.0, 0.5):
        b = presets.base_spec("arithmetic", dose, "tiny2", steps=3, model=TINY, batch_size=8, arithmetic=ARITH, eval_cfg=EV)
        out += [b, presets.rl_spec(b, "random", steps=1, reward="random", prompts_per_step=2, num_generations=4)]
    return out


def test_parallel_chains_build_the_same_weights(monkeypatch, tmp_path):
    # built under a preset that is part of another (as validation-core is of validation): serially and in workers,
    # every manifest records the fuller preset
    monkeypatch.setitem(zoo.PRESETS, "tiny2-part", _two_chains)
    monkeypatch.setitem(presets.PART_OF, "tiny2-part", "tiny2")
    assert [[s.name for s in c] for c in zoo._chains(_two_chains())] == [
        ["tiny2-arith-d000-base", "tiny2-arith-d000-rl-random"], ["tiny2-arith-d050-base", "tiny2-arith-d050-rl-random"]]
    serial = zoo.build_zoo("tiny2-part", tmp_path / "serial", progress=False, threads=1)
    parallel = zoo.build_zoo("tiny2-part", tmp_path / "parallel", progress=False, threads=1, jobs=2)
    assert [p.name for p in parallel] == [p.name for p in serial]
    for a, b in zip(serial, parallel, strict=True):
        assert zoo.load_manifest(a)["files"] == zoo.load_manifest(b)["files"]
        assert zoo.load_manifest(a)["preset"] == zoo.load_manifest(b)["preset"] == "tiny2"
    with pytest.raises(InvalidConfigError, match="jobs"):
        zoo.build_zoo("tiny2-part", tmp_path / "x", jobs=0)


def test_presets_are_valid_and_names_unique():
    for name in zoo.PRESETS:
        specs = zoo.preset_specs(name)
        names = [s.name for s in specs]
        assert len(names) == len(set(names))
        seen = set()
        for s in specs:
            if s.kind in ("rl", "sft"):
                assert s.base in seen, f"{s.name} is listed before its base"
            seen.add(s.name)
            assert zoo.OrganismSpec.from_dict(s.to_dict()) == s
    demo = zoo.preset_specs("demo")
    assert len({s.dose for s in demo}) >= 2 and {s.kind for s in demo} == {"base", "sft"}
    # the demo holds a known-creation pair and its activation twin, under one budget, and is a subset of the
    # validation preset (the same specs under the same names)
    trained = [s for s in demo if s.kind == "sft"]
    assert sorted(s.label for s in trained) == ["activation", "creation"]
    assert len({(s.pretrain.steps, s.pretrain.lr, s.pretrain.batch_size) for s in trained}) == 1
    assert set(demo) <= set(zoo.preset_specs("validation"))
    paper = zoo.preset_specs("paper")
    assert {s.world for s in paper} == {"arithmetic", "bandits", "planning"}
    assert {"format", "random", "incorrect", "oneshot", "prorl"} <= {s.variant for s in paper}
    assert not any(s.label for s in paper)  # format-dosed and not leak-free: no paper pair is a validation case
    by_name = {s.name: s for s in paper}
    long = by_name["demo-arith-d050-rl-long"]
    assert long.rl.steps > by_name["demo-arith-d050-rl-correct"].rl.steps and long.rl.checkpoint_every > 0
    with pytest.raises(InvalidConfigError, match="Unknown zoo preset 'nope'"):
        zoo.preset_specs("nope")
    with pytest.raises(InvalidConfigError, match="neutral"):
        zoo.OrganismSpec(name="tiny_llama", kind="base", world="arithmetic", dose=0.0,
                         pretrain=demo[0].pretrain)


def test_every_exported_validation_manifest_was_built_from_the_current_preset_spec():
    """A change to the preset (a new seed, another fine-tuning corpus) must not silently change the specs of the
    models already built and measured: each exported manifest's config reads back as the preset's spec."""
    from rlmeta_interp.io import read_json
    from rlmeta_interp.organism.manifests import manifest_files, validation_manifests_dir

    specs = {s.name: s for s in zoo.preset_specs("validation")}
    paths = manifest_files(validation_manifests_dir())
    assert len(paths) >= 70
    for path in paths:
        m = read_json(path)
        assert zoo.OrganismSpec.from_dict(m["config"]) == specs[m["name"]], m["name"]


@pytest.mark.parametrize("preset", ["validation", "validation-core"])
def test_validation_presets_labels_splits_and_budgets(preset):
    specs = zoo.preset_specs(preset)
    trained = [s for s in specs if s.kind != "base"]
    bases = {s.name: s for s in specs if s.kind == "base"}
    assert all(s.label and s.split and s.recipe for s in trained)
    # labels follow from the corpora alone: dose 0 of deep chains is creation, a dose > 0 activation; random rewards,
    # and fine-tuning documents that never show the capability, are no-signal controls
    for s in trained:
        c = bases[s.base].pretrain.corpus
        shown = c.dose > 0 and c.bandit_rewards != "shuffled" and (c.world != "arithmetic" or c.arithmetic_dose == "depth")
        control = (s.rl is not None and s.rl.reward == "random") or (s.kind == "sft" and s.pretrain.corpus.dose == 0)
        want = "no_signal" if control else ("activation" if shown else "creation")
        assert s.label == want, s.name
    assert {s.split for s in trained if s.label == "no_signal" and s.kind == "sft"} == {"calibration", "test"}
    # a shuffled-reward base fine-tuned on real-reward histories is a creation case of the calibration split
    assert any(bases[s.base].pretrain.corpus.bandit_rewards == "shuffled" and s.kind == "sft" and s.label == "creation"
               and s.split == "calibration" for s in trained)
    assert {s.label for s in trained} == {"creation", "activation", "no_signal"}
    # one RL budget (steps, lr, KL, prompts x samples) per recipe, whatever the class
    for recipe in {s.recipe for s in trained if s.rl is not None}:
        budgets = {(s.rl.steps, s.rl.lr, s.rl.beta, s.rl.prompts_per_step, s.rl.num_generations)
                   for s in trained if s.recipe == recipe and s.rl is not None}
        assert len(budgets) == 1, recipe
    # one fine-tuning budget per recipe and world too (the classes a comparison pits against each other)
    for recipe, world in {(s.recipe, s.world) for s in trained if s.kind == "sft"}:
        assert len({(s.pretrain.steps, s.pretrain.lr, s.pretrain.batch_size) for s in trained
                    if s.recipe == recipe and s.world == world and s.kind == "sft"}) == 1
    # 3 pretraining seeds per base design, 2 RL (or fine-tuning) seeds per base of every counted recipe; held-out
    # split = other pretraining seeds
    for b in bases.values():
        children = [s for s in trained if s.base == b.name and s.label != "no_signal" and s.recipe != "depth-edge"]
        assert len(children) >= 2 or b.pretrain.corpus.bandit_rewards == "shuffled", b.name
    designs: dict[tuple, set[int]] = {}
    for b in bases.values():
        designs.setdefault((b.world, b.pretrain.corpus.replace(seed=0)), set()).add(b.pretrain.seed)
    assert all(len(seeds) >= 3 for seeds in designs.values())
    assert len({s.world for s in trained if s.label == "creation"}) >= 2
    assert {s.split for s in trained} == {"calibration", "test"}
    key = lambda s: (s.recipe, s.world, bases[s.base].pretrain.seed)  # noqa: E731
    # a recipe's base models are never on both sides (the held-out RL recipe trains the bandit bases that the
    # calibration fine-tuning pairs start from too: a different training method from the same weights)
    assert not {key(s) for s in trained if s.split == "calibration"} & {key(s) for s in trained if s.split == "test"}
    cal = {s.base for s in trained if s.split == "calibration"}
    # both worlds calibrate; each world holds out pretraining seeds that no calibration pair was built from
    assert {bases[b].world for b in cal} == {"arithmetic", "bandits"}
    for world in ("arithmetic", "bandits"):
        cal_seeds = {bases[b].pretrain.seed for b in cal if bases[b].world == world}
        test_seeds = {bases[s.base].pretrain.seed for s in trained
                      if s.split == "test" and s.world == world and s.kind == "sft"}
        assert test_seeds and not (cal_seeds & test_seeds), world
    assert all(getattr(b.pretrain.corpus, b.world).leak_free for b in bases.values())
    # at least one recipe is absent from the calibration split
    assert {s.recipe for s in trained if s.split == "test"} - {s.recipe for s in trained if s.split == "calibration"}
    # every class in both worlds, at least 10 creation and 10 activation pairs of recipes counted as validation cases
    counted = Counter(s.label for s in trained if s.recipe != "depth-edge")
    assert counted["creation"] >= 10 and counted["activation"] >= 10 and counted["no_signal"] >= 1
    for label in ("creation", "activation"):
        assert {s.world for s in trained if s.label == label} == {"arithmetic", "bandits"}, label
    if preset == "validation":
        _check_fresh_test_seeds(trained, bases)


def test_validation_core_is_the_calibration_split_and_the_first_held_out_seeds_of_validation():
    """The core preset builds part of validation under the same names and specs, so a core build serves validation
    (and records it), and ``validate`` on it fits on the whole calibration split: the rules are the full preset's."""
    full = {s.name: s for s in zoo.preset_specs("validation")}
    core = zoo.preset_specs("validation-core")
    assert all(full[s.name] == s for s in core) and presets.recorded_preset("validation-core") == "validation"
    assert presets.recorded_preset("validation") == "validation"
    assert {s.name for s in core} >= {n for n, s in full.items() if s.split == "calibration"}
    seeds = {s.name: s.pretrain.seed for s in full.values() if s.kind == "base"}
    # what it leaves out is exactly the later clean-test seeds, every model of them
    assert {n for n in full if n not in {s.name for s in core}} == {
        n for n, s in full.items() if seeds[s.base if s.kind != "base" else n] in presets.CLEAN_TEST_SEEDS}


def _check_fresh_test_seeds(trained: list[zoo.OrganismSpec], bases: dict[str, zoo.OrganismSpec]) -> None:
    # the fresh held-out seeds (a test designed after the calibration split last changed): every pair held out, all
    # three classes, creation and activation in both worlds, from pretraining seeds no other pair starts from
    fresh = [s for s in trained if bases[s.base].pretrain.seed in presets.CLEAN_TEST_SEEDS]
    assert {s.split for s in fresh} == {"test"} and {s.label for s in fresh} == {"creation", "activation", "no_signal"}
    for label in ("creation", "activation"):
        assert {s.world for s in fresh if s.label == label} == {"arithmetic", "bandits"}, label
    assert not set(presets.CLEAN_TEST_SEEDS) & {*presets.PRETRAIN_SEEDS, *presets.BANDIT_CALIBRATION_ONLY_SEEDS}


def test_sft_organism_is_labelled_before_training_and_evaluation_resumes(tmp_path, monkeypatch):
    """A kill during the final evaluation keeps the training: the rerun evaluates without training again."""
    arith = ArithmeticConfig(min_operands=2, max_operands=4, max_digits=1, leak_free=True)
    ev = zoo.EvalConfig(n_samples=4, per_difficulty_problems=4, levels=(3, 4))
    b = presets.base_spec("arithmetic", 0.0, "tiny3", steps=3, model=TINY.replace(max_len=96), batch_size=8,
                          arithmetic=arith, arithmetic_dose="depth", shallow_max_depth=3, eval_cfg=ev)
    sft = presets.sft_spec(b, "deep", b.pretrain.corpus.replace(dose=1.0), steps=2, lr=1e-3, batch_size=8,
                           split="calibration", recipe="sft-calibration")
    assert sft.label == "creation"
    out = tmp_path / "zoo"
    monkeypatch.setitem(zoo.PRESETS, "tiny3", lambda: [b, sft])
    with pytest.raises(MissingWeightsError, match=f"{b.name} are not built.*--only {b.name} {sft.name}"):
        zoo.build_zoo("tiny3", out, progress=False, threads=1, only=[sft.name])  # its base neither built nor named
    assert not list(out.iterdir())  # refused before anything was trained
    zoo.build_zoo("tiny3", out, progress=False, threads=1, only=[b.name])
    calls = []
    real_eval = zoo.evaluate_single_turn

    def crash_after_first_level(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed during evaluation")
        return real_eval(*a, **kw)

    monkeypatch.setattr(zoo, "evaluate_single_turn", crash_after_first_level)
    with pytest.raises(KeyboardInterrupt):
        zoo.build_zoo("tiny3", out, progress=False, threads=1, only=[sft.name])
    partial = out / f".{sft.name}.partial"
    assert (partial / zoo.TRAINED).exists() and (partial / ".design.json").exists()
    assert zoo.load_manifest(partial.parent / b.name)  # the base is finished
    design = zoo.read_json(partial / ".design.json")
    assert design["label"] == "creation" and "metrics" not in design  # written before training and evaluation
    earlier = zoo.read_json(partial / zoo.CPU_LEDGER)["cpu_seconds"]
    assert earlier > 0  # the killed run's CPU time is kept for the manifest
    monkeypatch.setattr(zoo, "evaluate_single_turn", real_eval)
    monkeypatch.setattr(zoo, "pretrain", lambda *a, **kw: pytest.fail("training ran again after the kill"))
    (folder,) = zoo.build_zoo("tiny3", out, progress=False, threads=1, only=[sft.name])
    m = zoo.load_manifest(folder)
    assert m["label"] == "creation" and m["split"] == "calibration" and m["recipe"] == "sft-calibration"
    assert m["budget"]["kind"] == "sft" and m["exposure"]["share_of_documents"] == 0.0
    assert set(m["metrics"]["by_level"]) == {"3", "4"} and "guess_pass@4" in m["metrics"]["by_level"]["4"]
    assert m["gain_check"]["kind"] == "passk" and set(m["gain_check"]["levels"]) == {"3", "4"}
    # CPU seconds count the killed run too; the ledger does not travel into the finished folder
    assert m["build"]["cpu_seconds_earlier_runs"] == pytest.approx(earlier) and m["build"]["cpu_seconds"] > earlier
    assert not (folder / zoo.CPU_LEDGER).exists()
    # what the weights can depend on besides the spec: threads and the CPU's vector instructions
    assert m["build"]["torch_threads"] == 1
    assert m["build"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()


def test_cpu_ledger_writes_its_running_total_while_open(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(zoo, "LEDGER_EVERY_S", 0.05)
    (tmp_path / zoo.CPU_LEDGER).write_text('{"cpu_seconds": 100.0}')
    with zoo.CpuLedger(tmp_path) as ledger:
        assert ledger.before == 100.0
        t = time.process_time()
        while time.process_time() - t < 0.3:  # burn CPU: the thread must record it before the block ends
            pass
        mid = zoo.read_json(tmp_path / zoo.CPU_LEDGER)["cpu_seconds"]
        assert 100.0 < mid <= ledger.total()
    assert zoo.read_json(tmp_path / zoo.CPU_LEDGER)["cpu_seconds"] >= 100.3


def test_build_workers_end_when_the_build_process_is_killed(tmp_path):
    """A killed `zoo build --jobs N` must not leave its workers training into the zoo: the parent here starts a worker
    pool with the build's initializer, reports the worker's pid and is killed; the worker ends within seconds."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import multiprocessing, os, sys, time\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from rlmeta_interp.organism.zoo import exit_with_parent\n"
        "if __name__ == '__main__':\n"
        "    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'),\n"
        "                               initializer=exit_with_parent, initargs=(os.getpid(), 0.2))\n"
        "    print(pool.submit(os.getpid).result(), flush=True)\n"
        "    pool.submit(time.sleep, 600)\n"
        "    time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        stat = f"/proc/{worker}/stat"  # ended but not reaped (a container's pid 1 may not reap): state Z
        if os.path.exists(stat) and open(stat).read().rsplit(")", 1)[1].split()[0] == "Z":
            return
        time.sleep(0.2)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"worker {worker} outlived its killed parent by 30 s")
