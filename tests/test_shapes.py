"""The jaxtyping shapes in public signatures are checked at run time (jaxtyping + beartype), on real tensors.

Every public function of the package that declares a shape must be wrappable by ``jaxtyped(typechecker=beartype)``
(its annotations resolve and are valid hints); the shape-annotated computations below run under the checker with
their real inputs, and inputs of the wrong shape, or whose dimensions disagree between arguments, are rejected.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from beartype import beartype
from jaxtyping import TypeCheckError, jaxtyped

import rlmeta_interp


def checked(fn):
    return jaxtyped(typechecker=beartype)(fn)


def _shape_annotated() -> list:
    out = []
    for info in pkgutil.walk_packages(rlmeta_interp.__path__, "rlmeta_interp."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != mod.__name__:
                continue
            if any(s in str(a) for a in obj.__annotations__.values() for s in ("Float[", "Int[", "Bool[")):
                out.append(obj)
    return out


ANNOTATED = _shape_annotated()


def test_the_package_declares_shapes():
    assert len(ANNOTATED) >= 30  # the scan finds them (a broken scan would make the next test vacuous)


@pytest.mark.parametrize("fn", ANNOTATED, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_shape_annotation_is_a_checkable_hint(fn):
    wrapped = checked(fn)
    assert callable(wrapped) and inspect.signature(wrapped) == inspect.signature(fn)


def test_pass_at_k_and_guessing_shapes():
    from rlmeta_interp.analysis.capability import guess_pass_at_k_matrix
    from rlmeta_interp.analysis.passk import pass_at_k_matrix

    mat = checked(pass_at_k_matrix)(np.array([0, 3, 8]), 8, [1, 2, 8])
    assert mat.shape == (3, 3)
    assert checked(guess_pass_at_k_matrix)(np.array([0.1, 0.5]), [1, 4]).shape == (2, 2)
    with pytest.raises(TypeCheckError):
        checked(pass_at_k_matrix)(np.array([[0, 3, 8]]), 8, [1])  # a matrix where one count per problem is due
    with pytest.raises(TypeCheckError):
        checked(guess_pass_at_k_matrix)(np.array([[0.1, 0.5]]), [1])


def test_fvu_rejects_reconstructions_of_another_shape():
    from rlmeta_interp.analysis.saes import fvu

    x = torch.randn(20, 4)
    assert checked(fvu)(x, x) == pytest.approx(0.0)
    with pytest.raises(TypeCheckError):
        checked(fvu)(x, torch.randn(20, 5))  # d disagrees between the two arguments
    with pytest.raises(TypeCheckError):
        checked(fvu)(x[0], x[0])  # a single row is not [n, d]


def test_regret_dimensions_must_agree_between_choices_and_means():
    from rlmeta_interp.analysis.icrl import per_trial_regret

    choices = np.array([[0, 1, 2], [2, 2, 2]])
    means = np.array([[0.1, 0.5, 0.9], [0.3, 0.2, 0.1]])
    got = checked(per_trial_regret)(choices, means)
    np.testing.assert_allclose(got, [[0.8, 0.4, 0.0], [0.2, 0.2, 0.2]])
    with pytest.raises(TypeCheckError):
        checked(per_trial_regret)(choices, means[:1])  # 2 episodes of choices, 1 of means


def test_crosscoder_methods_check_model_and_latent_axes():
    from rlmeta_interp.analysis.crosscoder import BatchTopKCrosscoder, CrosscoderConfig

    cc = BatchTopKCrosscoder(CrosscoderConfig(d_in=6, d_sae=8, k=2))
    x = torch.randn(5, 2, 6)
    f = checked(BatchTopKCrosscoder.encode)(cc, x)
    assert f.shape == (5, 8)
    assert checked(BatchTopKCrosscoder.decode)(cc, f).shape == (5, 2, 6)
    with pytest.raises(TypeCheckError):
        checked(BatchTopKCrosscoder.encode)(cc, torch.randn(5, 6))  # the model axis is missing


def test_directions_and_probes_under_the_checker():
    from rlmeta_interp.analysis.directions import diff_of_means_direction
    from rlmeta_interp.analysis.stats import linear_cka

    acts = torch.randn(8, 3)
    labels = torch.tensor([1, 0] * 4)
    d = checked(diff_of_means_direction)(acts, labels)
    torch.testing.assert_close(torch.as_tensor(d).float(), acts[labels == 1].mean(0) - acts[labels == 0].mean(0))
    x = acts.double().numpy()
    assert checked(linear_cka)(x, x) == pytest.approx(1.0)
    with pytest.raises(TypeCheckError):
        checked(linear_cka)(x, np.ones((9, 3)))  # different rows: not the same examples


def test_bandit_posteriors_have_one_row_per_pull_plus_the_prior():
    from rlmeta_interp.organism.worlds.bandits import posterior_means

    post = checked(posterior_means)([(0, 1), (2, 0)], 3)
    assert post.shape == (3, 3)
    np.testing.assert_allclose(post[-1], [2 / 3, 0.5, 1 / 3])


def test_validation_readings_and_bootstrap_indices_under_the_checker():
    from rlmeta_interp.analysis.validation.metrics import resample
    from rlmeta_interp.analysis.validation.questions import standardised

    rows = [{"a": 0.5, "b": None}, {"a": "", "b": 2}]
    table = checked(standardised)(rows, ["a", "b"])
    assert table.shape == (2, 2) and np.isnan(table[0, 1]) and np.isnan(table[1, 0])
    assert checked(standardised)([], ["a"]).shape == (0, 1)
    # indices of units, or of every member of the groups drawn: integers either way
    rng = np.random.default_rng(0)
    assert checked(resample)(rng, 5, None).shape == (5,)
    drawn = checked(resample)(rng, 4, ["x", "x", "y", "z"])
    assert drawn.dtype.kind == "i" and set(drawn) <= {0, 1, 2, 3}


# PEP 484's numeric tower: an int is a valid float (beartype is stricter unless told)
HOOK = ("import numpy as np, torch\nfrom jaxtyping import TypeCheckError, install_import_hook\n"
        "with install_import_hook('rlmeta_interp', 'beartype.beartype(conf=beartype.BeartypeConf("
        "is_pep484_tower=True))'):\n")
DATA = ("g = torch.Generator().manual_seed(0)\n"
        "base, rl = torch.randn(64, 8, generator=g), torch.randn(64, 8, generator=g)\n")

PIPELINE = HOOK + """\
    from rlmeta_interp.analysis.crosscoder import CrosscoderConfig, crosscoder_latents, train_crosscoder
    from rlmeta_interp.analysis.directions import DirectionConfig, direction_cosines
    from rlmeta_interp.analysis.icrl import regret_curves
    from rlmeta_interp.analysis.passk import pass_at_k_matrix
""" + DATA + """\
cc = train_crosscoder(base, rl, CrosscoderConfig(d_in=8, d_sae=16, k=2, steps=5, batch_size=16))
assert len(crosscoder_latents(cc, base, rl)) == 16
assert len(direction_cosines({0: base}, {0: rl}, np.array([0, 1] * 32), config=DirectionConfig(n_shuffles=5, n_boot=20)))
means = np.random.default_rng(0).uniform(size=(10, 3))
assert len(regret_curves(np.zeros((10, 6), dtype=np.int64), means, n_boot=20)) == 6
assert pass_at_k_matrix(np.array([1, 2]), 4, [1, 2]).shape == (2, 2)
try:
    crosscoder_latents(cc, base, rl[:, :4])
except TypeCheckError:
    print("rejected")
"""


def _hooked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_library_runs_with_every_module_under_the_import_hook():
    """The package imported through jaxtyping's import hook (every annotated function checked, inner calls included)
    runs a small pipeline, and rejects activations whose width disagrees between the two models."""
    res = _hooked(PIPELINE)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith("rejected")
