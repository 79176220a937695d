"""Train the shipped face generator (generator-v1) reproducibly from the gathered real faces.

    .venv/bin/python scripts/gather_real_faces.py      # once: .cache/real-faces
    .venv/bin/python scripts/train_generator.py        # about 13 minutes on one CPU core

Writes src/opendfa/assets/models/generator-v1.{safetensors,json} (weights; config and training
facts), the model card GENERATOR_CARD.md beside them, and docs/generator_samples.png (samples,
and reconstructions of the public-domain faces only). The seed is fixed; a checkpoint in
.cache/generator/ lets an interrupted run resume where it stopped (`--fresh` ignores it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch

from opendfa.models.generator import FaceVAE, GeneratorConfig, images_to_tensor, tensor_to_images
from opendfa.train.generator import (
    FaceCrops,
    GeneratorTrainConfig,
    evaluate_generator,
    prepare_crops,
    train_generator,
)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "src" / "opendfa" / "assets" / "models"
FACES = ROOT / ".cache" / "real-faces"
PUBLIC_DOMAIN = ("eileen-collins", "grace-hopper")
MAX_WEIGHT_BYTES = 5 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=FACES)
    parser.add_argument("--out", type=Path, default=MODELS / "generator-v1.safetensors")
    parser.add_argument("--grid", type=Path, default=ROOT / "docs" / "generator_samples.png")
    parser.add_argument("--epochs", type=int, default=GeneratorTrainConfig.epochs)
    parser.add_argument("--size", type=int, default=GeneratorConfig.image_size)
    # One thread, as in the shipped run: on a busy 2-core machine two OpenMP threads wait on
    # each other and train this small model many times slower.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kl-weight", type=float, default=GeneratorTrainConfig.kl_weight)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / ".cache" / "generator" / "ckpt")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--no-card", action="store_true", help="skip the model card")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    if not (args.faces / "faces.json").exists():
        script = ROOT / "scripts" / "gather_real_faces.py"
        subprocess.run([sys.executable, str(script), "--out", str(args.faces)], check=True)
    index = json.loads((args.faces / "faces.json").read_text())
    crops = prepare_crops(args.faces, size=args.size, margin=GeneratorConfig.margin)
    _log(f"{len(crops)} aligned crops of {len(set(crops.identities))} identities")

    config = GeneratorTrainConfig(
        epochs=args.epochs, threads=args.threads, kl_weight=args.kl_weight
    )
    tag = f"{args.size}-{args.epochs}-kl{args.kl_weight:g}".replace(".", "p")
    checkpoint = args.checkpoint.with_name(f"{args.checkpoint.name}-{tag}")
    if args.fresh:
        for suffix in (".safetensors", ".json"):
            checkpoint.with_suffix(suffix).unlink(missing_ok=True)
    result = train_generator(crops, config, checkpoint=checkpoint)
    metrics = evaluate_generator(result.model, crops)
    metrics["samples_with_detected_face"] = detectable_fraction(result.model)
    _log(f"trained {config.epochs} epochs ({result.seconds:.0f} s of training); {metrics}")

    facts = {
        "name": "generator-v1",
        "trained": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "data": {
            "faces_index_schema": index.get("schema"),
            "photos_gathered": len(index["faces"]),
            "crops_used": len(crops),
            "identities": len(set(crops.identities)),
            "by_source": dict(Counter(crops.sources)),
            "by_quality": dict(Counter(crops.qualities)),
            "skipped_no_face": len(index["faces"]) - len(crops),
        },
        "training": {
            **asdict(config),
            "epochs_done": len(result.history),
            "seconds": round(result.seconds, 1),
            "resumed_from_epoch": result.resumed_from,
            "torch": torch.__version__,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        },
        "final_losses": result.final,
        "metrics": metrics,
    }
    path = result.model.save(args.out, metadata=facts)
    size = path.stat().st_size
    _log(f"wrote {path} ({size / 1e6:.2f} MB) and {path.with_suffix('.json').name}")
    if size > MAX_WEIGHT_BYTES:
        _log(f"warning: weights are {size} bytes, over the {MAX_WEIGHT_BYTES} byte budget")
    grid = sample_grid(result.model, crops)
    args.grid.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(
        str(args.grid), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    _log(f"wrote {args.grid}")
    if not args.no_card:
        card = path.parent / "GENERATOR_CARD.md"
        card.write_text(model_card(json.loads(path.with_suffix(".json").read_text())))
        _log(f"wrote {card}")
    return 0


def detectable_fraction(model: FaceVAE, count: int = 32, output_size: int = 256) -> float:
    """Share of prior samples (bicubic to `output_size`) in which FaceDetector finds a face."""
    from opendfa.faces import FaceDetector

    with torch.no_grad():
        crops = model.sample(count, np.random.default_rng(7)).permute(0, 2, 3, 1).numpy()
    found = 0
    with FaceDetector() as detector:
        for crop in crops:
            big = cv2.resize(crop, (output_size, output_size), interpolation=cv2.INTER_CUBIC)
            image = np.clip(np.round(big * 255), 0, 255).astype(np.uint8)
            found += bool(detector.detect(image))
    return round(found / count, 4)


def sample_grid(model: FaceVAE, crops: FaceCrops, columns: int = 8, zoom: int = 2) -> np.ndarray:
    """Rows: public-domain faces and their reconstructions, then prior samples (t = 1, 0.7)."""
    rng = np.random.default_rng(2024)
    with torch.no_grad():
        samples = [model.sample(columns, rng, truncation=t) for t in (1.0, 1.0, 0.7)]
        pd = [i for i, name in enumerate(crops.identities) if name in PUBLIC_DOMAIN]
        real = images_to_tensor(crops.images[pd]) if pd else torch.zeros(0, 3, 1, 1)
        recon = model.reconstruct(real) if pd else real
    pairs = [torch.cat([real[i : i + 1], recon[i : i + 1]]) for i in range(len(pd))]
    first = torch.cat([*pairs, samples[0][: columns - 2 * len(pd)]]) if pd else samples[0]
    rows = [first, samples[1], samples[2]]
    tiles = [np.hstack(list(tensor_to_images(row))) for row in rows]
    grid = np.vstack(tiles)
    return cv2.resize(grid, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def model_card(info: dict) -> str:
    data, training, metrics = info["data"], info["training"], info["metrics"]
    final, config = info["final_losses"], info["config"]
    widths = GeneratorConfig.from_dict(config).channels
    size = config["image_size"]
    sources = "\n".join(f"| {k} | {v} |" for k, v in data["by_source"].items())
    quality = ", ".join(f"{v} {k}" for k, v in data["by_quality"].items())
    detected = metrics["samples_with_detected_face"]
    threads, machine = training["threads"], training["machine"]
    return f"""# Model card: generator-v1 (OpenDFA face VAE)

