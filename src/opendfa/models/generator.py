"""A small convolutional VAE over aligned face crops: encoder E and generator G.

E maps an aligned RGB crop in [0, 1] to the mean and log-variance of a Gaussian posterior over
a `latent_dim` vector; G maps a latent vector back to a crop. Both are plain convolutions with
GroupNorm (no batch statistics), so outputs do not depend on the batch and G is differentiable
end to end: the adversarial hard-fake mining of the detector runs PGD on z through G.

The crops are `opendfa.faces.align_face(image, face, size=image_size, margin=margin)`, so a
generated image lies in the same canonical frame as every aligned face in the project.

Weights are stored as safetensors next to a JSON file with the config, training facts and
the weights' sha256 (`opendfa.models.folder`); nothing is ever pickled.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from opendfa.models.folder import checked_sha256, read_config, save_model_files, save_state

FORMAT = "opendfa.generator/1"
SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "models" / "generator-v1.safetensors"


@dataclass
class GeneratorConfig:
    """Shape of the VAE; the defaults are the shipped model's."""

    image_size: int = 64  # side of the aligned crops (a power of two, 32 to 256)
    latent_dim: int = 128
    base_channels: int = 16  # channels after the first stage; doubled per stage up to max
    max_channels: int = 96
    groups: int = 8  # GroupNorm groups
    margin: float = 0.25  # align_face margin of the crops it models

    def __post_init__(self) -> None:
        stages = math.log2(self.image_size / 4)
        if self.image_size < 32 or self.image_size > 256 or stages != int(stages):
            raise ValueError(
                f"image_size must be a power of two in [32, 256], got {self.image_size}"
            )
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {self.latent_dim}")
        for width in self.channels:
            if width % self.groups:
                raise ValueError(f"channels {self.channels} must divide into {self.groups} groups")

    @property
    def channels(self) -> list[int]:
        """Channels at 1/2, 1/4, ... 4 px of the input side (encoder order)."""
        count = int(math.log2(self.image_size / 4))
        return [min(self.base_channels * 2**i, self.max_channels) for i in range(count)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GeneratorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def _block(channels_in: int, channels_out: int, groups: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1),
        nn.GroupNorm(groups, channels_out),
        nn.SiLU(),
    )


