"""Entire face synthesis (EFS): a face of no one, made by the shipped face VAE.

Two ways to choose the latent vector, both recorded in the forgery's params. Both start from
noise eps ~ N(0, t^2 I) (t is the truncation) drawn with a recorded seed, which the generator
maps into its sampling prior (a Gaussian fitted to its training faces' codes, m + L eps):

* `sample`: z = m + L eps, a face drawn from the prior.
* `encode`: the target's aligned crop is encoded to its posterior mean mu, then moved towards a
  random code, z = m + sqrt(1 - s^2) (mu - m) + s L eps, so the result keeps the target's pose,
  framing and colouring but is a plausible person who does not exist (s is the strength).

The generator makes `image_size` crops (64 px for generator-v1) in the canonical frame of
`opendfa.faces.align_face`; they are resized to `output_size` with bicubic interpolation, which
adds no detail that was not generated. The whole image is synthetic, so the mask is all ones.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import torch

from opendfa.faces import REGION_NAMES, align_face
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.models.generator import SHIPPED, FaceVAE, images_to_tensor, read_info
from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS

MODES = ("sample", "encode")
DEFAULT_OUTPUT_SIZE = 256


@functools.lru_cache(maxsize=4)
def cached_generator(path: str = str(SHIPPED)) -> FaceVAE:
    """The generator at `path`, loaded once per process (shared by every call)."""
    if not Path(path).exists():
        raise ForgeryError(f"face generator weights not found: {path}")
    return FaceVAE.load(path)


@functools.lru_cache(maxsize=4)
def _generator_name(path: str) -> tuple[str, str]:
    info = read_info(path)
    return str(info.get("name", Path(path).stem)), str(info.get("weights_sha256", ""))


def decode_to_image(generator: FaceVAE, z: torch.Tensor, output_size: int) -> np.ndarray:
    """G(z) for one latent (1, D) as an RGB uint8 `output_size` square (bicubic or area)."""
    with torch.no_grad():
        crop = generator.decode(z)[0].permute(1, 2, 0).numpy().astype(np.float32)
    if output_size != crop.shape[0]:
        shrink = output_size < crop.shape[0]
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
        crop = cv2.resize(crop, (output_size, output_size), interpolation=interpolation)
    return np.clip(np.round(crop * 255.0), 0, 255).astype(np.uint8)


def _prior_kind(generator: FaceVAE) -> str:
    eye = torch.eye(generator.latent_dim)
    standard = torch.equal(generator.latent_scale, eye) and not generator.latent_mean.any()
    return "standard_normal" if standard else "fitted_gaussian"


def _interpolation(output_size: int, crop_size: int) -> str:
    if output_size == crop_size:
        return "none"
    return "bicubic" if output_size > crop_size else "area"


@register_forgery("entire_face_synthesis", ENTIRE_FACE_SYNTHESIS)
def entire_face_synthesis(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    mode: str = "random",
    truncation: float = 0.8,
    strength: float = 0.7,
    output_size: int = DEFAULT_OUTPUT_SIZE,
    model: str | None = None,
) -> Forgery:
    """A whole synthetic face image; `source` is ignored (nobody's face is taken).

    `mode` is "sample", "encode" or "random" (one of the two, chosen by `rng`).
    """
    if mode not in (*MODES, "random"):
        raise ForgeryError(f"unknown synthesis mode {mode!r}; expected sample, encode or random")
    if not 0.0 < truncation <= 2.0:
        raise ForgeryError(f"truncation must be in (0, 2], got {truncation}")
    if not 0.0 <= strength <= 1.0:
        raise ForgeryError(f"strength must be in [0, 1], got {strength}")
    if not 16 <= output_size <= 2048:
        raise ForgeryError(f"output_size must be in [16, 2048], got {output_size}")
    path = str(Path(model).with_suffix(".safetensors")) if model else str(SHIPPED)
    generator = cached_generator(path)
    name, sha256 = _generator_name(path)

    chosen = str(rng.choice(MODES)) if mode == "random" else mode
    z_seed = int(rng.integers(0, 2**31 - 1))
    eps = generator.sample_noise(1, np.random.default_rng(z_seed), truncation)
    params: dict = {"mode": chosen, "truncation": truncation, "z_seed": z_seed}
    with torch.no_grad():
        if chosen == "encode":
            size, margin = generator.image_size, generator.config.margin
            crop = align_face(target.rgb, target.face, size=size, margin=margin).crop
            mu, _ = generator.encode(images_to_tensor(crop))
            z = generator.perturb(mu, eps, strength)
            params["strength"] = strength
        else:
            z = generator.prior_latents(eps)
    image = decode_to_image(generator, z, output_size)
    params.update(
        output_size=output_size,
        generator=name,
        generator_sha256=sha256[:16],
        prior=_prior_kind(generator),
        crop_size=generator.image_size,
        crop_margin=generator.config.margin,
        interpolation=_interpolation(output_size, generator.image_size),
    )
    return Forgery(
        image=image,
        mask=np.ones((output_size, output_size), dtype=np.float32),
        category=ENTIRE_FACE_SYNTHESIS,
        technique=f"opendfa.vae.{name}",
        target_identity=target.identity,
        source_identity=None,
        params=params,
        regions=list(REGION_NAMES),
    )
