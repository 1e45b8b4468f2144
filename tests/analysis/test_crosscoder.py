"""Tests of analysis.crosscoder: the BatchTopK crosscoder on activations with planted shared and exclusive features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlmeta_interp.analysis.crosscoder import (
    BatchTopKCrosscoder,
    CrosscoderConfig,
    crosscoder_latents,
    load_crosscoder,
    save_crosscoder,
    train_crosscoder,
)
from rlmeta_interp.errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError, NonFiniteError

from .planted import D, Stop, assert_same_state, planted_pair, stop_at


@pytest.fixture(scope="module")
def planted():
    return planted_pair()


@pytest.fixture(scope="module")
def crosscoder(planted):
    base, rl, _, _ = planted
    return train_crosscoder(base, rl, CrosscoderConfig(d_in=D, d_sae=24, k=2, steps=1500, batch_size=256, lr=3e-3))


def test_crosscoder_recovers_planted_shared_and_exclusive_features(planted, crosscoder):
    base, rl, feats, groups = planted
    df = crosscoder_latents(crosscoder, base, rl)
    w = crosscoder.W_dec.detach()
    for group, sl in groups.items():
        model = 0 if group == "base_only" else 1
        for fi in range(feats.shape[0])[sl]:
            cos = torch.nn.functional.cosine_similarity(w[:, model], feats[fi][None], dim=-1)
            j = int(cos.argmax())
            row = df.iloc[j]
            if group == "shared":
                assert float(cos[j]) > 0.7
                assert 0.4 < row["rel_norm"] < 0.65, (fi, row.to_dict())
                assert row["category"] == "shared"
            else:
                assert float(cos[j]) > 0.95
                assert row["category"] == group, (fi, row.to_dict())
                assert (row["rel_norm"] < 0.05) if group == "base_only" else (row["rel_norm"] > 0.95)
                # latent scaling: the other model does not carry the direction
                assert abs(row["scaling_ratio"]) < 0.05 and row["confirmed"]
    recon = crosscoder(torch.stack([base, rl], 1)).detach()
    for m, x in enumerate((base, rl)):
        fvu = ((x - recon[:, m]) ** 2).sum() / ((x - x.mean(0)) ** 2).sum()
        assert float(fvu) < 0.05


def test_latent_scaling_flags_complete_shrinkage():
    """A latent with a zero base decoder looks RL-only; if base activations carry it, scaling says so."""
    cc = BatchTopKCrosscoder(CrosscoderConfig(d_in=4, d_sae=2, k=1, steps=1))
    with torch.no_grad():
        for p in cc.parameters():
            p.zero_()
        e0 = torch.eye(4)[0]
        cc.W_enc[1, :, 0] = e0  # latent 0 reads the RL model's coordinate 0
        cc.W_dec[0, 1] = e0  # and writes only to the RL model
        cc.W_dec[1, 0] = torch.eye(4)[1]  # latent 1: a base-only decoder that never fires
        cc.threshold.fill_(1e-6)
    a = torch.rand(200, 1) + 0.1
    rl = a * e0
    carried = crosscoder_latents(cc, rl.clone(), rl)  # base carries the same direction
    absent = crosscoder_latents(cc, torch.zeros_like(rl), rl)
    assert carried.loc[0, "category"] == "rl_only" and absent.loc[0, "category"] == "rl_only"
    assert carried.loc[0, "beta_base"] == pytest.approx(1.0) and carried.loc[0, "beta_rl"] == pytest.approx(1.0)
    assert carried.loc[0, "scaling_ratio"] == pytest.approx(1.0) and not carried.loc[0, "confirmed"]
    assert absent.loc[0, "beta_base"] == pytest.approx(0.0) and absent.loc[0, "confirmed"]
    assert absent.loc[1, "freq"] == 0 and np.isnan(absent.loc[1, "beta_base"]) and not absent.loc[1, "confirmed"]


def test_crosscoder_save_load_roundtrip(tmp_path, crosscoder, planted):
    base, rl, _, _ = planted
    path = save_crosscoder(crosscoder, tmp_path / "cc.safetensors")
    loaded = load_crosscoder(path)
    x = torch.stack([base[:64], rl[:64]], 1)
    assert torch.equal(loaded(x), crosscoder(x))
    assert loaded.config == crosscoder.config
    # a stored config that disagrees with the tensors, or that is not JSON
    import json

    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    wider = json.dumps({**crosscoder.config.to_dict(), "d_sae": crosscoder.config.d_sae * 2})
    for meta in (wider, "{not json"):
        save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={"crosscoder_config": meta})
        with pytest.raises(CorruptedCheckpointError, match="do not fit together"):
            load_crosscoder(tmp_path / "bad.safetensors")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptedCheckpointError):
        load_crosscoder(path)
    with pytest.raises(MissingWeightsError):
        load_crosscoder(tmp_path / "nope.safetensors")


def test_crosscoder_input_checks():
    with pytest.raises(InvalidConfigError, match="k=9 exceeds"):
        CrosscoderConfig(d_in=4, d_sae=8, k=9)
    for kw in ({"dead_steps": -5}, {"dec_init_norm": -1.0}, {"dec_init_norm": 0.0}):
        with pytest.raises(InvalidConfigError, match=next(iter(kw))):
            CrosscoderConfig(d_in=4, d_sae=8, k=1, **kw)
    cfg = CrosscoderConfig(d_in=4, d_sae=8, k=1, steps=1)
    with pytest.raises(InvalidConfigError, match="paired rows"):
        train_crosscoder(torch.randn(10, 4), torch.randn(9, 4), cfg)
    with pytest.raises(InvalidConfigError, match="d_in=4"):
        train_crosscoder(torch.randn(10, 5), torch.randn(10, 5), cfg)
    bad = torch.randn(10, 4)
    bad[0, 0] = float("inf")
    with pytest.raises(NonFiniteError):
        train_crosscoder(bad, torch.randn(10, 4), cfg)


def test_crosscoder_latents_refuses_classes_that_cannot_be_told_apart():
    cc = BatchTopKCrosscoder(CrosscoderConfig(d_in=4, d_sae=8, k=1, steps=1))
    x = torch.randn(20, 4)
    for kwargs, said in (({"exclusive_margin": 0.6}, "exclusive_margin"), ({"exclusive_margin": 0.5}, "below 0.5"),
                         ({"shared_band": (0.7, 0.3)}, "ends below where it starts"), ({"shared_band": 0.5}, "(lo, hi)"),
                         ({"shared_band": (0.3, 1.5)}, "shared_band"), ({"max_scaling_ratio": 0.0},
                                                                         "max_scaling_ratio"),
                         ({"batch": 0}, "batch")):
        with pytest.raises(InvalidConfigError, match=said):
            crosscoder_latents(cc, x, x, **kwargs)
    with pytest.raises(NonFiniteError, match="max_scaling_ratio"):
        crosscoder_latents(cc, x, x, max_scaling_ratio=float("nan"))
    assert len(crosscoder_latents(cc, x, x, exclusive_margin=0.0, shared_band=[0.5, 0.5], batch=7)) == 8


def test_train_crosscoder_resumes_bit_for_bit(tmp_path, planted):
    from rlmeta_interp.errors import CheckpointMismatchError

    base, rl = planted[0][:500], planted[1][:500]
    # dead_steps small so the AuxK branch and the dead counters are part of the resumed state
    cfg = CrosscoderConfig(d_in=D, d_sae=24, k=2, steps=40, batch_size=32, dead_steps=3, decay_fraction=0.5)
    plain = train_crosscoder(base, rl, cfg)
    with pytest.raises(Stop):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=9, on_checkpoint=stop_at(27))
    assert [p.name for p in (tmp_path / "cc").iterdir()] == ["step_000000027.pt"]
    (tmp_path / "cc" / ".step_000000036.pt.x9y8z7.tmp").write_bytes(b"half")  # left by a kill mid-save
    steps = []
    resumed = train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=9, on_checkpoint=steps.append)
    assert steps == [36, 40]
    assert [p.name for p in (tmp_path / "cc").iterdir()] == ["step_000000040.pt"]
    assert_same_state(plain.state_dict(), resumed.state_dict())
    with pytest.raises(CheckpointMismatchError):
        train_crosscoder(base, rl * 1.01, cfg, checkpoint_dir=tmp_path / "cc")
    (tmp_path / "cc" / "step_000000040.pt").write_bytes(b"truncated")
    with pytest.raises(CorruptedCheckpointError, match=r"delete .*step_000000040\.pt and rerun.*from scratch"):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc")
    with pytest.raises(InvalidConfigError, match="checkpoint_every"):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=0)
