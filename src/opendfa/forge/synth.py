"""Entire face synthesis (EFS): a face of no one, made by one of two generators.

* `vae`: the shipped face VAE (`opendfa.models.generator`), technique `opendfa.vae.<name>`;
* `dcgan`: the DigiFace-1M DCGAN of `gan-face-generate` (`opendfa.models.dcgan`), technique
  `opendfa.dcgan.digiface1m`, used only when its weights are on disk (`find_weights`).

With both available, each sample picks one at random (`generator` in the params). The DCGAN
only samples: z ~ N(0, t^2 I) with t the truncation, drawn with the recorded `z_seed`.

For the VAE, two ways to choose the latent vector, both recorded in the params. Both start from
noise eps ~ N(0, t^2 I) (t is the truncation) drawn with a recorded seed, which the generator
maps into its sampling prior (a Gaussian fitted to its training faces' codes, m + L eps):

* `sample`: z = m + L eps, a face drawn from the prior.
* `encode`: the target's aligned crop is encoded to its posterior mean mu, then moved towards a
  random code, z = m + sqrt(1 - s^2) (mu - m) + s L eps, so the result keeps the target's pose,
  framing and colouring but is a plausible person who does not exist (s is the strength).

The generators make 64 px crops in the canonical frame of `opendfa.faces.align_face` (margin
`crop_margin` in the params: the VAE's own, 0 for the DCGAN); they are enlarged to `output_size`
with a filter drawn from `warp.RESAMPLING` (nearest, linear, cubic, Lanczos; recorded as
`interpolation`), which adds no detail that was not generated, or shrunk with area averaging.
The whole image is synthetic, so the mask is all ones.
"""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import torch

from opendfa.faces import REGION_NAMES, align_face
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.warp import RESAMPLING
from opendfa.models import dcgan
from opendfa.models.generator import SHIPPED, FaceVAE, images_to_tensor, read_info
from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS

MODES = ("sample", "encode")
GENERATORS = ("vae", "dcgan")
DEFAULT_OUTPUT_SIZE = 256


@functools.lru_cache(maxsize=1)
def cached_dcgan() -> dcgan.DCGANGenerator | None:
    """The DCGAN, loaded once per process, or None when its weights are not on disk."""
    path = dcgan.find_weights()
    return dcgan.DCGANGenerator.load(path) if path is not None else None


def available_generators() -> tuple[str, ...]:
    """`GENERATORS` whose weights are here (the VAE ships with the package)."""
    return GENERATORS if cached_dcgan() is not None else ("vae",)


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


def decode_to_image(
    generator: FaceVAE | dcgan.DCGANGenerator,
    z: torch.Tensor,
    output_size: int,
    interpolation: str = "cubic",
) -> np.ndarray:
    """G(z) for one latent (1, D) as an RGB uint8 `output_size` square; enlarged with the
    `RESAMPLING` filter `interpolation`, shrunk with area averaging."""
    with torch.no_grad():
        decoded = generator.decode(z) if isinstance(generator, FaceVAE) else generator(z)
    crop = decoded[0].permute(1, 2, 0).numpy().astype(np.float32)
    if output_size != crop.shape[0]:
        shrink = output_size < crop.shape[0]
        flag = cv2.INTER_AREA if shrink else RESAMPLING[interpolation]
        crop = cv2.resize(crop, (output_size, output_size), interpolation=flag)
    return np.clip(np.round(crop * 255.0), 0, 255).astype(np.uint8)


def _prior_kind(generator: FaceVAE) -> str:
    eye = torch.eye(generator.latent_dim)
    standard = torch.equal(generator.latent_scale, eye) and not generator.latent_mean.any()
    return "standard_normal" if standard else "fitted_gaussian"


