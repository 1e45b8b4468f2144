from __future__ import annotations

import pytest
import torch

from rlmeta_interp import harvest, load_model
from rlmeta_interp.activations import fast_path_available
from rlmeta_interp.errors import EmptyInputError, HookNotFoundError, LayerOutOfRangeError
from rlmeta_interp.hooks import SITES, hook_name

from .conftest import ARCHS

PROMPTS = ["12+3=", "7-4+22=", "a1b0c1a1", "9"]


def _manual(m, prompts, hooks):
    """Reference: TransformerLens run_with_cache one prompt at a time (no padding at all), last token."""
    out = {h: [] for h in hooks}
    for p in prompts:
        ids, _ = m.to_tokens([p])
        _, cache = m.tl.run_with_cache(ids)
        for h in hooks:
            out[h].append(cache[h][0, -1])
    return {h: torch.stack(v) for h, v in out.items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_harvest_equals_transformerlens_cache(tiny_folders, arch):
    m = load_model(tiny_folders[arch])
    sites = SITES if arch != "gemma3" else ("resid_pre", "resid_post")
    hooks = [hook_name(layer, s) for layer in range(2) for s in sites]
    assert fast_path_available(m, hooks)
    ref = _manual(m, PROMPTS, hooks)
    for backend in ("hf", "tl"):
        got = harvest(m, PROMPTS, hooks, batch_size=3, cache=False, backend=backend)
        for h in hooks:
            assert torch.allclose(got[h], ref[h], atol=1e-4), (backend, h, (got[h] - ref[h]).abs().max())


def test_gemma_sandwich_sites_use_transformerlens(tiny_folders):
    m = load_model(tiny_folders["gemma3"])
    assert not fast_path_available(m, [hook_name(0, "mlp_out")])
    got = harvest(m, PROMPTS[:2], [hook_name(0, "mlp_out")], cache=False)
    assert got[hook_name(0, "mlp_out")].shape == (2, m.d_model)


def test_all_positions_respect_right_padding(tiny_folders):
    m = load_model(tiny_folders["llama"])
    h = hook_name(1)
    acts = harvest(m, PROMPTS, [h], positions="all", cache=False)
    assert acts.mask is not None and acts[h].shape[:2] == acts.mask.shape
    for i, p in enumerate(PROMPTS):
        ids, _ = m.to_tokens([p])
        _, cache = m.tl.run_with_cache(ids)
        n = ids.shape[1]
        assert torch.allclose(acts[h][i, :n], cache[h][0], atol=1e-4)
        assert acts[h][i, n:].abs().sum() == 0 and int(acts.mask[i].sum()) == n


def test_disk_cache_hit_and_invalidation(tiny_folders, tmp_path):
    m = load_model(tiny_folders["llama"])
    hooks = [hook_name(0), hook_name(1)]
    first = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert not first.from_cache and len(list(tmp_path.glob("*.safetensors"))) == 1
    second = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert second.from_cache
    for h in hooks:
        assert torch.equal(first[h], second[h])
    with torch.no_grad():  # change the weights in place: the cache must not be reused
        m.hf.model.layers[0].mlp.down_proj.weight.mul_(2.0)
    third = harvest(m, PROMPTS, hooks, cache_dir=tmp_path)
    assert not third.from_cache and not torch.allclose(third[hooks[0]], first[hooks[0]])
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_token_input_and_errors(tiny_folders):
    m = load_model(tiny_folders["gpt2"])
    ids, mask = m.to_tokens(PROMPTS)
    a = harvest(m, ids, [hook_name(1)], attention_mask=mask, cache=False)
    b = harvest(m, PROMPTS, [hook_name(1)], cache=False)
    assert torch.allclose(a[hook_name(1)], b[hook_name(1)])
    with pytest.raises(EmptyInputError):
        harvest(m, [], [hook_name(1)])
    with pytest.raises(EmptyInputError):
        harvest(m, PROMPTS, [])
    with pytest.raises(HookNotFoundError):
        harvest(m, PROMPTS, ["blocks.1.hook_resid"])
    with pytest.raises(LayerOutOfRangeError):
        harvest(m, PROMPTS, [hook_name(7)])


def test_killed_harvest_resumes_from_partial_batches(tiny_folders, tmp_path):
    """A harvest that dies after some batches reuses them; the result equals an uninterrupted harvest."""
    m = load_model(tiny_folders["llama"])
    hooks = [hook_name(1)]
    prompts = [f"{i}+{i}=" for i in range(10)]
    reference = harvest(m, prompts, hooks, batch_size=3, cache=False)

    calls = {"n": 0}
    real_forward = m.hf.forward

    def dying_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed mid-harvest")
        return real_forward(*args, **kwargs)

    m.hf.forward = dying_forward
    with pytest.raises(KeyboardInterrupt):
        harvest(m, prompts, hooks, batch_size=3, cache_dir=tmp_path)
    partial = list(tmp_path.glob("*.partial"))
    assert len(partial) == 1 and len(list(partial[0].glob("batch_*.safetensors"))) == 2
    assert not list(tmp_path.glob("*.safetensors"))  # no final file from a dead run

    calls["n"] = -100  # no more deaths; count the batches the resumed run computes
    resumed = harvest(m, prompts, hooks, batch_size=3, cache_dir=tmp_path)
    assert calls["n"] == -100 + 2  # only the two missing batches (of four) were computed
    assert torch.allclose(resumed[hooks[0]], reference[hooks[0]])
    assert not list(tmp_path.glob("*.partial")) and len(list(tmp_path.glob("*.safetensors"))) == 1


class _Killed(Exception):
    """Raised from a forward hook: the harvest dies mid-run, after some shards are on disk."""


def _harvest_killed_after(m, prompts, hooks, n_forwards, **kw):
    calls = {"n": 0}

    def hook(module, args):
        calls["n"] += 1
        if calls["n"] > n_forwards:
            raise _Killed

    handle = m.hf.register_forward_pre_hook(hook)
    try:
        with pytest.raises(_Killed):
            harvest(m, prompts, hooks, **kw)
    finally:
        handle.remove()


@pytest.mark.parametrize("positions", ["last", "all"])
def test_killed_harvest_resumed_with_another_batch_size_returns_the_uninterrupted_result(tiny_folders, tmp_path,
                                                                                          positions):
    """Shards are keyed by batch size and rows: resuming at another batch size never mixes shards of the old one."""
    m = load_model(tiny_folders["llama"])
    hooks = [hook_name(0), hook_name(1)]
    prompts = [f"{i}+{i * 7}=" + "1" * (i % 5) for i in range(22)]  # uneven lengths: padding differs per batch
    for first_bs, second_bs in ((4, 8), (8, 3), (4, 4)):
        cache = tmp_path / f"{positions}_{first_bs}_{second_bs}"
        _harvest_killed_after(m, prompts, hooks, 2, batch_size=first_bs, cache_dir=cache, positions=positions)
        (partial,) = cache.glob("*.partial")
        assert len(list(partial.glob("batch_*.safetensors"))) == 2
        resumed = harvest(m, prompts, hooks, batch_size=second_bs, cache_dir=cache, positions=positions)
        uninterrupted = harvest(m, prompts, hooks, batch_size=second_bs, cache=False, positions=positions)
        for h in hooks:
            assert resumed[h].shape[0] == len(prompts)
            assert torch.equal(resumed[h], uninterrupted[h]), (first_bs, second_bs, h)
        if positions == "all":
            assert torch.equal(resumed.mask, uninterrupted.mask)
        assert not list(cache.glob("*.partial"))  # every shard, of every batch size, is removed at the end
        again = harvest(m, prompts, hooks, batch_size=second_bs, cache_dir=cache, positions=positions)
        assert again.from_cache and all(torch.equal(again[h], uninterrupted[h]) for h in hooks)


_WORKER = """
import sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from rlmeta_interp import harvest, hook_name, load_model
folder, cache, out, ready, go = sys.argv[1:6]
m = load_model(folder)
prompts = [f"{i}+{i}=" + "7" * (i % 9) for i in range(48)]
Path(ready).write_text("ready")
while not Path(go).exists():
    time.sleep(0.01)
acts = harvest(m, prompts, [hook_name(0), hook_name(1)], batch_size=1, cache_dir=cache)
torch.save({k: v for k, v in acts.items()}, out)
"""


def test_two_identical_harvests_into_one_cache_at_once(tiny_folders, tmp_path):
    """Two processes harvest the same thing into the same cache at the same moment: both succeed, same numbers."""
    import subprocess
    import sys
    import time

    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    cache, go = tmp_path / "cache", tmp_path / "go"
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(script), str(tiny_folders["llama"]), str(cache),
                               str(tmp_path / f"out{i}.pt"), str(tmp_path / f"ready{i}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    deadline = time.time() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
        assert time.time() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    go.write_text("go")
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    a, b = (torch.load(tmp_path / f"out{i}.pt") for i in range(2))
    m = load_model(tiny_folders["llama"])
    ref = harvest(m, [f"{i}+{i}=" + "7" * (i % 9) for i in range(48)], [hook_name(0), hook_name(1)], batch_size=1,
                  cache=False)
    for h in ref:
        assert torch.equal(a[h], ref[h]) and torch.equal(b[h], ref[h])
    assert len(list(cache.glob("*.safetensors"))) == 1 and not list(cache.glob("*.partial"))
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


_SLOW_WORKER = """
import sys, time
import torch
torch.set_num_threads(1)
from rlmeta_interp import harvest, hook_name, load_model
folder, cache = sys.argv[1:3]
m = load_model(folder)
m.hf.register_forward_pre_hook(lambda mod, args: time.sleep(0.2))  # slow enough to be killed mid-run
prompts = [f"{i}+{i * 3}=" + "5" * (i % 7) for i in range(40)]
harvest(m, prompts, [hook_name(0), hook_name(1)], batch_size=2, cache_dir=cache)
"""


def test_harvest_killed_with_sigkill_resumes_at_another_batch_size_exactly(tiny_folders, tmp_path):
    """A real kill (SIGKILL of the harvesting process after some shards are on disk), resumed here at batch 5."""
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "worker.py"
    script.write_text(_SLOW_WORKER)
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, str(script), str(tiny_folders["llama"]), str(cache)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 180
    while len(list(cache.glob("*.partial/batch_*.safetensors"))) < 3:
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not list(cache.glob("*.safetensors"))
    m = load_model(tiny_folders["llama"])
    prompts = [f"{i}+{i * 3}=" + "5" * (i % 7) for i in range(40)]
    hooks = [hook_name(0), hook_name(1)]
    resumed = harvest(m, prompts, hooks, batch_size=5, cache_dir=cache)
    uninterrupted = harvest(m, prompts, hooks, batch_size=5, cache=False)
    assert all(torch.equal(resumed[h], uninterrupted[h]) for h in hooks)
    assert resumed[hooks[0]].shape[0] == 40 and not list(cache.glob("*.partial"))
