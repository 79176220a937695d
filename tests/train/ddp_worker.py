"""Run by tests/train/test_distributed.py under torchrun (1 or 2 CPU processes, gloo).

`engine OUT`: a small batch-norm-free network, three SGD steps through `opendfa.train.loop`;
`detector MANIFEST OUT`: a few steps of `train_detector`; `generator OUT`: a few epochs of
`train_generator` on drawn faces; `mllm DATA LM OUT`: a few DFA-GPT steps of two
micro-batches each on the toy DFA-Instruct folder. The main process writes what the test
compares to OUT/run.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _world() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def engine_run(out: Path) -> None:
    from opendfa.train.loop import Engine, seed_everything

    engine = Engine(progress=False)
    seed_everything(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model = engine.prepare_model(model)
    loader = DataLoader(data, batch_sampler=engine.batch_sampler(len(data), 8, drop_last=True))
    losses = []
    for x, y in loader:
        loss = nn.functional.mse_loss(model(x), y)
        engine.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        losses.append(engine.mean({"loss": float(loss.detach())})["loss"])
    if engine.is_main:
        weights = {k: v.tolist() for k, v in engine.unwrap(model).state_dict().items()}
        result = {"world": _world(), "losses": losses, "weights": weights}
        (out / "run.json").write_text(json.dumps(result) + "\n")


def detector_run(manifest: Path, out: Path) -> None:
    from opendfa.models.detector import DetectorConfig
    from opendfa.train.detector import DetectorTrainConfig, train_detector

    config = DetectorTrainConfig(
        model=DetectorConfig(input_size=64, mask_size=8, embedding_dim=16),
        epochs=2,
        batch_size=8,
        lr=1e-3,
        max_steps_per_epoch=2,
        sbi_prob=0.0,
        train_split="train",
        val_split=None,
        threads=1,
        progress=False,
    )
    result = train_detector(manifest, None, out, config)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        history = [record["train"] for record in result.history]
        (out / "run.json").write_text(json.dumps({"world": _world(), "history": history}) + "\n")


def generator_run(out: Path) -> None:
    import cv2
    import numpy as np

    from opendfa.models.generator import GeneratorConfig
    from opendfa.train.generator import FaceCrops, GeneratorTrainConfig, train_generator

    rng = np.random.default_rng(0)
    images = []
    for _ in range(8):
        image = np.full((32, 32, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        skin = tuple(int(v) for v in rng.integers(120, 240, 3))
        cv2.ellipse(image, (16, 16), (10, 12), 0, 0, 360, skin, -1)
        images.append(image)
    crops = FaceCrops(np.stack(images), [f"t{i}" for i in range(8)], ["high"] * 8, ["x"] * 8)
    config = GeneratorTrainConfig(
        epochs=3, batch_size=4, lr=3e-3, lr_final=3e-3, augmentation=None, prior_copies=0
    )
    model = GeneratorConfig(image_size=32, latent_dim=16, base_channels=8, max_channels=16)
    result = train_generator(crops, config, model, progress=False)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        history = [record["loss"] for record in result.history]
        (out / "run.json").write_text(json.dumps({"world": _world(), "history": history}) + "\n")


def mllm_run(data: Path, lm: Path, out: Path) -> None:
    from opendfa.train.mllm import MLLMTrainConfig, train_mllm

    config = MLLMTrainConfig(
        data=str(data),
        out=str(out),
        lm=str(lm),
        tasks=("DF-D", "DF-C"),
        epochs=1.0,
        batch_size=4,
        grad_accum=2,  # micro-batches: gradients exchanged once per optimizer step
        lr=3e-3,
        projector_lr=3e-3,
        lora_r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        val_records=4,
        device="cpu",
    )
    summary = train_mllm(config, progress=False, log=lambda message: None)
    if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
        losses = [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]
        result = {"world": _world(), "history": losses, "steps": summary["steps"]}
        (out / "run.json").write_text(json.dumps(result) + "\n")


if __name__ == "__main__":
    mode, args = sys.argv[1], [Path(a) for a in sys.argv[2:]]
    {"engine": engine_run, "detector": detector_run, "generator": generator_run}.get(
        mode, mllm_run
    )(*args)
    from opendfa.train.loop import close_distributed

    close_distributed()  # before interpreter shutdown, not left to the exit handlers
