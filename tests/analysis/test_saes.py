"""Tests of analysis.saes: SAELens SAEs and the BatchTopK crosscoder on activations with planted features."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from sae_lens import TopKSAE, TopKSAEConfig
from transformer_lens import HookedTransformer, HookedTransformerConfig

from rlmeta_interp.analysis.saes import (
    _SAE_STATE,
    _SAE_WEIGHTS,
    BatchTopKCrosscoder,
    CrosscoderConfig,
    SaeTrainConfig,
    crosscoder_latents,
    load_crosscoder,
    load_sae,
    reconstruction_quality,
    save_crosscoder,
    save_sae,
    splice_ce_loss,
    train_crosscoder,
    train_sae,
)
from rlmeta_interp.errors import CorruptedCheckpointError, InvalidConfigError, MissingWeightsError, NonFiniteError
from rlmeta_interp.hooks import hook_name

D = 32
N_SHARED, N_EXCL = 8, 4



def _planted(n: int = 6000, seed: int = 0):
    """Orthonormal features: 8 shared (RL copy scaled by 1.2), 4 base-only, 4 RL-only; sparse codes."""
    g = torch.Generator().manual_seed(seed)
    nf = N_SHARED + 2 * N_EXCL
    feats = torch.linalg.qr(torch.randn(D, D, generator=g))[0][:, :nf].T
    codes = (torch.rand(n, nf, generator=g) < 0.08).float() * (0.5 + torch.rand(n, nf, generator=g))
    sh, bo, ro = slice(0, N_SHARED), slice(N_SHARED, N_SHARED + N_EXCL), slice(N_SHARED + N_EXCL, nf)
    base = codes[:, sh] @ feats[sh] + codes[:, bo] @ feats[bo] + 0.02 * torch.randn(n, D, generator=g)
    rl = 1.2 * codes[:, sh] @ feats[sh] + codes[:, ro] @ feats[ro] + 0.02 * torch.randn(n, D, generator=g)
    return base, rl, feats, {"shared": sh, "base_only": bo, "rl_only": ro}


@pytest.fixture(scope="module")
def planted():
    return _planted()


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
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptedCheckpointError):
        load_crosscoder(path)
    with pytest.raises(MissingWeightsError):
        load_crosscoder(tmp_path / "nope.safetensors")


def test_crosscoder_input_checks():
    with pytest.raises(InvalidConfigError, match="k=9 exceeds"):
        CrosscoderConfig(d_in=4, d_sae=8, k=9)
    cfg = CrosscoderConfig(d_in=4, d_sae=8, k=1, steps=1)
    with pytest.raises(InvalidConfigError, match="paired rows"):
        train_crosscoder(torch.randn(10, 4), torch.randn(9, 4), cfg)
    with pytest.raises(InvalidConfigError, match="d_in=4"):
        train_crosscoder(torch.randn(10, 5), torch.randn(10, 5), cfg)
    bad = torch.randn(10, 4)
    bad[0, 0] = float("inf")
    with pytest.raises(NonFiniteError):
        train_crosscoder(bad, torch.randn(10, 4), cfg)


@pytest.fixture(scope="module")
def base_sae(planted):
    base, _, _, _ = planted
    cfg = SaeTrainConfig(d_sae=32, k=3, lr=3e-3, training_samples=60_000, batch_size=256)
    return train_sae(base, cfg, hook_name="blocks.0.hook_resid_post", model_name="planted")


def test_sae_on_base_reconstructs_rl_worse(planted, base_sae):
    base, rl, _, _ = planted
    df = reconstruction_quality(base_sae, {"base": base, "rl": rl}, n_boot=200).set_index("model")
    # independent reference for the FVU
    with torch.no_grad():
        recon = base_sae.decode(base_sae.encode(base))
    ref = float(((base - recon) ** 2).sum() / ((base - base.mean(0)) ** 2).sum())
    assert df.loc["base", "fvu"] == pytest.approx(ref, rel=1e-5)
    assert df.loc["base", "fvu"] < 0.1
    assert df.loc["base", "ci_lo"] <= df.loc["base", "fvu"] <= df.loc["base", "ci_hi"]
    # the RL-only features are not in the base SAE's dictionary
    assert df.loc["rl", "fvu"] > 2 * df.loc["base", "fvu"]
    assert df.loc["rl", "ratio_ci_lo"] > 1.5
    assert df.loc["base", "l0"] <= 3.0


def test_sae_save_load_roundtrip(tmp_path, base_sae, planted):
    base, _, _, _ = planted
    folder = save_sae(base_sae, tmp_path / "sae", metadata={"hook": "blocks.0.hook_resid_post"})
    save_sae(base_sae, folder)  # overwriting an existing folder works
    loaded = load_sae(folder)
    assert torch.equal(loaded.encode(base[:32]), base_sae.encode(base[:32]))
    assert [p.name for p in tmp_path.iterdir()] == ["sae"]
    with pytest.raises(MissingWeightsError):
        load_sae(tmp_path / "missing")


def test_batchtopk_sae_trains_and_loads(tmp_path, planted):
    base, _, _, _ = planted
    sae = train_sae(base[:2000], SaeTrainConfig(architecture="batchtopk", d_sae=32, k=3, lr=3e-3,
                                                training_samples=20_000, batch_size=256))
    df = reconstruction_quality(sae, {"base": base[:2000]}, n_boot=100)
    assert df.loc[0, "fvu"] < 0.5
    again = load_sae(save_sae(sae, tmp_path / "btk"))
    assert torch.equal(again.encode(base[:8]), sae.encode(base[:8]))


def test_sae_config_checks():
    with pytest.raises(InvalidConfigError, match="k=40 exceeds"):
        SaeTrainConfig(d_sae=32, k=40)
    with pytest.raises(InvalidConfigError, match="training_samples"):
        SaeTrainConfig(training_samples=10, batch_size=512)
    with pytest.raises(InvalidConfigError):
        SaeTrainConfig(architecture="standard")
    assert SaeTrainConfig.from_dict(SaeTrainConfig(k=4).to_dict()) == SaeTrainConfig(k=4)


def _identity_sae(d: int) -> TopKSAE:
    """An exact SAE: latents [x, -x], decoder [I; -I], k = d keeps every positive half."""
    sae = TopKSAE(TopKSAEConfig(d_in=d, d_sae=2 * d, k=d, rescale_acts_by_decoder_norm=False))
    eye = torch.eye(d)
    with torch.no_grad():
        sae.W_enc.copy_(torch.cat([eye, -eye], 1))
        sae.W_dec.copy_(torch.cat([eye, -eye], 0))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


@pytest.fixture(scope="module")
def tiny_tl():
    cfg = HookedTransformerConfig(n_layers=2, d_model=16, n_ctx=32, d_head=4, n_heads=4, d_mlp=32, d_vocab=12,
                                  act_fn="gelu", normalization_type="LN", seed=0)
    return HookedTransformer(cfg)


def test_splice_ce_loss_against_manual_forward(tiny_tl):
    hook = hook_name(0)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 12, (6, 10), generator=g)
    mask = torch.ones_like(tokens)
    mask[0, 7:] = 0
    exact = splice_ce_loss({"m": tiny_tl}, _identity_sae(16), hook, tokens, mask, n_boot=100).iloc[0]
    assert exact["delta_ce"] == pytest.approx(0.0, abs=1e-5) and exact["ce_recovered"] == pytest.approx(1.0, abs=1e-4)
    torch.manual_seed(0)
    noisy = TopKSAE(TopKSAEConfig(d_in=16, d_sae=32, k=4))
    row = splice_ce_loss({"m": tiny_tl}, noisy, hook, tokens, mask, n_boot=100).iloc[0]
    # manual reference: splice by hand, run the remaining blocks, masked next-token CE
    with torch.no_grad():
        _, cache = tiny_tl.run_with_cache(tokens, names_filter=hook)
        resid = cache[hook]
        logits = tiny_tl(noisy.decode(noisy.encode(resid)), start_at_layer=1)
        logp = torch.log_softmax(logits[:, :-1].double(), -1).gather(-1, tokens[:, 1:, None])[..., 0]
        tm = mask[:, 1:].double()
        ref = float(-(logp * tm).sum() / tm.sum())
    assert row["spliced"] == pytest.approx(ref, rel=1e-5)
    assert row["delta_ce"] == pytest.approx(ref - row["clean"], rel=1e-5)
    assert row["delta_ci_lo"] <= row["delta_ce"] <= row["delta_ci_hi"]
    assert row["n_tokens"] == int(mask[:, 1:].sum())


# ---- checkpoint and resume -------------------------------------------------------------------------------------


class _Stop(Exception):
    """Raised from on_checkpoint: stands in for a job killed right after a checkpoint."""


def _stop_at(step: int):
    def hook(done: int) -> None:
        if done == step:
            raise _Stop(done)
    return hook


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(("architecture", "normalize"), [("topk", "none"), ("batchtopk", "expected_average_only_in")])
def test_train_sae_resumes_bit_for_bit(tmp_path, planted, architecture, normalize):
    from rlmeta_interp.errors import CheckpointMismatchError

    base = planted[0][:700]  # 700 rows, batches of 64: passes end mid-way, so the data order is resumed mid-pass
    cfg = SaeTrainConfig(d_sae=24, k=3, architecture=architecture, training_samples=64 * 30, batch_size=64,
                         dead_feature_window=5, normalize_activations=normalize, lr_warm_up_steps=4, seed=3)
    plain = train_sae(base, cfg)
    with pytest.raises(_Stop):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", checkpoint_every=7, on_checkpoint=_stop_at(14))
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step_000000014"]  # older one pruned
    # what a SIGKILL mid-save leaves: a half-built step folder and a half-written file; never read, later deleted
    (tmp_path / "ck" / ".step_000000021.a1b2c3.tmp").mkdir()
    (tmp_path / "ck" / ".step_000000021.a1b2c3.tmp" / _SAE_WEIGHTS).write_bytes(b"half")
    (tmp_path / "ck" / ".step_000000014.d4e5f6.old.tmp").mkdir()
    steps = []
    resumed = train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", checkpoint_every=7, on_checkpoint=steps.append)
    assert steps == [21, 28, 30]  # resumed after 14, not from scratch
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step_000000030"]
    _assert_same_state(plain.state_dict(), resumed.state_dict())
    assert resumed.cfg.metadata.l0 == plain.cfg.metadata.l0
    again = train_sae(base, cfg, checkpoint_dir=tmp_path / "ck", on_checkpoint=steps.append)  # finished: no steps
    assert steps == [21, 28, 30]
    _assert_same_state(plain.state_dict(), again.state_dict())
    with pytest.raises(CheckpointMismatchError, match="checkpoint_dir"):
        train_sae(base, cfg.replace(lr=2e-3), checkpoint_dir=tmp_path / "ck")
    with pytest.raises(CheckpointMismatchError):
        train_sae(base[:-1], cfg, checkpoint_dir=tmp_path / "ck")
    # a damaged checkpoint names the folder to delete (older ones are pruned: there is nothing to fall back on)
    last = tmp_path / "ck" / "step_000000030"
    (last / _SAE_WEIGHTS).write_bytes((last / _SAE_WEIGHTS).read_bytes()[:-16])
    with pytest.raises(CorruptedCheckpointError, match=f"delete the checkpoint folder {re.escape(str(last))} and rerun"):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck")
    (last / _SAE_STATE).unlink()
    with pytest.raises(CorruptedCheckpointError, match=f"{_SAE_STATE}.*delete the checkpoint folder {re.escape(str(last))}"):
        train_sae(base, cfg, checkpoint_dir=tmp_path / "ck")


def test_train_crosscoder_resumes_bit_for_bit(tmp_path, planted):
    from rlmeta_interp.errors import CheckpointMismatchError

    base, rl = planted[0][:500], planted[1][:500]
    # dead_steps small so the AuxK branch and the dead counters are part of the resumed state
    cfg = CrosscoderConfig(d_in=D, d_sae=24, k=2, steps=40, batch_size=32, dead_steps=3, decay_fraction=0.5)
    plain = train_crosscoder(base, rl, cfg)
    with pytest.raises(_Stop):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=9, on_checkpoint=_stop_at(27))
    assert [p.name for p in (tmp_path / "cc").iterdir()] == ["step_000000027.pt"]
    (tmp_path / "cc" / ".step_000000036.pt.x9y8z7.tmp").write_bytes(b"half")  # left by a kill mid-save
    steps = []
    resumed = train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=9, on_checkpoint=steps.append)
    assert steps == [36, 40]
    assert [p.name for p in (tmp_path / "cc").iterdir()] == ["step_000000040.pt"]
    _assert_same_state(plain.state_dict(), resumed.state_dict())
    with pytest.raises(CheckpointMismatchError):
        train_crosscoder(base, rl * 1.01, cfg, checkpoint_dir=tmp_path / "cc")
    (tmp_path / "cc" / "step_000000040.pt").write_bytes(b"truncated")
    with pytest.raises(CorruptedCheckpointError, match=r"delete .*step_000000040\.pt and rerun.*from scratch"):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc")
    with pytest.raises(InvalidConfigError, match="checkpoint_every"):
        train_crosscoder(base, rl, cfg, checkpoint_dir=tmp_path / "cc", checkpoint_every=0)


def test_training_device_is_checked_before_any_work(planted):
    base, rl = planted[0][:300], planted[1][:300]
    for bad, fix in (("gpu", "use 'cpu', 'cuda'"), ("mps", "use device='cpu'")):
        with pytest.raises(InvalidConfigError, match=fix):
            train_sae(base, SaeTrainConfig(d_sae=8, k=2, training_samples=256, batch_size=64), device=bad)
        with pytest.raises(InvalidConfigError, match=fix):
            train_crosscoder(base, rl, CrosscoderConfig(d_in=D, d_sae=8, k=2, steps=2, batch_size=32), device=bad)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidConfigError, match="no CUDA GPU: use device='cpu'"):
            train_sae(base, SaeTrainConfig(d_sae=8, k=2, training_samples=256, batch_size=64), device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine)")
def test_sae_and_crosscoder_train_on_cuda_from_cpu_activations(tmp_path, planted):
    base, rl, _, _ = planted
    cfg = SaeTrainConfig(d_sae=32, k=3, lr=3e-3, training_samples=60_000, batch_size=256)
    sae = train_sae(base, cfg, device="cuda", checkpoint_dir=tmp_path / "sae", checkpoint_every=50)
    assert next(sae.parameters()).device.type == "cuda"
    df = reconstruction_quality(sae, {"base": base, "rl": rl}, n_boot=200).set_index("model")
    assert df.loc["base", "fvu"] < 0.1 and df.loc["rl", "ratio_ci_lo"] > 1.5  # the CPU test's science holds on GPU
    again = train_sae(base, cfg, device="cuda", checkpoint_dir=tmp_path / "sae")  # final checkpoint: a read
    _assert_same_state(sae.state_dict(), again.state_dict())
    cc = train_crosscoder(base, rl, CrosscoderConfig(d_in=D, d_sae=24, k=2, steps=1500, batch_size=256, lr=3e-3),
                          device="cuda")
    assert cc.W_dec.device.type == "cuda"
    table = crosscoder_latents(cc, base, rl)
    assert (table["category"] == "rl_only").sum() >= N_EXCL - 1