A deliberately small convolutional variational autoencoder over aligned face crops. It exists so
OpenDFA can (1) make `entire_face_synthesis` fakes offline (`opendfa.forge.synth`) and (2) run
adversarial hard-fake mining in a latent space: encoder E gives z for a real face, generator G
is differentiable end to end, and PGD on z searches for fakes the detector misses.

**It is tiny and its faces are blurry.** Trained on about a hundred faces, it makes soft,
low-detail {size} x {size} faces that no person would take for a photograph. It stands in for a
real face generator (StyleGAN, diffusion), which the offline machines here cannot have.

## Architecture
- Input/output: RGB in [0, 1], {size} x {size}, in the frame of
  `opendfa.faces.align_face(image, face, size={size}, margin={config["margin"]})`.
- Encoder: conv stem, {len(widths)} stride-2 stages of {"/".join(map(str, widths))} channels
  (GroupNorm + SiLU), linear to the mean and log-variance of a {config["latent_dim"]}-d Gaussian.
- Decoder: linear to 4 x 4 features, nearest upsampling + conv blocks, sigmoid output.
- Sampling prior: a Gaussian fitted to the latent codes of the training crops and 8 augmented
  copies of each (ex-post density estimation, Ghosh et al. 2020; low-quality crops weigh
  {training["prior_low_quality_weight"]}). With so little data the codes lie far from N(0, I),
  and sampling where they lie gives much cleaner faces. `FaceVAE.sample` still draws
  eps ~ N(0, I) and maps it through the fitted mean and Cholesky factor.
