import json

import pytest
import torch

from rlmeta_interp.errors import (
    CorruptedCheckpointError,
    EmptyInputError,
    InvalidConfigError,
    ManifestMismatchError,
    MissingWeightsError,
    OutputNotWritableError,
)
from rlmeta_interp.io import (atomic_path, ensure_dir, hash_tensors, load_tensors, read_json, save_tensors_atomic,
                              sha256_file, verify_sha256, write_json_atomic, write_text_atomic)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"a": 1})
    assert read_json(target) == {"a": 1}
    # a folder as the destination is refused before any work, by every atomic writer
    for write in (lambda: write_json_atomic(tmp_path, {"a": 1}), lambda: write_text_atomic(tmp_path, "x")):
        with pytest.raises(InvalidConfigError, match="is a folder: pass a file name"):
            write()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


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


# ---- checksums: a changed byte in any cache or result file is detected on read
def test_safetensors_checksum_catches_a_flipped_byte_anywhere(tmp_path):
    from rlmeta_interp.io import read_tensors

    p = save_tensors_atomic(tmp_path / "t.safetensors", {"layer.0": torch.arange(64.0), "layer.1": torch.ones(8)},
                            metadata={"site": "resid_post"})
    tensors, meta = read_tensors(p)
    assert meta == {"site": "resid_post"} and torch.equal(tensors["layer.0"], torch.arange(64.0))
    raw = p.read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    flips = {"payload": len(raw) - 5, "tensor name": raw.index(b"layer.1"), "metadata": raw.index(b"resid_post")}
    for where, offset in flips.items():
        bad = bytearray(raw)
        bad[offset + (6 if where == "tensor name" else 0)] ^= 0x01  # layer.1 -> layer.0 is caught by the parser too
        p.write_bytes(bytes(bad))
        with pytest.raises(CorruptedCheckpointError, match=rf"Delete it \(rm {p}\) and rebuild it: redo it"):
            load_tensors(p, rebuild="redo it")
    assert header_len < len(raw)


def test_safetensors_without_a_checksum_pass_unless_required(tmp_path):
    from safetensors.torch import save_file

    p = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(3)}, str(p))  # e.g. weights written by save_pretrained
    assert torch.equal(load_tensors(p)["x"], torch.zeros(3))
    with pytest.raises(CorruptedCheckpointError, match="holds no checksum.*rebuild it: again"):
        load_tensors(p, required=True, rebuild="again")


def test_text_json_and_csv_sidecars(tmp_path):
    import pandas as pd

    from rlmeta_interp.io import read_csv, read_text, sidecar_path, verify_checksum, write_csv_atomic, write_text_atomic

    df = pd.DataFrame({"pair": ["a", "b", "c"], "vote": ["activation", "creation", "none"], "x": [0.5, 1.5, 2.5]})
    csv = write_text_atomic(tmp_path / "r.csv", df.to_csv(index=False), checksum=True)
    side = sidecar_path(csv)
    assert side.read_text().split() == [sha256_file(csv), "r.csv"]  # `sha256sum -c` format
    pd.testing.assert_frame_equal(read_csv(csv), df)
    csv.write_text(csv.read_text()[:-12])  # truncated: still parses as a CSV, one row short
    assert not pd.read_csv(csv).equals(df)  # pandas alone reads the damaged file without complaint
    with pytest.raises(CorruptedCheckpointError, match=r"r.csv fails its sha256 check.*rm .*r.csv.*rebuild it: rerun X"):
        read_csv(csv, rebuild="rerun X")
    table = write_csv_atomic(tmp_path / "t.csv", df)
    pd.testing.assert_frame_equal(read_csv(table, required=True), df)
    table.write_bytes(table.read_bytes().replace(b"1.5", b"1.6"))  # one changed digit
    with pytest.raises(CorruptedCheckpointError, match="t.csv fails its sha256 check"):
        read_csv(table)
    # a 0-byte file, checksummed as written, is refused by name (pandas alone raises EmptyDataError naming no file)
    empty = write_text_atomic(tmp_path / "e.csv", "", checksum=True)
    with pytest.raises(EmptyInputError, match=r"e.csv is empty \(not even a header row\).*rebuild it: rerun X"):
        read_csv(empty, rebuild="rerun X")
    js = write_json_atomic(tmp_path / "m.json", {"a": [1, 2]}, checksum=True)
    assert read_json(js) == {"a": [1, 2]}
    js.write_text(js.read_text().replace("1", "7"))
    with pytest.raises(CorruptedCheckpointError, match="fails its sha256 check"):
        read_json(js)
    plain = write_text_atomic(tmp_path / "plain.txt", "x")
    assert read_text(plain) == "x" and not sidecar_path(plain).exists()
    with pytest.raises(CorruptedCheckpointError, match="no checksum file"):
        verify_checksum(plain, required=True)