def _interpolation(output_size: int, crop_size: int, resample: str) -> str:
    if output_size == crop_size:
        return "none"
    return resample if output_size > crop_size else "area"


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
    generator: str | None = None,
    resample: str | None = None,
) -> Forgery:
    """A whole synthetic face image; `source` is ignored (nobody's face is taken).

    `generator` is "vae", "dcgan" or None (one of those available at random; the VAE when a
    `model` path is given or the mode is "encode"). `mode` is "sample", "encode" (VAE only)
    or "random". `resample` (a `warp.RESAMPLING` filter for enlarging) is drawn at random
    when None.
    """
    if mode not in (*MODES, "random"):
        raise ForgeryError(f"unknown synthesis mode {mode!r}; expected sample, encode or random")
    if not 0.0 < truncation <= 2.0:
        raise ForgeryError(f"truncation must be in (0, 2], got {truncation}")
    if not 0.0 <= strength <= 1.0:
        raise ForgeryError(f"strength must be in [0, 1], got {strength}")
    if not 16 <= output_size <= 2048:
        raise ForgeryError(f"output_size must be in [16, 2048], got {output_size}")
    if generator is None:
        choices = ("vae",) if model or mode == "encode" else available_generators()
        generator = str(rng.choice(choices)) if len(choices) > 1 else choices[0]
    if generator not in GENERATORS:
        raise ForgeryError(f"unknown generator {generator!r}; expected vae or dcgan")
    resample = resample or str(rng.choice(list(RESAMPLING)))
    if resample not in RESAMPLING:
        raise ForgeryError(f"unknown resampling filter {resample!r}")
    if generator == "dcgan":
        return _dcgan_face(target, rng, mode, truncation, output_size, resample)
    path = str(Path(model).with_suffix(".safetensors")) if model else str(SHIPPED)
    vae = cached_generator(path)
    name, sha256 = _generator_name(path)

    chosen = str(rng.choice(MODES)) if mode == "random" else mode
    z_seed = int(rng.integers(0, 2**31 - 1))
    eps = vae.sample_noise(1, np.random.default_rng(z_seed), truncation)
    params: dict = {"mode": chosen, "truncation": truncation, "z_seed": z_seed}
    with torch.no_grad():
        if chosen == "encode":
            size, margin = vae.image_size, vae.config.margin
            crop = align_face(target.rgb, target.face, size=size, margin=margin).crop
            mu, _ = vae.encode(images_to_tensor(crop))
            z = vae.perturb(mu, eps, strength)
            params["strength"] = strength
        else:
            z = vae.prior_latents(eps)
    interpolation = _interpolation(output_size, vae.image_size, resample)
    image = decode_to_image(vae, z, output_size, interpolation)
    params.update(
        output_size=output_size,
        generator_kind="vae",
        generator=name,
        generator_sha256=sha256[:16],
        prior=_prior_kind(vae),
        crop_size=vae.image_size,
        crop_margin=vae.config.margin,
        interpolation=interpolation,
    )
    return _synthetic(target, image, f"opendfa.vae.{name}", params)


def _dcgan_face(
    target: FaceImage,
    rng: np.random.Generator,
    mode: str,
    truncation: float,
    output_size: int,
    resample: str,
) -> Forgery:
    if mode not in ("sample", "random"):
        raise ForgeryError("the DCGAN has no encoder: only mode 'sample' (or 'random')")
    model = cached_dcgan()
    if model is None:
        raise ForgeryError(
            "DCGAN weights not found: run scripts/fetch_dcgan.py "
            "(opendfa.models.dcgan.ensure_weights)"
        )
    z_seed = int(rng.integers(0, 2**31 - 1))
    z = model.sample_noise(1, np.random.default_rng(z_seed), truncation)
    interpolation = _interpolation(output_size, dcgan.IMAGE_SIZE, resample)
    image = decode_to_image(model, z, output_size, interpolation)
    params = {
        "mode": "sample",
        "truncation": truncation,
        "z_seed": z_seed,
        "output_size": output_size,
        "generator_kind": "dcgan",
        "generator": dcgan.NAME,
        "prior": "standard_normal",
        "crop_size": dcgan.IMAGE_SIZE,
        "crop_margin": dcgan.CROP_MARGIN,
        "interpolation": interpolation,
    }
    return _synthetic(target, image, "opendfa.dcgan.digiface1m", params)


def _synthetic(target: FaceImage, image: np.ndarray, technique: str, params: dict) -> Forgery:
    size = image.shape[0]
    return Forgery(
        image=image,
        mask=np.ones((size, size), dtype=np.float32),
        category=ENTIRE_FACE_SYNTHESIS,
        technique=technique,
        target_identity=target.identity,
        source_identity=None,
        params=params,
        regions=list(REGION_NAMES),
    )
