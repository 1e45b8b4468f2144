import pytest
import torch

from rlmeta_interp.errors import CorruptedCheckpointError, ManifestMismatchError, MissingWeightsError, OutputNotWritableError
from rlmeta_interp.io import (atomic_path, ensure_dir, hash_tensors, load_tensors, read_json, save_tensors_atomic,
                              sha256_file, verify_sha256, write_json_atomic)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"a": 1})
    assert read_json(target) == {"a": 1}


def test_tensors_roundtrip_truncation_and_hash(tmp_path):
    p = save_tensors_atomic(tmp_path / "t.safetensors", {"x": torch.arange(10.0)})
    assert torch.equal(load_tensors(p)["x"], torch.arange(10.0))
    sha = sha256_file(p)
    verify_sha256(p, sha)
    p.write_bytes(p.read_bytes()[:-8])
    with pytest.raises(ManifestMismatchError, match="Rebuild"):
        verify_sha256(p, sha)
    with pytest.raises(CorruptedCheckpointError, match="truncated or corrupted"):
        load_tensors(p)
    with pytest.raises(MissingWeightsError):
        load_tensors(tmp_path / "none.safetensors")
    assert hash_tensors({"a": torch.ones(2)}) != hash_tensors({"a": torch.ones(2) * 2})
    assert hash_tensors({"a": torch.ones(2)}) == hash_tensors({"a": torch.ones(2)})
    assert hash_tensors({"a": torch.tensor(3)}) != hash_tensors({"a": torch.tensor(4)})  # 0-dim (BatchNorm counters)


def test_corrupted_json(tmp_path):
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(CorruptedCheckpointError, match="not valid JSON"):
        read_json(tmp_path / "m.json")


def test_uncreatable_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputNotWritableError, match="Cannot create"):
        ensure_dir(f / "sub")


def test_weights_hash_is_the_state_dict_hash_and_follows_in_place_edits():
    from rlmeta_interp.io import weights_hash

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    first = weights_hash(model)
    assert first == hash_tensors(dict(model.state_dict())) and weights_hash(model) == first
    with torch.no_grad():
        model[0].weight.mul_(2.0)  # an in-place edit: the memo must not answer with the old hash
    assert weights_hash(model) == hash_tensors(dict(model.state_dict())) != first
    edited = weights_hash(model)
    model[1].running_mean.add_(1.0)  # buffers are weights too
    assert weights_hash(model) == hash_tensors(dict(model.state_dict())) != edited
    model[0].weight = torch.nn.Parameter(torch.zeros(4, 3))  # a swapped tensor
    assert weights_hash(model) == hash_tensors(dict(model.state_dict()))


def test_atomic_dir_creates_replaces_and_leaves_nothing_on_failure(tmp_path):
    from rlmeta_interp.io import atomic_dir

    final = tmp_path / "folder"
    with atomic_dir(final) as tmp:
        assert tmp.parent == tmp_path and not final.exists()  # built under another name
        (tmp / "a.txt").write_text("one")
    assert (final / "a.txt").read_text() == "one" and [p.name for p in tmp_path.iterdir()] == ["folder"]
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "b.txt").write_text("half")
        raise RuntimeError("crash")
    assert sorted(p.name for p in final.iterdir()) == ["a.txt"] and [p.name for p in tmp_path.iterdir()] == ["folder"]
    with atomic_dir(final) as tmp:  # an existing folder is replaced whole: nothing of the old one survives
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"] and [p.name for p in tmp_path.iterdir()] == ["folder"]
