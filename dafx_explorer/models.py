"""Neural models: the β-VAE and VQ-VAE encoders of mel images, the per-effect controller, and the
per-effect settings estimator that style matching uses (:mod:`dafx_explorer.estimator`).

Every model takes standardized feature images ``(B, n_mels, n_frames)`` (256×256 by default,
see :mod:`dafx_explorer.features`) and gives a fixed-size embedding (128-D by default).
Models are stored as safetensors weights plus a JSON sidecar holding the model kind, its
configuration and caller data (:func:`save_model`, :func:`load_model`); loading never
executes code.

References
----------
Higgins et al., 2017, "β-VAE: Learning basic visual concepts with a constrained variational
framework". Fu et al., 2019, "Cyclical annealing schedule: a simple approach to mitigating
KL vanishing". van den Oord et al., 2017, "Neural discrete representation learning"
(VQ-VAE, EMA codebook updates in its appendix).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from dafx_explorer import settings
from dafx_explorer.errors import ModelError

ENCODER_FILES = {"vae": "encoder_vae.safetensors", "vq": "encoder_vq.safetensors"}
"""Shipped encoder weights in ``settings.models_dir``, by encoder kind."""

TRAIN_ENCODER_COMMAND = "python -m dafx_explorer train-encoder --kind {kind}"
"""The command a missing-encoder error suggests."""
TRAIN_CONTROLLER_COMMAND = "python -m dafx_explorer train-controller --effect {effect}"
"""The command a missing-controller error suggests."""
DEFAULT_REBUILD_HINT = "python -m dafx_explorer train-encoder / train-controller (see precomputed/manifest.json)"
"""What an error about a model file of unknown kind suggests."""


# --------------------------------------------------------------------------- configurations


def _check_stages(name: str, channels: tuple[int, ...], input_size: tuple[int, int]) -> None:
    """Check a conv stack: positive channel counts and an input divisible by 2**stages."""
    if not channels or any(int(c) < 1 for c in channels):
        raise ModelError(f"{name}.channels must be a non-empty tuple of positive ints, got {channels!r}")
    if len(input_size) != 2 or any(int(s) < 1 for s in input_size):
        raise ModelError(f"{name}.input_size must be two positive ints, got {input_size!r}")
    factor = 2 ** len(channels)
    if any(int(s) % factor for s in input_size):
        raise ModelError(
            f"{name}.input_size {tuple(input_size)} must be divisible by 2**{len(channels)} = {factor} "
            f"(one halving per stage of channels {tuple(channels)})"
        )


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of :class:`BetaVAE` (training settings such as β live with the training code).

    Parameters
    ----------
    channels : tuple of int
        Output channels of each encoder stage; every stage halves height and width
        (3×3 conv, stride 2). The decoder mirrors the stages with 4×4 stride-2 transposed convs.
    latent_dim : int
        Size of the latent (and of the embedding, the posterior mean).
    input_size : (int, int)
        Feature image size (mel bands, frames); divisible by ``2**len(channels)``.
    negative_slope : float
        Slope of the LeakyReLU activations.
    aux_outputs : int
        Size of an optional linear head on the posterior mean (0 = none). Training uses it to
        read the applied effect and its settings off the embedding (a semi-supervised β-VAE),
        which keeps effect information in the latent that reconstruction alone would blur away.
    recon_pool : int
        The decoder reconstructs the feature image average-pooled by this factor in each
        direction (1 = full resolution; a power of 2 below ``2**len(channels)``), with one
        transposed-conv stage fewer per halving. 4 gives a 64×64 target and a decoder with
        about a sixth of the full one's arithmetic: the embedding is for what an effect does,
        not for fine detail, and the saved time buys more training windows.
    """

    channels: tuple[int, ...] = (16, 32, 64, 128, 128, 128)
    latent_dim: int = 128
    input_size: tuple[int, int] = (256, 256)
    negative_slope: float = 0.2
    aux_outputs: int = 0
    recon_pool: int = 1

    def __post_init__(self) -> None:
        _check_stages("VAEConfig", self.channels, self.input_size)
        if self.latent_dim < 1 or self.aux_outputs < 0:
            raise ModelError(f"VAEConfig needs latent_dim >= 1 and aux_outputs >= 0, got {self.latent_dim}, "
                             f"{self.aux_outputs}")
        pool = self.recon_pool
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1 or pool & (pool - 1) \
                or pool >= 2 ** len(self.channels):
            raise ModelError(f"VAEConfig.recon_pool must be a power of 2 below 2**{len(self.channels)}, got {pool!r}")


