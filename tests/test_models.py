"""Tests of dafx_explorer.models: encoders, controller, β schedule and persistence."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import torch

from dafx_explorer import manifest
from dafx_explorer.errors import ModelError
from dafx_explorer.models import (
    VQVAE,
    BetaVAE,
    Controller,
    ControllerConfig,
    VAEConfig,
    VQVAEConfig,
    cyclical_beta,
    load_controller,
    load_encoder,
    load_model,
    save_model,
)

TINY_VAE = VAEConfig(channels=(8, 16, 16), latent_dim=8, input_size=(32, 32))
TINY_VQ = VQVAEConfig(channels=(8, 16), code_dim=4, n_codes=16, pool_size=2, input_size=(32, 32))


def structured_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Images made of a few random horizontal bands and a vertical ramp (spectrogram-like), standardized."""
    gen = torch.Generator().manual_seed(seed)
    rows = torch.arange(size, dtype=torch.float32)
    centres = torch.rand(n, 3, 1, generator=gen) * size
    bands = torch.exp(-0.5 * ((rows - centres) / 2.0) ** 2).sum(1)  # (n, size) over rows
    ramp = torch.linspace(-1, 1, size) * torch.randn(n, 1, generator=gen)  # (n, size) over columns
    images = bands[:, :, None] + ramp[:, None, :]
    return (images - images.mean()) / images.std()


def train_steps(model, images: torch.Tensor, steps: int, loss_of) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for step in range(steps):
        batch = images[(step * 16) % len(images):][:16]
        total = loss_of(model, batch)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        losses.append(total.item())
    return losses


def vae_loss(model, batch):
    return model.loss(batch, *model(batch), beta=1e-3)[0]


def vq_loss(model, batch):
    recon, commitment, _ = model(batch)
    return model.loss(batch, recon, commitment)[0]


# --------------------------------------------------------------------------- shapes and budgets


