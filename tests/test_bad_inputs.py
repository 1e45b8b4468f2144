"""Bad input gets a typed error whose message names the problem and the fix, never a deep library traceback."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rlmeta_interp import LoadConfig, SteeringVector, harvest, hook_name, load_model, load_pair
from rlmeta_interp.analysis.passk import pass_at_k
from rlmeta_interp.config import ModelSpec, PairSpec
from rlmeta_interp.errors import (CorruptedCheckpointError, EmptyInputError, HookNotFoundError, IncompatiblePairError,
                                  InputTooLongError, InvalidConfigError, LayerOutOfRangeError, ManifestMismatchError,
                                  MissingWeightsError, NonFiniteError, OutputNotWritableError, UnknownModelError)
from rlmeta_interp.io import ensure_dir, sha256_file

from .conftest import save_tiny


@pytest.fixture(scope="module")
def llama(tiny_folders):
    return load_model(tiny_folders["llama"])


def test_unknown_pair():
    with pytest.raises(UnknownModelError, match="Did you mean: simplerl-7b"):
        load_pair("simplerl-7")


def test_incompatible_tokenizer(tiny_folders, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_folders["llama"], other)
    from rlmeta_interp.organism.tokenizer import build_tokenizer

    build_tokenizer(charset="0123456789").save_pretrained(other)
    with pytest.raises(IncompatiblePairError, match="tokenizers differ.*tuned from this base"):
        load_pair((tiny_folders["llama"], other))


def test_incompatible_width(tiny_folders, tmp_path):
    with pytest.raises(IncompatiblePairError, match="d_model differs"):
        load_pair((tiny_folders["llama"], save_tiny(tmp_path / "w", "llama", d_model=64)))


def test_incompatible_depth(tiny_folders, tmp_path):
    with pytest.raises(IncompatiblePairError, match="number of layers differs"):
        load_pair((tiny_folders["llama"], save_tiny(tmp_path / "d", "llama", n_layers=1)))


def test_missing_folder(tmp_path):
    with pytest.raises(MissingWeightsError, match="Check the path"):
        load_model(tmp_path / "no_such_model")


def test_missing_weight_file(tiny_folders, tmp_path):
    f = tmp_path / "noweights"
    shutil.copytree(tiny_folders["llama"], f)
    (f / "model.safetensors").unlink()
    with pytest.raises(MissingWeightsError, match="no weight files"):
        load_model(f)


def test_garbage_weights(tiny_folders, tmp_path):
    f = tmp_path / "garbage"
    shutil.copytree(tiny_folders["llama"], f)
    (f / "model.safetensors").write_bytes(b"\x00\x01not a safetensors file" * 10)
    with pytest.raises(CorruptedCheckpointError, match="rebuild"):
        load_model(f)


def test_truncated_safetensors(tiny_folders, tmp_path):
    f = tmp_path / "trunc"
    shutil.copytree(tiny_folders["llama"], f)
    w = f / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(CorruptedCheckpointError, match="truncated"):
        load_model(f)


def test_manifest_hash_mismatch(tiny_folders, tmp_path):
    f = tmp_path / "zoo_model"
    shutil.copytree(tiny_folders["llama"], f)
    (f / "manifest.json").write_text(json.dumps({"name": "zoo_model", "files": {"model.safetensors": "0" * 64}}))
    with pytest.raises(ManifestMismatchError, match="manifest says"):
        load_model(f)
    (f / "manifest.json").write_text(json.dumps({"files": {"model.safetensors": sha256_file(f / "model.safetensors")}}))
    assert load_model(f).name == "zoo_model"


def test_bad_hook_name(llama):
    with pytest.raises(HookNotFoundError, match="Close matches: blocks.0.hook_resid_post"):
        harvest(llama, ["1+1="], ["blocks.0.hook_resid_post_"], cache=False)


def test_layer_out_of_range(llama):
    with pytest.raises(LayerOutOfRangeError, match="valid: 0..1"):
        harvest(llama, ["1+1="], [hook_name(2)], cache=False)


def test_empty_prompt_set(llama):
    with pytest.raises(EmptyInputError, match="at least one prompt"):
        harvest(llama, [], [hook_name(0)], cache=False)


def test_empty_prompt_without_bos(tiny_folders):
    qwen = load_model(tiny_folders["qwen2"])  # Qwen models have no BOS, so "" has no tokens
    with pytest.raises(EmptyInputError, match="non-empty"):
        harvest(qwen, [""], [hook_name(0)], cache=False)


def test_prompt_longer_than_context(llama):
    with pytest.raises(InputTooLongError, match="context of 128"):
        harvest(llama, ["1" * 500], [hook_name(0)], cache=False)


def test_nan_activations(tiny_folders):
    m = load_model(tiny_folders["llama"])
    with torch.no_grad():
        m.hf.model.layers[0].mlp.down_proj.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteError, match="NaN or inf"):
        harvest(m, ["1+1="], [hook_name(1)], cache=False)


def test_inf_steering_vector():
    with pytest.raises(NonFiniteError, match="recompute"):
        SteeringVector({0: torch.full((32,), float("inf"))})


def test_wrong_dtype(tiny_folders, llama):
    with pytest.raises(InvalidConfigError, match="must be one of"):
        LoadConfig(dtype="float64")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="integer tensor"):
        harvest(llama, torch.rand(2, 5), [hook_name(0)], cache=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_wrong_device(tiny_folders):
    with pytest.raises(InvalidConfigError, match="no CUDA GPU.*device='cpu'"):
        load_model(tiny_folders["llama"], LoadConfig(device="cuda"))
    with pytest.raises(InvalidConfigError, match="not a torch device"):
        load_model(tiny_folders["llama"], LoadConfig(device="tpu-ish"))


@pytest.mark.parametrize("k", [0, -3])
def test_nonpositive_k(k):
    with pytest.raises(InvalidConfigError, match="positive integer"):
        pass_at_k(10, 3, k)


def test_n_smaller_than_k():
    with pytest.raises(InvalidConfigError, match="never extrapolate"):
        pass_at_k(4, 1, 8)


def test_invalid_dose():
    m = ModelSpec(name="a", source="folder", location="x")
    with pytest.raises(InvalidConfigError, match=r"dose=1.2 is outside \[0.0, 1.0\]"):
        PairSpec(name="p", base=m, rl=m, dose=1.2)


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OutputNotWritableError, match="Choose a writable location"):
        ensure_dir(blocker / "out")


def test_notebook_parameter_of_wrong_type(tmp_path):
    from rlmeta_interp import notebooks

    nb = tmp_path / "07_x.py"
    nb.write_text('# %% tags=["parameters"]\nSMOKE = False\nN_SAMPLES = 64\n')
    with pytest.raises(InvalidConfigError, match="N_SAMPLES='64' is a str.*Pass a int"):
        notebooks.validate_parameters(nb, {"N_SAMPLES": "64"})


def test_invalid_preset():
    from rlmeta_interp.organism.zoo import build_zoo

    with pytest.raises(InvalidConfigError, match="Unknown zoo preset 'papr': choose one of demo, paper"):
        build_zoo("papr")


@pytest.mark.parametrize("dose", [-0.1, 1.5])
def test_invalid_corpus_dose(dose):
    from rlmeta_interp.organism.corpus import CorpusConfig

    with pytest.raises(InvalidConfigError, match=r"dose=.* is outside \[0.0, 1.0\]"):
        CorpusConfig(dose=dose)