@dataclass(frozen=True)
class VQVAEConfig:
    """Architecture of :class:`VQVAE`.

    Parameters
    ----------
    channels : tuple of int
        Output channels of each encoder stage (3×3 conv, stride 2); the code map is
        ``input_size / 2**len(channels)`` (16×16 for the default 4 stages on 256×256).
    code_dim : int
        Channels of the code map and size of each codebook vector.
    n_codes : int
        Number of codebook vectors.
    pool_size : int
        The embedding is the quantized code map average-pooled to ``pool_size × pool_size``
        and flattened: ``code_dim * pool_size**2`` values (32 · 2 · 2 = 128 by default).
    ema_decay : float
        Decay of the exponential moving averages that update the codebook.
    dead_code_threshold : float
        A code whose moving-average usage (vectors per batch) falls below this is moved to a
        random encoder output of the current batch (codebook restart).
    input_size : (int, int)
        Feature image size; divisible by ``2**len(channels)``.
    negative_slope : float
        Slope of the LeakyReLU activations.
    """

    channels: tuple[int, ...] = (16, 32, 64, 128)
    code_dim: int = 32
    n_codes: int = 256
    pool_size: int = 2
    ema_decay: float = 0.99
    dead_code_threshold: float = 1e-2
    input_size: tuple[int, int] = (256, 256)
    negative_slope: float = 0.2

    def __post_init__(self) -> None:
        _check_stages("VQVAEConfig", self.channels, self.input_size)
        if self.code_dim < 1 or self.n_codes < 2:
            raise ModelError(f"VQVAEConfig needs code_dim >= 1 and n_codes >= 2, got {self.code_dim}, "
                             f"{self.n_codes}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ModelError(f"VQVAEConfig.ema_decay must be in (0, 1), got {self.ema_decay}")
        code_map = min(self.input_size) // 2 ** len(self.channels)
        if not 1 <= self.pool_size <= code_map:
            raise ModelError(f"VQVAEConfig.pool_size must be in [1, {code_map}] (the code map size), "
                             f"got {self.pool_size}")

    @property
    def embedding_dim(self) -> int:
        """Size of :meth:`VQVAE.embed`'s output."""
        return self.code_dim * self.pool_size**2


@dataclass(frozen=True)
class ControllerConfig:
    """Architecture of :class:`Controller`.

    Parameters
    ----------
    n_params : int
        Number of normalized effect parameters predicted.
    embedding_dim : int
        Size of each of the two input embeddings (input clip, target clip).
    hidden : tuple of int
        Widths of the hidden layers (Linear → LayerNorm → LeakyReLU each).
    negative_slope : float
        Slope of the LeakyReLU activations.
    dropout : float
        Dropout probability after each hidden activation, in [0, 1); active only in training.
    """

    n_params: int
    embedding_dim: int = 128
    hidden: tuple[int, ...] = (512, 256, 128)
    negative_slope: float = 0.01
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.n_params < 1 or self.embedding_dim < 1:
            raise ModelError(f"ControllerConfig needs n_params >= 1 and embedding_dim >= 1, got "
                             f"{self.n_params}, {self.embedding_dim}")
        if any(int(h) < 1 for h in self.hidden):
            raise ModelError(f"ControllerConfig.hidden must be positive ints, got {self.hidden!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelError(f"ControllerConfig.dropout must be in [0, 1), got {self.dropout}")


# --------------------------------------------------------------------------- building blocks


def _groups(channels: int) -> int:
    """Largest group count <= 8 dividing ``channels`` (for GroupNorm)."""
    return max(g for g in range(1, 9) if channels % g == 0)


def _conv_encoder(channels: tuple[int, ...], slope: float) -> nn.Sequential:
    """Stride-2 3×3 convs from 1 channel through ``channels``, each GroupNorm + LeakyReLU."""
    layers: list[nn.Module] = []
    c_in = 1
    for c_out in channels:
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1),
                   nn.GroupNorm(_groups(c_out), c_out), nn.LeakyReLU(slope)]
        c_in = c_out
    return nn.Sequential(*layers)


def _conv_decoder(c_in: int, channels: tuple[int, ...], slope: float) -> nn.Sequential:
    """Mirror of :func:`_conv_encoder`: one 4×4 stride-2 transposed conv per encoder stage.

    Goes from ``c_in`` channels through ``reversed(channels[:-1])`` to 1 output channel;
    the last layer is linear (the features are standardized, not bounded).
    """
    layers: list[nn.Module] = []
    for c_out in reversed(channels[:-1]):
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1),
                   nn.GroupNorm(_groups(c_out), c_out), nn.LeakyReLU(slope)]
        c_in = c_out
    layers.append(nn.ConvTranspose2d(c_in, 1, 4, stride=2, padding=1))
    return nn.Sequential(*layers)