class FaceVAE(nn.Module):
    """E: x (N, 3, S, S) in [0, 1] -> (mu, logvar); G: z (N, latent_dim) -> x in [0, 1]."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GeneratorConfig()
        widths, groups = config.channels, config.groups
        layers: list[nn.Module] = [_block(3, widths[0], groups)]
        previous = widths[0]
        for width in widths:  # each stage halves the side: S -> 4
            layers += [
                nn.Conv2d(previous, width, 4, stride=2, padding=1),
                nn.GroupNorm(groups, width),
                nn.SiLU(),
                _block(width, width, groups),
            ]
            previous = width
        self.encoder = nn.Sequential(*layers)
        flat = widths[-1] * 16
        self.to_posterior = nn.Linear(flat, 2 * config.latent_dim)
        with torch.no_grad():  # start almost deterministic: posterior std e^-2.5, about 0.08
            self.to_posterior.bias[config.latent_dim :].fill_(-5.0)

        self.from_latent = nn.Linear(config.latent_dim, flat)
        layers = []
        for width in reversed(widths):  # 4 -> S
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                _block(previous, width, groups),
                _block(width, width, groups),
            ]
            previous = width
        layers.append(nn.Conv2d(previous, 3, 3, padding=1))
        self.decoder = nn.Sequential(*layers)
        # The sampling prior z = latent_mean + latent_scale @ eps, eps ~ N(0, I): the standard
        # normal until `fit_prior` replaces it by a Gaussian fitted to the data's latent codes.
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_scale", torch.eye(config.latent_dim))

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def image_size(self) -> int:
        return self.config.image_size

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of crops x (N, 3, S, S) in [0, 1]."""
        self._check_images(x)
        features = self.encoder(x * 2.0 - 1.0).flatten(1)
        mu, logvar = self.to_posterior(features).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Crops (N, 3, S, S) in [0, 1] for latents z (N, latent_dim); differentiable in z."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected z of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        side = 4
        features = self.from_latent(z).view(z.shape[0], -1, side, side)
        return torch.sigmoid(self.decoder(features))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: reconstruction from a reparameterised sample, mu and logvar."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)) through the posterior mean (deterministic)."""
        return self.decode(self.encode(x)[0])

    def sample_noise(
        self, n: int, rng: np.random.Generator, truncation: float = 1.0
    ) -> torch.Tensor:
        """eps ~ N(0, truncation^2 I) drawn from a numpy generator (reproducible anywhere)."""
        eps = rng.standard_normal((n, self.latent_dim)) * truncation
        return torch.from_numpy(eps.astype(np.float32)).to(self.latent_mean.device)

    def prior_latents(self, eps: torch.Tensor) -> torch.Tensor:
        """Map standard-normal noise to the sampling prior: latent_mean + latent_scale @ eps."""
        return self.latent_mean + eps @ self.latent_scale.T

    def sample_latents(
        self, n: int, rng: np.random.Generator, truncation: float = 1.0
    ) -> torch.Tensor:
        """n latents from the sampling prior; `truncation` < 1 pulls them towards its mean."""
        return self.prior_latents(self.sample_noise(n, rng, truncation))

    def perturb(self, mu: torch.Tensor, eps: torch.Tensor, strength: float) -> torch.Tensor:
        """Move a face's code towards a random one: m + sqrt(1 - s^2) (mu - m) + s scale @ eps.

        s = 0 keeps mu, s = 1 is an independent prior sample; in between the result keeps some
        of the face (pose, colouring) and becomes someone else, at the prior's own spread.
        """
        keep = math.sqrt(max(0.0, 1.0 - strength**2))
        offset = keep * (mu - self.latent_mean) + strength * eps @ self.latent_scale.T
        return self.latent_mean + offset

    @torch.no_grad()
    def fit_prior(
        self, codes: torch.Tensor, weights: torch.Tensor | None = None, shrinkage: float = 0.1
    ) -> None:
        """Fit the sampling prior to latent codes (N, D): their mean and a shrunk covariance.

        Ex-post density estimation (Ghosh et al., 2020): a small VAE's aggregate posterior is
        far from N(0, I), and sampling where the data's codes lie gives much cleaner faces.
        `weights` (N,) weigh the codes; the covariance is shrunk towards its mean variance so
        it stays positive definite.
        """
        codes = codes.double()
        if weights is None:
            weights = torch.ones(len(codes), dtype=torch.float64)
        weights = weights.double() / weights.sum()
        mean = weights @ codes
        centred = codes - mean
        correction = 1.0 - float((weights**2).sum())  # unbiased for weighted samples
        covariance = (centred * weights[:, None]).T @ centred / max(correction, 1e-12)
        average = covariance.diagonal().mean()
        eye = torch.eye(self.latent_dim, dtype=torch.float64)
        covariance = (1 - shrinkage) * covariance + shrinkage * average * eye
        self.latent_mean.copy_(mean.float())
        self.latent_scale.copy_(torch.linalg.cholesky(covariance).float())

    @torch.no_grad()
    def sample(self, n: int, rng: np.random.Generator, truncation: float = 1.0) -> torch.Tensor:
        """n generated crops (n, 3, S, S) in [0, 1]; `truncation` < 1 trades variety for quality."""
        return self.decode(self.sample_latents(n, rng, truncation))

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write `path` (.safetensors) and the config + `metadata` as JSON beside it."""
        path = Path(path).with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "format": FORMAT,
            "config": asdict(self.config),
            "parameters": sum(p.numel() for p in self.parameters()),
        }
        info = {**info, **{k: v for k, v in (metadata or {}).items() if k not in info}}
        save_model_files(
            path, lambda to: save_state(self, to, FORMAT), path.with_suffix(".json"), info
        )
        return path

    @classmethod
    def load(cls, path: str | Path, *, verify: bool = True) -> FaceVAE:
        """Load weights and config written by `save`, in eval mode on the CPU."""
        path = Path(path).with_suffix(".safetensors")
        info = read_info(path)
        if verify:
            checked_sha256(path, info)
        model = cls(GeneratorConfig.from_dict(info["config"]))
        model.load_state_dict(load_file(str(path)))
        return model.eval()

    def _check_images(self, x: torch.Tensor) -> None:
        size = self.config.image_size
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != size or x.shape[3] != size:
            raise ValueError(
                f"expected crops of shape (N, 3, {size}, {size}), got {tuple(x.shape)}"
            )


def read_info(path: str | Path) -> dict[str, Any]:
    """The JSON beside a generator's weights (config, training facts, sha256)."""
    info_path = Path(path).with_suffix(".json")
    try:
        info = read_config(info_path, "generator")
    except FileNotFoundError:
        raise FileNotFoundError(f"generator config not found: {info_path}") from None
    if info.get("format") != FORMAT:
        raise ValueError(f"not an OpenDFA generator config ({info_path})")
    return info


def load_generator(path: str | Path | None = None) -> FaceVAE:
    """The shipped generator (`assets/models/generator-v1`) or the one at `path`."""
    return FaceVAE.load(path or SHIPPED)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) or (H, W, 3) RGB -> float (N, 3, H, W) in [0, 1]."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] != 3:
        raise ValueError(f"expected uint8 RGB images (N, H, W, 3), got {array.dtype} {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).float() / 255.0


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, H, W) in [0, 1] -> uint8 (N, H, W, 3) RGB, rounded."""
    array = x.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
    return np.round(array * 255.0).astype(np.uint8)