def test_atomic_writes_respect_the_umask(tmp_path):
    import os
    import stat

    from rlmeta_interp.io import atomic_dir

    for mask in (0o022, 0o002, 0o077):
        old = os.umask(mask)
        try:
            f = write_json_atomic(tmp_path / f"f{mask}.json", {})
            t = save_tensors_atomic(tmp_path / f"t{mask}.safetensors", {"x": torch.zeros(1)})
            with atomic_dir(tmp_path / f"d{mask}") as d:
                (d / "x").write_text("")
        finally:
            os.umask(old)
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask
        assert stat.S_IMODE(t.stat().st_mode) == 0o666 & ~mask
        assert stat.S_IMODE((tmp_path / f"d{mask}").stat().st_mode) == 0o777 & ~mask


def test_file_lock_serialises_writers(tmp_path):
    import threading
    import time

    from rlmeta_interp.io import file_lock

    inside, overlap = [], []

    def worker():
        with file_lock(tmp_path / "entry"):
            if inside:
                overlap.append(True)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlap


def test_remove_tree_tolerates_a_concurrent_delete(tmp_path):
    from rlmeta_interp.io import remove_tree

    (tmp_path / "p").mkdir()
    remove_tree(tmp_path / "p")
    remove_tree(tmp_path / "p")  # already gone: no FileNotFoundError
    assert not (tmp_path / "p").exists()


def test_concurrent_atomic_dir_writers_never_fail(tmp_path):
    """Eight writers publish the same folder at once: none raises, the name holds one writer's complete folder, and
    nothing else is left behind."""
    import threading

    from rlmeta_interp.io import atomic_dir

    final, errors = tmp_path / "ckpt", []
    barrier = threading.Barrier(8)

    def writer(i):
        try:
            with atomic_dir(final) as d:
                for j in range(20):
                    (d / f"part{j}.txt").write_text(str(i))
                barrier.wait()  # every writer publishes at the same moment
        except Exception as e:  # noqa: BLE001 (collected and asserted below)
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    contents = {p.read_text() for p in final.iterdir()}
    assert len(list(final.iterdir())) == 20 and len(contents) == 1  # one writer's folder, whole
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_a_plain_rewrite_drops_the_old_checksum_sidecar(tmp_path):
    from rlmeta_interp.io import read_text, sidecar_path, write_text_atomic

    p = tmp_path / "table.csv"
    write_text_atomic(p, "a,b\n1,2\n", checksum=True)
    assert sidecar_path(p).exists()
    write_text_atomic(p, "a,b\n3,4\n")
    assert not sidecar_path(p).exists() and read_text(p) == "a,b\n3,4\n"


def test_compact_json_is_the_same_object_in_fewer_bytes_one_key_per_line(tmp_path):
    obj = {"b": [1, 2.5, {"c": None}], "a": "x", "nested": {"k": [True, False]}}
    wide = write_json_atomic(tmp_path / "w.json", obj)
    compact = write_json_atomic(tmp_path / "c.json", obj, compact=True)
    assert read_json(wide) == read_json(compact) == obj
    text = compact.read_text()
    assert len(text) < len(wide.read_text()) and "\n " not in text and ": " not in text
    assert text.splitlines()[1] == '"a":"x",'  # sorted keys, one per line: still diffable line by line


def test_gz_json_is_compressed_reproducible_and_checked(tmp_path):
    """A ``.json.gz`` path is written gzip-compressed with the same bytes for the same object (zero timestamp), read
    back transparently, and a damaged file raises the typed error naming it, not a gzip traceback."""
    obj = {"name": "m", "curve": list(range(200))}
    gz = write_json_atomic(tmp_path / "m.json.gz", obj, compact=True)
    assert gz.read_bytes()[:2] == b"\x1f\x8b" and read_json(gz) == obj
    assert gz.stat().st_size < len(json.dumps(obj)) / 2
    first = gz.read_bytes()
    assert write_json_atomic(tmp_path / "m.json.gz", obj, compact=True).read_bytes() == first
    gz.write_bytes(first[: len(first) // 2])  # truncated
    with pytest.raises(CorruptedCheckpointError, match="m.json.gz is not a whole gzip file"):
        read_json(gz)
    damaged = bytearray(first)
    for i in range(12, len(damaged) - 8):  # the compressed stream itself, header and trailer kept
        damaged[i] ^= 0xFF
    gz.write_bytes(bytes(damaged))
    with pytest.raises(CorruptedCheckpointError, match="m.json.gz is not a whole gzip file"):
        read_json(gz)