def test_default_encoders_map_256x256_features_to_128d():
    torch.manual_seed(0)
    x = torch.randn(2, 256, 256)
    for model in (BetaVAE(), VQVAE()):
        assert model.embed(x).shape == (2, 128)
        assert model.embedding_dim == 128
    recon, mu, logvar = BetaVAE()(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (2, 128)
    recon, commitment, codes = VQVAE()(x)
    assert recon.shape == x.shape and commitment.ndim == 0 and codes.shape == (2, 16, 16)


def test_pooled_reconstruction_targets_the_average_pooled_image():
    torch.manual_seed(3)
    x = torch.randn(2, 256, 256)
    model = BetaVAE(VAEConfig(recon_pool=4))
    recon, mu, logvar = model(x)
    assert recon.shape == (2, 64, 64) and mu.shape == (2, 128)
    assert len(model.decoder) < len(BetaVAE().decoder)  # two transposed-conv stages fewer
    pooled = torch.nn.functional.avg_pool2d(x.unsqueeze(1), 4).squeeze(1)
    assert BetaVAE.loss(x, pooled, mu, logvar, beta=0.0)[1].item() == pytest.approx(0.0, abs=1e-7)
    assert BetaVAE.loss(x, pooled + 0.5, mu, logvar, beta=0.0)[1].item() == pytest.approx(0.25)


def test_default_models_fit_the_size_budget():
    for model in (BetaVAE(), VQVAE()):
        assert sum(p.numel() for p in model.parameters()) < 2_500_000


def test_wrong_feature_shape_is_a_model_error():
    with pytest.raises(ModelError, match=r"shape \(B, 32, 32\), got \(2, 1, 32, 32\)"):
        BetaVAE(TINY_VAE).embed(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ModelError, match="expects features"):
        VQVAE(TINY_VQ).embed(torch.zeros(2, 32, 64))


def test_bad_configs_are_rejected():
    with pytest.raises(ModelError, match="divisible by 2\\*\\*3"):
        VAEConfig(channels=(4, 4, 4), input_size=(36, 32))
    for pool in (3, 8, 0):
        with pytest.raises(ModelError, match="recon_pool must be a power of 2 below 2\\*\\*3"):
            VAEConfig(channels=(4, 4, 4), input_size=(32, 32), recon_pool=pool)
    with pytest.raises(ModelError, match="pool_size"):
        VQVAEConfig(channels=(4, 4), input_size=(8, 8), pool_size=3)
    with pytest.raises(ModelError, match="n_params"):
        ControllerConfig(n_params=0)
    for dropout in (-0.1, 1.0):
        with pytest.raises(ModelError, match="dropout must be in \\[0, 1\\)"):
            ControllerConfig(n_params=2, dropout=dropout)


# --------------------------------------------------------------------------- β-VAE


def test_vae_embed_is_deterministic_posterior_mean_and_keeps_training_mode():
    torch.manual_seed(1)
    model = BetaVAE(TINY_VAE)
    x = structured_images(4)
    first = model.embed(x)
    assert model.training  # embed gives the mode back
    assert torch.equal(first, model.embed(x))
    model.eval()
    recon_a, mu, logvar = model(x)
    recon_b, _, _ = model(x)
    assert torch.equal(first, mu)
    assert torch.equal(recon_a, recon_b)  # eval decodes the mean, no sampling
    model.train()
    recon_c, _, _ = model(x)
    assert not torch.equal(recon_a, recon_c)  # training decodes a sample


def test_vae_loss_scaling():
    torch.manual_seed(2)
    x = torch.randn(3, 32, 32)
    recon = x + 0.5
    mu = torch.zeros(3, 8)
    logvar = torch.zeros(3, 8)
    total, recon_loss, kl = BetaVAE.loss(x, recon, mu, logvar, beta=0.1)
    assert recon_loss.item() == pytest.approx(0.25)  # per-element squared error
    assert kl.item() == pytest.approx(0.0, abs=1e-7)  # posterior equal to the prior
    mu = torch.full((3, 8), 2.0)
    total, recon_loss, kl = BetaVAE.loss(x, recon, mu, logvar, beta=0.1)
    assert kl.item() == pytest.approx(2.0)  # 0.5 * mu² nats per latent dimension
    assert total.item() == pytest.approx(0.25 + 0.1 * 2.0)


def test_tiny_vae_loss_falls_when_trained():
    torch.manual_seed(3)
    model = BetaVAE(TINY_VAE)
    losses = train_steps(model, structured_images(96), 30, vae_loss)
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


# --------------------------------------------------------------------------- cyclical β


def test_cyclical_beta_follows_the_cosine_ramp_then_holds():
    # cycle of 7 steps, ramp over 6 of them: β(k) = β_max (1 - cos(π k / 6)) / 2 for k < 6
    kwargs = {"cycle_length": 7, "beta_max": 0.2, "ramp_fraction": 6 / 7}
    assert cyclical_beta(0, **kwargs) == 0.0
    assert cyclical_beta(3, **kwargs) == pytest.approx(0.1)  # half-way up the ramp
    assert cyclical_beta(1, **kwargs) + cyclical_beta(5, **kwargs) == pytest.approx(0.2)
    values = [cyclical_beta(k, **kwargs) for k in range(7)]
    assert values == sorted(values)
    assert cyclical_beta(6, **kwargs) == 0.2
    assert cyclical_beta(7, **kwargs) == 0.0  # the next cycle starts again from 0
    assert cyclical_beta(7 * 5 + 3, **kwargs) == pytest.approx(0.1)


def test_cyclical_beta_default_ramp_is_half_the_cycle():
    assert cyclical_beta(5, cycle_length=11, beta_max=1.0) == pytest.approx(0.5 * (1 - math.cos(math.pi * 10 / 11)))
    assert cyclical_beta(6, cycle_length=11, beta_max=1.0) == 1.0
    assert cyclical_beta(10, cycle_length=11, beta_max=1.0) == 1.0


@pytest.mark.parametrize("cycle_length", [0, 1, 4, 9, 10, 1000, -7, 7.0, True])
def test_cyclical_beta_needs_a_prime_cycle(cycle_length):
    with pytest.raises(ValueError, match="prime"):
        cyclical_beta(0, cycle_length=cycle_length, beta_max=1.0)


def test_cyclical_beta_accepts_primes_and_checks_other_arguments():
    for prime in (2, 3, 97, 1009):
        assert cyclical_beta(prime, cycle_length=prime, beta_max=1.0) == 0.0
    with pytest.raises(ValueError, match="step"):
        cyclical_beta(-1, cycle_length=7, beta_max=1.0)
    with pytest.raises(ValueError, match="beta_max"):
        cyclical_beta(0, cycle_length=7, beta_max=-1.0)
    with pytest.raises(ValueError, match="ramp_fraction"):
        cyclical_beta(0, cycle_length=7, beta_max=1.0, ramp_fraction=0.0)


# --------------------------------------------------------------------------- VQ-VAE


def test_vq_vae_trains_uses_several_codes_and_embeds_the_pooled_code_map():
    torch.manual_seed(4)
    model = VQVAE(TINY_VQ)
    images = structured_images(96)
    losses = train_steps(model, images, 30, vq_loss)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    codes = model.codes(images)
    assert codes.shape == (96, 8, 8)
    assert len(torch.unique(codes)) > 1
    embedding = model.embed(images[:4])
    assert embedding.shape == (4, TINY_VQ.embedding_dim) == (4, 16)
    # the embedding is the average of the chosen code vectors over each quadrant of the code map
    chosen = model.quantizer.codebook[codes[:4]]  # (4, 8, 8, D)
    top_left = chosen[:, :4, :4].mean(dim=(1, 2))
    assert torch.allclose(embedding.view(4, 4, 2, 2)[:, :, 0, 0], top_left, atol=1e-6)


def test_vq_codebook_moves_only_in_training():
    torch.manual_seed(5)
    model = VQVAE(TINY_VQ)
    images = structured_images(16)
    before = model.quantizer.codebook.clone()
    model.embed(images)
    model.codes(images)
    assert torch.equal(before, model.quantizer.codebook)
    model.train()
    model(images)
    assert not torch.equal(before, model.quantizer.codebook)


def test_vq_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(6)
    model = VQVAE(TINY_VQ)
    vq_loss(model, structured_images(8)).backward()
    assert model.encoder[0][0].weight.grad.abs().sum() > 0


# --------------------------------------------------------------------------- controller


@pytest.mark.parametrize(("scale", "dropout"), [(1.0, 0.0), (1e3, 0.0), (1.0, 0.3)])
def test_untrained_controller_predicts_one_half(scale, dropout):
    torch.manual_seed(7)
    model = Controller(ControllerConfig(n_params=6, dropout=dropout))
    z_in = torch.randn(512, 128) * scale
    z_target = torch.randn(512, 128) * scale
    p = model(z_in, z_target)
    assert p.shape == (512, 6)
    assert (p - 0.5).abs().max() < 1e-3


def test_controller_layers_and_learning():
    torch.manual_seed(8)
    model = Controller(ControllerConfig(n_params=2, embedding_dim=4, hidden=(16, 8)))
    kinds = [type(layer) for layer in model.hidden]
    assert kinds == [torch.nn.Linear, torch.nn.LayerNorm, torch.nn.LeakyReLU] * 2
    assert all(layer.bias.abs().sum() == 0 for layer in model.hidden if isinstance(layer, torch.nn.Linear))
    z_in, z_target = torch.randn(64, 4), torch.randn(64, 4)
    target = torch.sigmoid(z_target[:, :2] * 3)  # settings readable from the target embedding
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(model(z_in, z_target), target)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first


def test_controller_dropout_acts_only_in_training_and_survives_a_round_trip(tmp_path):
    torch.manual_seed(12)
    model = Controller(ControllerConfig(n_params=3, embedding_dim=8, hidden=(32, 16), dropout=0.5))
    kinds = [type(layer) for layer in model.hidden]
    assert kinds == [torch.nn.Linear, torch.nn.LayerNorm, torch.nn.LeakyReLU, torch.nn.Dropout] * 2
    with torch.no_grad():
        model.output.weight.normal_()  # as if trained: outputs differ from 0.5
    z_in, z_target = torch.randn(4, 8), torch.randn(4, 8)
    assert not torch.equal(model(z_in, z_target), model(z_in, z_target))
    model.eval()
    assert torch.equal(model(z_in, z_target), model(z_in, z_target))
    loaded, meta = load_model(save_model(model, tmp_path / "controller_delay.safetensors"))
    assert meta["config"]["dropout"] == 0.5 and not loaded.training
    assert torch.equal(model(z_in, z_target), loaded(z_in, z_target))


def test_controller_rejects_mismatched_embeddings():
    model = Controller(ControllerConfig(n_params=3, embedding_dim=8))
    with pytest.raises(ModelError, match=r"z_target of shape \(B, 8\)"):
        model(torch.zeros(2, 8), torch.zeros(2, 9))
    with pytest.raises(ModelError, match="different sizes"):
        model(torch.zeros(2, 8), torch.zeros(3, 8))


# --------------------------------------------------------------------------- persistence


def test_vae_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(9)
    model = BetaVAE(TINY_VAE)
    train_steps(model, structured_images(32), 3, vae_loss)
    path = save_model(model, tmp_path / "vae.safetensors", extra={"features": "mel", "mean": 0.25})
    loaded, meta = load_model(path)
    assert isinstance(loaded, BetaVAE) and not loaded.training
    assert loaded.config == TINY_VAE
    assert meta == {"kind": "vae", "config": json.loads(json.dumps(TINY_VAE.__dict__)),
                    "extra": {"features": "mel", "mean": 0.25}}
    x = structured_images(5, seed=1)
    model.eval()
    assert torch.equal(model.embed(x), loaded.embed(x))
    assert torch.equal(model(x)[0], loaded(x)[0])


def test_vqvae_round_trip_keeps_the_codebook(tmp_path):
    torch.manual_seed(10)
    model = VQVAE(TINY_VQ)
    train_steps(model, structured_images(32), 3, vq_loss)
    loaded, meta = load_model(save_model(model, tmp_path / "vq.safetensors"))
    assert meta["kind"] == "vqvae" and meta["extra"] == {}
    assert torch.equal(model.quantizer.codebook, loaded.quantizer.codebook)
    x = structured_images(5, seed=2)
    model.eval()
    assert torch.equal(model.embed(x), loaded.embed(x))
    assert torch.equal(model.codes(x), loaded.codes(x))
    assert torch.equal(model(x)[0], loaded(x)[0])


def test_controller_round_trip_and_shipped_file_names(tmp_path, monkeypatch):
    torch.manual_seed(11)
    model = Controller(ControllerConfig(n_params=3, embedding_dim=8, hidden=(16,)))
    with torch.no_grad():
        model.output.weight.normal_()  # as if trained: outputs differ from 0.5
    save_model(model, tmp_path / "models" / "controller_delay.safetensors",
               extra={"effect": "delay", "param_names": ["a", "b", "c"]})
    monkeypatch.setenv("DAFX_EXPLORER_HOME", str(tmp_path))
    loaded, meta = load_controller("delay")
    assert meta["extra"]["param_names"] == ["a", "b", "c"]
    z_in, z_target = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.equal(model(z_in, z_target), loaded(z_in, z_target))
    save_model(BetaVAE(TINY_VAE), tmp_path / "models" / "encoder_vae.safetensors")
    save_model(VQVAE(TINY_VQ), tmp_path / "models" / "encoder_vq.safetensors")
    assert isinstance(load_encoder()[0], BetaVAE)
    assert isinstance(load_encoder("vq", models_dir=tmp_path / "models")[0], VQVAE)


def test_half_precision_files_are_smaller_and_load_as_float32(tmp_path):
    torch.manual_seed(12)
    model = BetaVAE(TINY_VAE).eval()
    full = save_model(model, tmp_path / "full.safetensors")
    half = save_model(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load_model(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = structured_images(4)
    expected = model.embed(x)
    assert torch.allclose(loaded.embed(x), expected, atol=1e-2 * expected.abs().max().item())


def test_file_sha256_matches_a_known_digest(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert manifest.file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 10_000)  # spans several read blocks
    assert manifest.file_sha256(big) == hashlib.sha256(big.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- load errors


@pytest.fixture
def saved_controller(tmp_path):
    model = Controller(ControllerConfig(n_params=3, embedding_dim=8, hidden=(16,)))
    return save_model(model, tmp_path / "controller_x.safetensors", extra={"effect": "x"})


def assert_one_line_error(path, match, **kwargs):
    with pytest.raises(ModelError, match=match) as info:
        load_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "rebuild it with" in message
    return message


def test_missing_weights_file(tmp_path):
    message = assert_one_line_error(tmp_path / "nothing.safetensors", "file not found",
                                    rebuild_hint="make-it --please")
    assert message.endswith("rebuild it with: make-it --please")


def test_missing_json_sidecar(saved_controller):
    saved_controller.with_suffix(".json").unlink()
    assert_one_line_error(saved_controller, "controller_x.json is missing")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_safetensors(saved_controller, damage):
    data = saved_controller.read_bytes()
    corrupted = {"truncate": data[: len(data) // 2], "garbage": b"\x00not a model\xff" * 50, "empty": b""}
    saved_controller.write_bytes(corrupted[damage])
    assert_one_line_error(saved_controller, "not a readable safetensors file")


def test_weights_for_another_parameter_count(saved_controller):
    sidecar = saved_controller.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["config"]["n_params"] = 5
    sidecar.write_text(json.dumps(meta))
    assert_one_line_error(saved_controller, r"output.weight has shape \(3, 16\), config needs \(5, 16\)")


def test_weights_of_another_model(saved_controller, tmp_path):
    sidecar = saved_controller.with_suffix(".json")
    sidecar.write_text(json.dumps({"kind": "vae", "config": TINY_VAE.__dict__, "extra": {}}))
    assert_one_line_error(saved_controller, "weights do not match the config: missing")


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"kind": "gan", "config": {}}, "unknown model kind 'gan'"),
        ({"config": {}}, "unknown model kind None"),
        ({"kind": "controller", "config": {"n_params": 3, "depth": 2}}, r"unknown ControllerConfig fields \['depth'\]"),
        ({"kind": "controller", "config": {}}, "bad ControllerConfig"),
        ({"kind": "controller", "config": {"n_params": 3}, "extra": [1]}, "'extra'.* must be a JSON object"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_bad_sidecar(saved_controller, meta, match):
    saved_controller.with_suffix(".json").write_text(json.dumps(meta))
    assert_one_line_error(saved_controller, match)


def test_sidecar_that_is_not_json(saved_controller):
    saved_controller.with_suffix(".json").write_text("{kind: controller")
    assert_one_line_error(saved_controller, "not valid JSON")


def test_non_finite_weights(tmp_path):
    model = Controller(ControllerConfig(n_params=2, embedding_dim=4, hidden=(8,)))
    with torch.no_grad():
        model.output.bias[0] = float("nan")
    path = save_model(model, tmp_path / "c.safetensors")
    assert_one_line_error(path, "NaN or infinite values in output.bias")


def test_shipped_loaders_name_the_rebuild_command(tmp_path):
    with pytest.raises(ModelError, match="rebuild it with: python -m dafx_explorer train-encoder --kind vq$"):
        load_encoder("vq", models_dir=tmp_path)
    with pytest.raises(ModelError, match="train-controller --effect delay$"):
        load_controller("delay", models_dir=tmp_path)
    with pytest.raises(ModelError, match="unknown encoder kind 'pca'"):
        load_encoder("pca", models_dir=tmp_path)
    with pytest.raises(ModelError, match="bad effect name"):
        load_controller("../secrets", models_dir=tmp_path)


def test_shipped_loaders_check_what_the_file_holds(tmp_path):
    save_model(Controller(ControllerConfig(n_params=2)), tmp_path / "encoder_vae.safetensors")
    with pytest.raises(ModelError, match="holds a controller, not a vae"):
        load_encoder("vae", models_dir=tmp_path)
    save_model(Controller(ControllerConfig(n_params=2)), tmp_path / "controller_delay.safetensors",
               extra={"effect": "flanger"})
    with pytest.raises(ModelError, match="trained for effect 'flanger', not 'delay'"):
        load_controller("delay", models_dir=tmp_path)


def test_save_rejects_bad_paths_and_extra(tmp_path):
    model = Controller(ControllerConfig(n_params=2))
    with pytest.raises(ModelError, match="must end in .safetensors"):
        save_model(model, tmp_path / "c.pt")
    with pytest.raises(ModelError, match="not JSON-serializable"):
        save_model(model, tmp_path / "c.safetensors", extra={"tensor": torch.zeros(1)})
    with pytest.raises(ModelError, match="cannot save Linear"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "l.safetensors")