- {info["parameters"]:,} parameters, float32 safetensors,
  sha256 `{info["weights_sha256"]}`.

## Data
Gathered by `scripts/gather_real_faces.py` from files that ship inside packages (nothing is
downloaded at run time): {data["photos_gathered"]} photos, of which {data["crops_used"]} gave
aligned crops ({data["identities"]} identities); in the other {data["skipped_no_face"]}, tight
LFW crops, the detector could not confirm a face.

| source | crops |
| --- | --- |
{sources}

Quality flags: {quality}. The LFW faces are grey 25 x 25 originals upscaled to 128 px; their
aligned crops reach past the original photo, and the losses ignore those pixels. The LFW and
group-photo faces come without names: each counts as its own identity, though LFW repeats some
people. The data skew young, female and light-skinned (the npm demo photos), and so does the
generator. Only the two bundled portraits are public domain, so `docs/generator_samples.png`
shows reconstructions of those two only: its first row holds each public-domain face followed
by its reconstruction, then prior samples; the second row prior samples; the third prior
samples with truncation 0.7 (all at 2x, nearest-neighbour zoom).

## Training
Adam, lr {training["lr"]} with cosine decay to {training["lr_final"]}, batch
{training["batch_size"]}, {training["epochs_done"]} epochs, seed {training["seed"]},
{threads} CPU thread{"s" if threads != 1 else ""}. Loss: L1 + {training["gradient_weight"]} x
multi-scale gradient L1 + {training["ssim_weight"]} x (1 - SSIM), all masked to real pixels, +
KL at {training["kl_weight"]} per pixel value, warmed up linearly over
{training["kl_warmup_epochs"]} epochs. Augmentation: flips, colour jitter, small
rotation/scale/shift. Training took {training["seconds"]:.0f} s on a shared 2-core {machine}
machine (torch {training["torch"]}). Reproduce with
`.venv/bin/python scripts/train_generator.py --fresh`.

## Metrics (on the training crops; at this size there is no held-out set)
| metric | value |
| --- | --- |
| final epoch loss | {final.get("loss")} |
| final epoch L1 (augmented, sampled z) | {final.get("l1")} |
| final epoch KL (nats) | {final.get("kl")} |
| reconstruction L1 (posterior mean) | {metrics["recon_l1"]} |
| reconstruction SSIM | {metrics["recon_ssim"]} |
| reconstruction PSNR (dB) | {metrics["recon_psnr_db"]} |
| prior sample to nearest training crop, mean L1 | {metrics["sample_nearest_l1"]} |
| training crop to nearest other training crop, mean L1 | {metrics["data_nearest_l1"]} |
| mean L1 between prior samples | {metrics["sample_pairwise_l1"]} |
| prior samples (256 px) where FaceDetector finds a face | {detected:.0%} |

## Known limits
- Blurry, low-detail faces; hair and background are smears. Detectors learn to spot them
  easily: use these fakes for plumbing, latent-space mining and augmentation, not as a
  benchmark of entire-face synthesis.
- Trained on {data["crops_used"]} faces: prior samples are blends of the training faces. They
  lie about as far from their nearest training crop as training crops lie from each other
  (table above), so they are not copies, but they are not very varied either: many share the
  same dark hair framing, and some are grey (the LFW part of the data).
- MediaPipe's detector finds a face in only {detected:.0%} of prior samples at 256 px, so many
  of these fakes are "no face" to the analysis pipeline; give them to a detector as aligned
  crops (they are already in the `align_face` frame) rather than through face detection.
- Upsampling to larger outputs (`synth` uses bicubic) adds no detail.
- Not for making images of real people, nor for any identity-related use.
"""


def _log(message: str) -> None:
    print(f"train_generator: {message}", file=sys.stderr)


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    _log(f"done in {time.perf_counter() - started:.0f} s")
    sys.exit(code)