def _as_images(model: nn.Module, x: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
    """Check features ``(B, H, W)`` against ``input_size`` and return ``(B, 1, H, W)`` float32."""
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or tuple(x.shape[1:]) != tuple(input_size):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ModelError(f"{type(model).__name__} expects features of shape (B, {input_size[0]}, "
                         f"{input_size[1]}), got {shape}")
    param = next(model.parameters())
    return x.to(device=param.device, dtype=param.dtype).unsqueeze(1)


class _EvalMode:
    """Context manager: run a module in eval mode and give back its previous mode."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.was_training = module.training

    def __enter__(self) -> nn.Module:
        self.module.eval()
        return self.module

    def __exit__(self, *exc: object) -> None:
        self.module.train(self.was_training)


def reconstruction_loss(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Mean squared error per element (feature units²) between ``recon`` and ``x`` average-pooled
    to ``recon``'s size (unpooled where the sizes match)."""
    x = x.to(recon.dtype).to(recon.device)
    if x.shape[-2:] != recon.shape[-2:]:
        x = F.adaptive_avg_pool2d(x.unsqueeze(1), recon.shape[-2:]).squeeze(1)
    return F.mse_loss(recon, x)


# --------------------------------------------------------------------------- β-VAE


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def cyclical_beta(step: int, *, cycle_length: int, beta_max: float, ramp_fraction: float = 0.5) -> float:
    """β of the cyclical cosine annealing schedule (Fu et al., 2019) at a training step.

    Within each cycle of ``cycle_length`` steps, β rises from 0 to ``beta_max`` along a
    half cosine over the first ``ramp_fraction`` of the cycle, then stays at ``beta_max``.
    A prime cycle length keeps the cycle boundaries from lining up with epoch boundaries.

    Parameters
    ----------
    step : int >= 0
        Training step (optimizer updates since the start).
    cycle_length : int
        Steps per cycle; must be a prime.
    beta_max : float >= 0
        β reached at the end of each ramp (scaled as in :meth:`BetaVAE.loss`).
    ramp_fraction : float in (0, 1]
        Fraction of each cycle spent ramping.

    Returns
    -------
    float
        β in ``[0, beta_max]``.
    """
    if isinstance(cycle_length, bool) or not isinstance(cycle_length, int) or not _is_prime(cycle_length):
        raise ValueError(f"cycle_length must be a prime number of steps, got {cycle_length!r}")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    if not (math.isfinite(beta_max) and beta_max >= 0):
        raise ValueError(f"beta_max must be a finite number >= 0, got {beta_max!r}")
    if not 0.0 < ramp_fraction <= 1.0:
        raise ValueError(f"ramp_fraction must be in (0, 1], got {ramp_fraction!r}")
    position = (step % cycle_length) / cycle_length
    if position >= ramp_fraction:
        return float(beta_max)
    return float(beta_max) * 0.5 * (1.0 - math.cos(math.pi * position / ramp_fraction))


class BetaVAE(nn.Module):
    """Convolutional β-VAE over standardized feature images.

    ``forward(x)`` with ``x`` of shape ``(B, H, W)`` returns ``(recon, mu, logvar)``: the
    reconstruction ``(B, H / recon_pool, W / recon_pool)`` and the posterior mean and log-variance ``(B, latent_dim)``.
    In training mode the decoder sees a reparameterized sample, in eval mode the mean.
    """

    kind = "vae"

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        cfg = self.config
        stages = len(cfg.channels)
        self.map_size = (cfg.input_size[0] // 2**stages, cfg.input_size[1] // 2**stages)
        flat = cfg.channels[-1] * self.map_size[0] * self.map_size[1]
        self.encoder = _conv_encoder(cfg.channels, cfg.negative_slope)
        self.to_posterior = nn.Linear(flat, 2 * cfg.latent_dim)
        self.from_latent = nn.Sequential(nn.Linear(cfg.latent_dim, flat), nn.LeakyReLU(cfg.negative_slope))
        self.decoder = _conv_decoder(cfg.channels[-1], cfg.channels[cfg.recon_pool.bit_length() - 1:],
                                     cfg.negative_slope)
        self.aux = nn.Linear(cfg.latent_dim, cfg.aux_outputs) if cfg.aux_outputs else None

    @property
    def embedding_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance ``(B, latent_dim)`` each; log-variance clamped to [-30, 20]."""
        h = self.encoder(_as_images(self, x, self.config.input_size)).flatten(1)
        mu, logvar = self.to_posterior(h).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Feature images ``(B, H / recon_pool, W / recon_pool)`` from latents ``(B, latent_dim)``."""
        h = self.from_latent(z).view(-1, self.config.channels[-1], *self.map_size)
        return self.decoder(h).squeeze(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding ``(B, latent_dim)``: the posterior mean, computed in eval mode without gradients."""
        with _EvalMode(self):
            return self.encode(x)[0]

    @staticmethod
    def loss(x: torch.Tensor, recon: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
             beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """β-VAE loss ``total = recon_loss + beta * kl``.

        ``recon_loss`` is the mean squared error per feature element and ``kl`` the KL
        divergence from the unit Gaussian prior averaged over batch and latent dimensions
        (nats per dimension). With a 256×256 image and a 128-D latent this weighting equals
        the textbook β-VAE with a unit-variance Gaussian decoder scaled by 2/65536, whose
        β_textbook = beta · 65536 / (2 · 128) = 256 · beta; so ``beta = 1/256 ≈ 0.004`` is
        the plain ELBO, and useful ``beta_max`` values for embeddings lie around 1e-4 to 1e-2.

        Returns
        -------
        (total, recon_loss, kl) : scalar tensors
        """
        recon_loss = reconstruction_loss(x, recon)
        kl = 0.5 * torch.mean(mu.pow(2) + logvar.exp() - 1.0 - logvar)
        return recon_loss + beta * kl, recon_loss, kl


# --------------------------------------------------------------------------- VQ-VAE


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantizer with an EMA-updated codebook and codebook restarts.

    In training mode each call updates the codebook as exponential moving averages of the
    encoder outputs assigned to each code (van den Oord et al., 2017, appendix A.1), and
    moves codes whose average usage fell below ``dead_threshold`` vectors per batch onto
    random encoder outputs of the batch (all codes start unused, so the first batch
    initializes the codebook from the data). Gradients pass straight through.
    """

    def __init__(self, n_codes: int, code_dim: int, decay: float, dead_threshold: float,
                 eps: float = 1e-5) -> None:
        super().__init__()
        self.decay = decay
        self.dead_threshold = dead_threshold
        self.eps = eps
        codebook = torch.randn(n_codes, code_dim)
        self.register_buffer("codebook", codebook)
        self.register_buffer("cluster_size", torch.zeros(n_codes))
        self.register_buffer("code_sum", codebook.clone())

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code (squared Euclidean distance) for each row of ``flat`` (N, D)."""
        distance = (flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ self.codebook.T
                    + self.codebook.pow(2).sum(1))
        return distance.argmin(1)

    @torch.no_grad()
    def _update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        onehot = F.one_hot(codes, self.codebook.shape[0]).to(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1.0 - self.decay)
        self.code_sum.mul_(self.decay).add_(onehot.T @ flat, alpha=1.0 - self.decay)
        total = self.cluster_size.sum()
        n_codes = self.codebook.shape[0]
        smoothed = (self.cluster_size + self.eps) / (total + n_codes * self.eps) * total
        self.codebook.copy_(self.code_sum / smoothed.unsqueeze(1))
        dead = self.cluster_size < self.dead_threshold
        if dead.any():
            picks = flat[torch.randint(flat.shape[0], (int(dead.sum()),), device=flat.device)]
            self.codebook[dead] = picks
            self.code_sum[dead] = picks
            self.cluster_size[dead] = 1.0

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Quantize ``z`` (B, D, H, W).

        Returns
        -------
        quantized : (B, D, H, W), straight-through (its gradient goes to ``z``)
        commitment : scalar, mean squared distance from ``z`` to its (fixed) codes
        codes : (B, H, W) int64 code indices
        """
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        codes = self.nearest(flat.detach())
        if self.training:
            self._update(flat.detach(), codes)
        quantized = self.codebook[codes]
        commitment = F.mse_loss(flat, quantized)
        straight = flat + (quantized - flat).detach()
        return straight.view(b, h, w, d).permute(0, 3, 1, 2), commitment, codes.view(b, h, w)


class VQVAE(nn.Module):
    """Convolutional VQ-VAE over standardized feature images.

    ``forward(x)`` with ``x`` of shape ``(B, H, W)`` returns ``(recon, commitment, codes)``:
    the reconstruction ``(B, H, W)``, the commitment loss (scalar) and the code indices
    ``(B, h, w)``. The embedding (:meth:`embed`) is the quantized code map average-pooled
    to ``pool_size × pool_size`` and flattened (``code_dim * pool_size**2`` values).
    """

    kind = "vqvae"

    def __init__(self, config: VQVAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VQVAEConfig()
        cfg = self.config
        self.encoder = nn.Sequential(_conv_encoder(cfg.channels, cfg.negative_slope),
                                     nn.Conv2d(cfg.channels[-1], cfg.code_dim, 1))
        self.quantizer = VectorQuantizer(cfg.n_codes, cfg.code_dim, cfg.ema_decay, cfg.dead_code_threshold)
        self.decoder = nn.Sequential(
            nn.Conv2d(cfg.code_dim, cfg.channels[-1], 3, padding=1),
            nn.GroupNorm(_groups(cfg.channels[-1]), cfg.channels[-1]),
            nn.LeakyReLU(cfg.negative_slope),
            _conv_decoder(cfg.channels[-1], cfg.channels, cfg.negative_slope),
        )

    @property
    def embedding_dim(self) -> int:
        return self.config.embedding_dim

    def quantize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode and quantize features: ``(quantized (B, D, h, w), commitment, codes (B, h, w))``."""
        return self.quantizer(self.encoder(_as_images(self, x, self.config.input_size)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        quantized, commitment, codes = self.quantize(x)
        return self.decoder(quantized).squeeze(1), commitment, codes

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Code indices ``(B, h, w)`` of features ``x``, in eval mode (no codebook update)."""
        with _EvalMode(self):
            return self.quantize(x)[2]

    @torch.no_grad()
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding ``(B, code_dim * pool_size**2)`` of the quantized code map, in eval mode."""
        with _EvalMode(self):
            quantized = self.quantize(x)[0]
        return F.adaptive_avg_pool2d(quantized, self.config.pool_size).flatten(1)

    @staticmethod
    def loss(x: torch.Tensor, recon: torch.Tensor, commitment: torch.Tensor, *,
             commitment_cost: float = 0.25) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """VQ-VAE loss ``total = recon_loss + commitment_cost * commitment``.

        ``recon_loss`` is the mean squared error per feature element, as in
        :meth:`BetaVAE.loss`; ``commitment`` is the mean squared distance per code-map
        element between encoder outputs and their codes. The codebook itself follows the
        encoder by moving averages, so it has no loss term.

        Returns
        -------
        (total, recon_loss, commitment) : scalar tensors
        """
        recon_loss = reconstruction_loss(x, recon)
        return recon_loss + commitment_cost * commitment, recon_loss, commitment


# --------------------------------------------------------------------------- controller


class Controller(nn.Module):
    """MLP from the embeddings of an input clip and a target clip to normalized effect settings.

    Hidden layers are Linear → LayerNorm → LeakyReLU (→ Dropout when ``config.dropout`` > 0)
    with Xavier-uniform weights and zero biases. The output layer's weights start at
    N(0, 1e-5²) and its bias at logit(0.5) = 0, so an untrained controller predicts 0.5 for
    every parameter whatever its input.
    """

    kind = "controller"

    def __init__(self, config: ControllerConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        width = 2 * config.embedding_dim
        for hidden in config.hidden:
            linear = nn.Linear(width, hidden)
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LayerNorm(hidden), nn.LeakyReLU(config.negative_slope)]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width, config.n_params)
        nn.init.normal_(self.output.weight, std=1e-5)
        nn.init.zeros_(self.output.bias)

    def forward(self, z_in: torch.Tensor, z_target: torch.Tensor) -> torch.Tensor:
        """Settings ``(B, n_params)`` in [0, 1] from embeddings ``z_in`` and ``z_target`` (B, embedding_dim)."""
        expected = self.config.embedding_dim
        for name, z in (("z_in", z_in), ("z_target", z_target)):
            if z.ndim != 2 or z.shape[1] != expected:
                raise ModelError(f"Controller expects {name} of shape (B, {expected}), got {tuple(z.shape)}")
        if z_in.shape[0] != z_target.shape[0]:
            raise ModelError(f"Controller got batches of different sizes: z_in {z_in.shape[0]}, "
                             f"z_target {z_target.shape[0]}")
        return torch.sigmoid(self.output(self.hidden(torch.cat([z_in, z_target], dim=1))))


@dataclass(frozen=True)
class EstimatorConfig:
    """Architecture of :class:`SettingsEstimator`.

    Parameters
    ----------
    n_params : int
        Number of normalized effect parameters predicted.
    n_mels : int
        Features per frame of each recording: its log-mel bands, then any cepstral bands
        (:func:`dafx_explorer.estimator.cepstral_frames`).
    n_lags : int
        Lags of each recording's onset-envelope autocorrelation.
    channels : int
        Width of the frame encoder's dilated convolutions.
    dilations : tuple of int
        One residual convolution (kernel 3) per entry, with this dilation in frames.
    lag_features : int
        Width of the layer that reads the autocorrelation.
    hidden : tuple of int
        Widths of the head's hidden layers (Linear → LayerNorm → GELU each).
    quantiles : tuple of float
        Quantiles (0–1) of the encoder's features over time pooled beside their mean and spread.
    """

    n_params: int
    n_mels: int = 96
    n_lags: int = 512
    channels: int = 64
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    lag_features: int = 64
    hidden: tuple[int, ...] = (256, 256)
    quantiles: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        sizes = (self.n_params, self.n_mels, self.n_lags, self.channels, self.lag_features, *self.hidden,
                 *self.dilations)
        if any(int(v) < 1 for v in sizes):
            raise ModelError(f"EstimatorConfig sizes must be positive ints, got {self!r}")
        if any(not 0.0 <= q <= 1.0 for q in self.quantiles):
            raise ModelError(f"EstimatorConfig quantiles must lie in [0, 1], got {self.quantiles!r}")


class SettingsEstimator(nn.Module):
    """Normalized effect settings from an input recording and a reference recording.

    One encoder reads each recording: dilated 1-D convolutions over its log-mel frames (circular
    padding), pooled over time as mean, standard deviation and any ``quantiles``, so the result does
    not depend on where in the window the notes fall, beside a linear layer over its onset-envelope
    autocorrelation (echo and rhythm timing, finer than the frames). A head reads
    ``[input, reference, reference − input]`` and gives one sigmoid per setting; its output layer
    starts at zero, so an untrained estimator predicts 0.5 everywhere.
    """

    kind = "estimator"

    def __init__(self, config: EstimatorConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.frames_in = nn.Conv1d(config.n_mels, c, 3, padding=1, padding_mode="circular")
        self.frame_blocks = nn.ModuleList(
            nn.Conv1d(c, c, 3, padding=d, dilation=d, padding_mode="circular") for d in config.dilations)
        self.frame_norms = nn.ModuleList(nn.GroupNorm(_groups(c), c) for _ in config.dilations)
        self.lags = nn.Sequential(nn.Linear(config.n_lags, config.lag_features), nn.GELU())
        layers: list[nn.Module] = []
        width = 3 * ((2 + len(config.quantiles)) * c + config.lag_features)
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.GELU()]
            width = hidden
        self.head = nn.Sequential(*layers)
        self.output = nn.Linear(width, config.n_params)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def encode(self, frames: torch.Tensor, lags: torch.Tensor) -> torch.Tensor:
        """One vector per recording (B, 2·channels + lag_features) from log-mel frames (B, n_mels, T)
        and autocorrelations (B, n_lags)."""
        if frames.ndim != 3 or frames.shape[1] != self.config.n_mels or lags.shape[-1] != self.config.n_lags:
            raise ModelError(f"SettingsEstimator expects frames (B, {self.config.n_mels}, T) and lags "
                             f"(B, {self.config.n_lags}), got {tuple(frames.shape)} and {tuple(lags.shape)}")
        h = F.gelu(self.frames_in(frames))
        for conv, norm in zip(self.frame_blocks, self.frame_norms, strict=True):
            h = h + F.gelu(norm(conv(h)))
        pooled = [h.mean(-1), h.std(-1)]
        if self.config.quantiles:
            pooled += list(torch.quantile(h, torch.tensor(self.config.quantiles), dim=-1))
        pooled = torch.cat(pooled, dim=1)
        return torch.cat([pooled, self.lags(lags)], dim=1)

    def forward(self, input_frames, input_lags, reference_frames, reference_lags) -> torch.Tensor:
        """Settings ``(B, n_params)`` in [0, 1] for each (input, reference) pair of recordings."""
        a, b = self.encode(input_frames, input_lags), self.encode(reference_frames, reference_lags)
        return torch.sigmoid(self.output(self.head(torch.cat([a, b, b - a], dim=1))))


@dataclass(frozen=True)
class CorrectionConfig:
    """Architecture of :class:`SettingsCorrection`: ``n_statistics`` level statistics of a pair, the
    estimator's ``n_params`` settings, the indices of the ``corrected`` ones, two hidden layers."""

    n_statistics: int
    n_params: int
    corrected: tuple[int, ...]
    hidden: int = 128

    def __post_init__(self) -> None:
        if min(self.n_statistics, self.n_params, self.hidden) < 1 or not self.corrected:
            raise ModelError(f"CorrectionConfig sizes must be positive and some setting corrected, got {self!r}")
        if any(not 0 <= j < self.n_params for j in self.corrected) or len(set(self.corrected)) < len(self.corrected):
            raise ModelError(f"CorrectionConfig corrected indices must be distinct and below n_params, got {self!r}")


class SettingsCorrection(nn.Module):
    """The estimator's settings corrected from a pair's sample-resolution level statistics
    (:func:`dafx_explorer.correction.pair_statistics`): an MLP over the standardized statistics and
    estimate adds a step to each corrected setting, clamped to [0, 1]; it starts at no step."""

    kind = "correction"

    def __init__(self, config: CorrectionConfig) -> None:
        super().__init__()
        self.config = config
        width = config.n_statistics + config.n_params
        self.register_buffer("input_mean", torch.zeros(width))
        self.register_buffer("input_std", torch.ones(width))
        self.net = nn.Sequential(nn.Linear(width, config.hidden), nn.GELU(), nn.Linear(config.hidden, config.hidden),
                                 nn.GELU(), nn.Linear(config.hidden, len(config.corrected)))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, statistics: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Corrected settings (B, n_params) from statistics (B, n_statistics) and estimates (B, n_params)."""
        if statistics.shape[-1] != self.config.n_statistics or estimate.shape[-1] != self.config.n_params:
            raise ModelError(f"SettingsCorrection expects statistics (B, {self.config.n_statistics}) and "
                             f"estimates (B, {self.config.n_params}), got {tuple(statistics.shape)} and "
                             f"{tuple(estimate.shape)}")
        x = (torch.cat([statistics, estimate], dim=1) - self.input_mean) / self.input_std
        corrected = list(self.config.corrected)
        out = estimate.clone()
        out[:, corrected] = torch.clamp(estimate[:, corrected] + self.net(x), 0.0, 1.0)
        return out


# --------------------------------------------------------------------------- persistence

MODEL_KINDS: dict[str, tuple[type[nn.Module], type]] = {
    BetaVAE.kind: (BetaVAE, VAEConfig),
    VQVAE.kind: (VQVAE, VQVAEConfig),
    Controller.kind: (Controller, ControllerConfig),
    SettingsEstimator.kind: (SettingsEstimator, EstimatorConfig),
    SettingsCorrection.kind: (SettingsCorrection, CorrectionConfig),
}
"""Model class and config class for each ``kind`` written in the JSON sidecar."""


def config_path(path: str | os.PathLike) -> Path:
    """JSON sidecar of a weights file: the same path with suffix ``.json``."""
    return Path(path).with_suffix(".json")


def _write_atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def save_model(model: nn.Module, path: str | os.PathLike, *, extra: dict[str, Any] | None = None,
               half: bool = False) -> Path:
    """Write ``model``'s weights to ``path`` (safetensors) and its JSON sidecar beside it.

    Parameters
    ----------
    model : BetaVAE, VQVAE, Controller, SettingsEstimator or SettingsCorrection
    path : path ending in ``.safetensors``
    extra : dict, optional
        JSON-serializable caller data stored under ``"extra"`` (effect name, parameter
        names, feature normalization, training info, …).
    half : bool
        Store floating-point tensors as float16 (half the file size; :func:`load_model`
        gives float32 models either way, with relative weight errors of about 1e-3).

    Returns
    -------
    Path
        The weights file. The sidecar ``path.with_suffix(".json")`` holds
        ``{"kind", "config", "extra"}``.
    """
    path = Path(path)
    kind = getattr(model, "kind", None)
    if kind not in MODEL_KINDS or not isinstance(model, MODEL_KINDS[kind][0]):
        raise ModelError(f"cannot save {type(model).__name__}: expected one of BetaVAE, VQVAE, Controller, "
                         "SettingsEstimator, SettingsCorrection")
    if path.suffix != ".safetensors":
        raise ModelError(f"model path {path} must end in .safetensors")
    meta = {"kind": kind, "config": dataclasses.asdict(model.config), "extra": extra or {}}
    try:
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"extra data for {path.name} is not JSON-serializable: {exc}") from None
    tensors = {name: t.detach().to("cpu", torch.float16 if half and t.is_floating_point() else t.dtype)
               .contiguous() for name, t in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, lambda tmp: save_file(tensors, str(tmp), metadata={"kind": kind}))
    _write_atomic(config_path(path), lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
    return path


def _config_from_json(config_cls: type, data: Any) -> Any:
    """Build a config dataclass from its JSON dict (lists become tuples); ModelError on bad fields."""
    if not isinstance(data, dict):
        raise ModelError(f"'config' must be an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ModelError(f"unknown {config_cls.__name__} fields {unknown}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return config_cls(**values)
    except TypeError as exc:
        raise ModelError(f"bad {config_cls.__name__}: {exc}") from None


def _check_state(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """Raise ModelError unless ``tensors`` has exactly the model's keys, shapes and finite values."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ModelError(f"weights do not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for name, wanted in expected.items():
        tensor = tensors[name]
        if tuple(tensor.shape) != tuple(wanted.shape):
            raise ModelError(f"weights do not match the config: {name} has shape {tuple(tensor.shape)}, "
                             f"config needs {tuple(wanted.shape)}")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelError(f"weights contain NaN or infinite values in {name}")


def load_model(path: str | os.PathLike, *, rebuild_hint: str | None = None) -> tuple[nn.Module, dict]:
    """Load a model written by :func:`save_model`, on the CPU in eval mode.

    Only the JSON sidecar and the safetensors tensors are read; nothing is unpickled or
    executed.

    Parameters
    ----------
    path : path of the ``.safetensors`` weights
    rebuild_hint : str, optional
        Command that rebuilds the file, quoted in error messages.

    Returns
    -------
    (model, meta)
        ``meta`` is the sidecar: ``{"kind", "config", "extra"}``.

    Raises
    ------
    ModelError
        Missing, unreadable, corrupt or mismatched files, or an unknown kind; the one-line
        message names the file and the rebuild command.
    """
    path = Path(path)
    hint = rebuild_hint or DEFAULT_REBUILD_HINT
    sidecar = config_path(path)

    def fail(reason: str) -> ModelError:
        return ModelError(f"cannot load model {path}: {reason}; rebuild it with: {hint}")

    if not path.is_file():
        raise fail("file not found")
    if not sidecar.is_file():
        raise fail(f"its config {sidecar.name} is missing")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"config {sidecar.name} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise fail(f"config {sidecar.name} is not a JSON object")
    kind = meta.get("kind")
    if kind not in MODEL_KINDS:
        raise fail(f"unknown model kind {kind!r} in {sidecar.name} (expected one of {sorted(MODEL_KINDS)})")
    meta.setdefault("extra", {})
    if not isinstance(meta["extra"], dict):
        raise fail(f"'extra' in {sidecar.name} must be a JSON object")
    model_cls, config_cls = MODEL_KINDS[kind]
    try:
        model = model_cls(_config_from_json(config_cls, meta.get("config")))
    except ModelError as exc:
        raise fail(f"bad config in {sidecar.name}: {exc}") from None
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise fail(f"not a readable safetensors file ({exc})") from None
    try:
        _check_state(model, tensors)
    except ModelError as exc:
        raise fail(str(exc)) from None
    model.load_state_dict(tensors)
    model.eval()
    return model, meta


def load_encoder(kind: str = "vae", models_dir: str | os.PathLike | None = None) -> tuple[nn.Module, dict]:
    """Load a shipped encoder (``encoder_vae.safetensors`` or ``encoder_vq.safetensors``).

    Parameters
    ----------
    kind : {"vae", "vq"}
    models_dir : folder, optional
        Defaults to ``settings.get_settings().models_dir``.

    Returns
    -------
    (model, meta) as from :func:`load_model`; ``model.embed(features)`` gives ``(B, 128)``.
    """
    if kind not in ENCODER_FILES:
        raise ModelError(f"unknown encoder kind {kind!r}; expected one of {sorted(ENCODER_FILES)}")
    folder = Path(models_dir) if models_dir is not None else settings.get_settings().models_dir
    path = folder / ENCODER_FILES[kind]
    hint = TRAIN_ENCODER_COMMAND.format(kind=kind)
    model, meta = load_model(path, rebuild_hint=hint)
    expected = (BetaVAE, VQVAE)[kind == "vq"]
    if not isinstance(model, expected):
        raise ModelError(f"cannot load model {path}: it holds a {meta['kind']}, not a {expected.kind}; "
                         f"rebuild it with: {hint}")
    return model, meta


def load_controller(effect_name: str, models_dir: str | os.PathLike | None = None) -> tuple[Controller, dict]:
    """Load the shipped controller of an effect (``controller_{effect_name}.safetensors``).

    Returns
    -------
    (model, meta) as from :func:`load_model`.
    """
    if not isinstance(effect_name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", effect_name):
        raise ModelError(f"bad effect name {effect_name!r} for a controller file: use letters, digits, "
                         f"'_', '-' or '.'")
    folder = Path(models_dir) if models_dir is not None else settings.get_settings().models_dir
    path = folder / f"controller_{effect_name}.safetensors"
    hint = TRAIN_CONTROLLER_COMMAND.format(effect=effect_name)
    model, meta = load_model(path, rebuild_hint=hint)
    if not isinstance(model, Controller):
        raise ModelError(f"cannot load model {path}: it holds a {meta['kind']}, not a controller; "
                         f"rebuild it with: {hint}")
    saved_effect = meta["extra"].get("effect")
    if saved_effect is not None and saved_effect != effect_name:
        raise ModelError(f"cannot load model {path}: it was trained for effect {saved_effect!r}, not "
                         f"{effect_name!r}; rebuild it with: {hint}")
    return model, meta
