"""Training of the multi-task detector (`opendfa train detector`).

From manifests (synthesized and/or imported) to a saved, calibrated detector folder:

- losses per head: BCE real/fake (class-balanced), CE category, mask BCE + Dice (samples whose
  mask is known: reals, all-zero, and fakes with masks), region BCE on (mask ∩ region) coverage;
- online SBI on aligned real crops and mirror flips (`opendfa.train.data`);
- optional adversarial hard fakes x' of each batch's reals, mined in a generator's latent
  space (`opendfa.train.adversarial`): the `constant` schedule and the CE phases of
  `alternating` add the paper's term to the multi-task loss, the metric phases optimise the
  contrastive term alone. x' train only the real/fake logit and the embedding (a decoded crop
  is generated everywhere, so it has no honest mask, region or family);
- AdamW, or SAM around AdamW; linear warm-up then cosine or linear decay;
- seeded everything; early stopping on validation AUC; the best model saved with
  `save_detector` at each improvement; a resumable state (weights, optimizer moments, counters)
  in `out/train-state/` as safetensors + JSON, never pickle; one JSON line per epoch in
  `out/log.jsonl`;
- temperature scaling fitted on the validation set, with ECE before and after.

The loop runs on the one training engine (`opendfa.train.loop`, Hugging Face accelerate): the
same code trains on a CPU, a GPU, or several processes (`accelerate launch` / `torchrun`),
each process taking its share of every global batch.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from opendfa.data.dataset import FaceForgeryDataset
from opendfa.data.manifest import Manifest
from opendfa.models.detector import (
    WEIGHTS_FILE,
    DetectorOutputs,
    MultiTaskDetector,
    load_detector,
    save_detector,
)
from opendfa.train import checkpoint
from opendfa.train.adversarial import (
    PHASE_JOINT,
    PHASE_METRIC,
    LatentGenerator,
    adversarial_loss,
    mine_hard_fakes,
)
from opendfa.train.calibration import expected_calibration_error, fit_temperature
from opendfa.train.configs import DetectorTrainConfig
from opendfa.train.data import DetectorItems, batch_targets, class_weights, load_crops
from opendfa.train.evaluate import evaluate_detector
from opendfa.train.loop import EarlyStopping, Engine, lr_factor, seed_everything
from opendfa.train.losses import DetectorTargets, multitask_loss
from opendfa.train.sam import SAM, frozen_batchnorm_stats

STATE_DIR = "train-state"
STATE_STEM = "state"  # train-state/state.safetensors + state.json
LOG_FILE = "log.jsonl"


@dataclass
class DetectorTrainResult:
    folder: Path
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_auc: float | None
    temperature: float
    metrics: dict[str, Any]
    stopped_early: bool
    seconds: float


def _crops(
    manifest: str | Path | Manifest, split: str | None, config: DetectorTrainConfig
) -> FaceForgeryDataset:
    return load_crops(
        manifest,
        split,
        size=config.model.input_size,
        margin=config.model.crop_margin,
        cache_dir=config.cache_dir,
    )


# ----------------------------------------------------------------------------- optimisation


def _optimizer(model: nn.Module, config: DetectorTrainConfig) -> torch.optim.Optimizer | SAM:
    """AdamW (inside SAM when asked): no weight decay on biases and norms; the randomly
    initialised heads learn `head_lr_scale` times faster than the pretrained backbone."""
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            key = (name.startswith("backbone."), param.ndim <= 1)
            groups.setdefault(key, []).append(param)
    base = torch.optim.AdamW(
        [
            {
                "params": params,
                "weight_decay": 0.0 if no_decay else config.weight_decay,
                "lr_scale": 1.0 if in_backbone else config.head_lr_scale,
            }
            for (in_backbone, no_decay), params in sorted(groups.items())
        ],
        lr=config.lr,
    )
    return SAM(base, rho=config.sam_rho) if config.optimizer == "sam" else base


def _base(optimizer: torch.optim.Optimizer | SAM) -> torch.optim.Optimizer:
    return optimizer.base if isinstance(optimizer, SAM) else optimizer


def _batch_loss(
    engine: Engine,
    model: nn.Module,
    images: torch.Tensor,
    targets: DetectorTargets,
    hard: torch.Tensor | None,
    phase: str,
    config: DetectorTrainConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Multi-task loss, plus the adversarial term when hard fakes of the batch's reals exist."""
    count = len(images)
    with engine.autocast():
        out = model(images if hard is None else torch.cat([images, hard]))
    out = out.map(lambda t: t.float())
    main = out.map(lambda t: t[:count])
    total, parts = multitask_loss(main, targets, config.losses)
    if hard is not None:
        reals = targets.label < 0.5
        real_out = main.map(lambda t: t[reals])
        fake_out = out.map(lambda t: t[count:])
        adversarial, adv_parts = adversarial_loss(real_out, fake_out, config.adversarial, phase)
        total = adversarial if phase == PHASE_METRIC else total + adversarial
        parts.update(adv_parts)
    if isinstance(model, DistributedDataParallel):
        # DDP waits for a gradient of every trained parameter: the heads this loss leaves out
        # (the embedding without adversarial fakes) get an exact zero one.
        total = total + 0.0 * sum(t.sum() for t in _tensors(out))
    parts["total"] = float(total.detach())
    return total, parts


def _tensors(out: DetectorOutputs) -> list[torch.Tensor]:
    return [t for f in fields(out) if (t := getattr(out, f.name)) is not None]


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | SAM,
    images: torch.Tensor,
    targets: DetectorTargets,
    config: DetectorTrainConfig,
    *,
    hard: torch.Tensor | None = None,
    phase: str = PHASE_JOINT,
    engine: Engine | None = None,
) -> dict[str, float]:
    """One batch: forward, backward, and (when the accumulation is complete) an optimizer step,
    two forward/backward passes with SAM; returns the loss parts."""
    engine = engine or Engine(progress=False)
    train_mode(model)
    with engine.accumulate(model):
        loss, parts = _batch_loss(engine, model, images, targets, hard, phase, config)
        engine.backward(loss)
        if isinstance(optimizer, SAM):
            optimizer.first_step(zero_grad=True)
            with frozen_batchnorm_stats(model):
                second, _ = _batch_loss(engine, model, images, targets, hard, phase, config)
            engine.backward(second)
            engine.clip(model.parameters(), config.grad_clip)
            optimizer.second_step(zero_grad=True)
        elif engine.sync_gradients:
            engine.clip(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return parts


def freeze_early_layers(model: MultiTaskDetector, blocks: int) -> None:
    """No gradients for the stem and the first `blocks` backbone blocks (0: train it all).
    Their batch-norm statistics stay frozen as well (see `train_mode`)."""
    if blocks <= 0:
        return
    for module in model.backbone.early_layers(blocks):
        module.requires_grad_(False)
        module._frozen = True


def train_mode(model: MultiTaskDetector) -> None:
    """`model.train()`, except frozen early layers, whose batch norms keep ImageNet's stats."""
    model.train()
    for module in model.modules():
        if getattr(module, "_frozen", False):
            module.eval()


# ----------------------------------------------------------------------------- training


def train_detector(
    train_manifest: str | Path | Manifest,
    val_manifest: str | Path | Manifest | None,
    out_folder: str | Path,
    config: DetectorTrainConfig | None = None,
    *,
    generator: LatentGenerator | None = None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> DetectorTrainResult:
    """Train, early-stop on validation AUC, calibrate, and save the best model in `out_folder`.

    `generator` overrides the one named in `config.adversarial`; `on_epoch_end` receives each
    epoch's record after the state is saved (an exception there leaves a resumable state).
    """
    config = config or DetectorTrainConfig()
    previous_threads = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        return _train(
            train_manifest, val_manifest, Path(out_folder), config, generator, on_epoch_end
        )
    finally:
        torch.set_num_threads(previous_threads)


@dataclass
class _Setup:
    """What one run trains with, built once by `_setup`."""

    config: DetectorTrainConfig
    out: Path
    engine: Engine
    train_items: DetectorItems
    val_items: DetectorItems | None
    model: nn.Module  # wrapped in DDP (when several processes) once the state is resumed
    optimizer: torch.optim.Optimizer | SAM
    generator: LatentGenerator | None
    steps_per_epoch: int
    total_steps: int

    @property
    def state(self) -> Path:
        """The stem of the resumable training state."""
        return self.out / STATE_DIR / STATE_STEM


@dataclass
class _Progress:
    """Where a run stands; saved with the training state after every epoch."""

    stopping: EarlyStopping
    epoch: int = -1  # the last finished epoch
    step: int = 0  # batches trained on, over all epochs
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch

    def state_info(self, config: DetectorTrainConfig) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "early_stopping": asdict(self.stopping),
            "config": asdict(config),
        }


def _train(
    train_manifest: str | Path | Manifest,
    val_manifest: str | Path | Manifest | None,
    out: Path,
    config: DetectorTrainConfig,
    generator: LatentGenerator | None,
    on_epoch_end: Callable[[dict[str, Any]], None] | None,
) -> DetectorTrainResult:
    started = time.time()
    setup = _setup(train_manifest, val_manifest, out, config, generator)
    progress = _resume(setup)
    setup.model = setup.engine.prepare_model(setup.model)  # DDP, when several processes
    stopped_early = False
    for epoch in range(progress.epoch + 1, config.epochs):
        if setup.val_items is not None and progress.stopping.should_stop:
            stopped_early = True
            break
        record = _run_epoch(setup, progress, epoch)
        if on_epoch_end is not None:
            on_epoch_end(record)
    return _finish(setup, progress, stopped_early, started)


def _setup(
    train_manifest: str | Path | Manifest,
    val_manifest: str | Path | Manifest | None,
    out: Path,
    config: DetectorTrainConfig,
    generator: LatentGenerator | None,
) -> _Setup:
    """The engine, the crops (cached by the main process first), the model with its early
    layers frozen, the optimizer, the generator of hard fakes, and the steps per epoch."""
    engine = Engine(
        device=config.device,
        mixed_precision=config.mixed_precision,
        grad_accum=config.grad_accum,
        log_path=out / LOG_FILE,
        progress=config.progress,
    )
    if config.batch_size % engine.num_processes:
        raise ValueError(
            f"batch_size {config.batch_size} does not split over {engine.num_processes} "
            "processes; make it a multiple of the number of processes"
        )
    seed_everything(config.seed)
    train_items, val_items = _items(engine, train_manifest, val_manifest, config)
    model = MultiTaskDetector(config.model, pretrained=config.pretrained).to(engine.device)
    if config.init_weights:
        _load_initial_weights(model, Path(config.init_weights))
    freeze_early_layers(model, config.freeze_blocks)
    optimizer = _optimizer(model, config)
    if config.adversarial.enabled:
        generator = _prepare_generator(generator, config, engine.device)
    expected = len(train_items) + config.sbi_prob * float((~train_items.labels).sum())
    steps_per_epoch = max(1, int(expected // config.batch_size))
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    return _Setup(
        config=config,
        out=out,
        engine=engine,
        train_items=train_items,
        val_items=val_items,
        model=model,
        optimizer=optimizer,
        generator=generator,
        steps_per_epoch=steps_per_epoch,
        total_steps=steps_per_epoch * config.epochs,
    )


def _load_initial_weights(model: MultiTaskDetector, weights: Path) -> None:
    """Start from a saved detector (a fine-tune): its `model.safetensors`, or the file itself.
    The architecture must match exactly, so a wrong file fails here, not silently later."""
    from safetensors.torch import load_file

    path = weights / WEIGHTS_FILE if weights.is_dir() else weights
    if not path.is_file():
        raise FileNotFoundError(f"no initial weights at {path}")
    model.load_state_dict(load_file(str(path)), strict=True)


def _items(
    engine: Engine,
    train_manifest: str | Path | Manifest,
    val_manifest: str | Path | Manifest | None,
    config: DetectorTrainConfig,
) -> tuple[DetectorItems, DetectorItems | None]:
    """The training items (augmented, with online SBI) and the validation ones, if any."""
    with engine.main_first():  # the main process fills the crop cache, the others read it
        train_crops = _crops(train_manifest, config.train_split, config)
        val_crops = _crops(val_manifest, config.val_split, config) if val_manifest else None
    train_items = DetectorItems(
        train_crops,
        augment=True,
        sbi_prob=config.sbi_prob,
        flip_prob=config.flip_prob,
        benign_prob=config.benign_prob,
        pair_origins=config.pair_origins,
        seed=config.seed,
    )
    if val_crops is None:
        return train_items, None
    val_items = DetectorItems(val_crops)
    if not 0 < val_items.labels.sum() < len(val_items.labels):
        raise ValueError("the validation set needs both reals and fakes for its AUC")
    return train_items, val_items


def _resume(setup: _Setup) -> _Progress:
    """A fresh start, or with `resume` the saved state: weights, optimizer moments, counters,
    history and early stopping."""
    config = setup.config
    if not (config.resume and checkpoint.exists(setup.state)):
        return _Progress(EarlyStopping(config.patience))
    info, _ = checkpoint.load_state(setup.state, setup.model, setup.optimizer)
    if info["config"]["model"] != asdict(config.model):
        raise ValueError(f"the saved state in {setup.state.parent} is for another model config")
    saved = info.get("early_stopping") or {  # a state written before the one engine
        "best": info["best_auc"],
        "best_epoch": info["best_epoch"],
        "since_best": info["since_best"],
    }
    return _Progress(
        EarlyStopping(**{**saved, "patience": config.patience}),
        epoch=info["epoch"],
        step=info["step"],
        history=info["history"],
    )


def _run_epoch(setup: _Setup, progress: _Progress, epoch: int) -> dict[str, Any]:
    """Train one epoch, validate, save the model if it is the best yet, then the training
    state and the log line; returns the epoch's record."""
    engine = setup.engine
    tick = time.time()
    record, progress.step = _train_epoch(setup, epoch, progress.step)
    _validate_and_keep_best(setup, progress.stopping, record, epoch)
    record["seconds"] = round(time.time() - tick, 2)
    progress.history.append(record)
    progress.epoch = epoch
    if engine.is_main:
        bare = engine.unwrap(setup.model)
        checkpoint.save_state(setup.state, bare, setup.optimizer, progress.state_info(setup.config))
    engine.log(record)
    engine.wait()
    return record


def _validate_and_keep_best(
    setup: _Setup, stopping: EarlyStopping, record: dict[str, Any], epoch: int
) -> None:
    """Validation metrics into `record`; the model is saved when its AUC is the best yet
    (without validation data, after every epoch)."""
    config, engine = setup.config, setup.engine
    bare = engine.unwrap(setup.model)
    if setup.val_items is None:
        stopping.best_epoch = epoch
        if engine.is_main:
            save_detector(bare, setup.out, metrics={}, training=_facts(config))
        return
    metrics, _, _ = evaluate_detector(bare, setup.val_items, config.batch_size, config.num_workers)
    record["val"] = metrics
    if stopping.update(metrics.get("auc", float("nan")), epoch) and engine.is_main:
        save_detector(bare, setup.out, metrics={"val": metrics}, training=_facts(config))


def _train_epoch(setup: _Setup, epoch: int, step: int) -> tuple[dict[str, Any], int]:
    """One epoch of batches; returns its record (mean loss parts) and the batch count.

    Each process takes its share of every global batch of `batch_size`; the learning rate
    follows the optimizer step (`step // grad_accum`)."""
    config, engine, items = setup.config, setup.engine, setup.train_items
    accum, total_steps = config.grad_accum, setup.total_steps
    torch.manual_seed(config.seed * 1_000_003 + epoch)  # dropout: same stream after a resume
    items.set_epoch(epoch)
    class_weight = class_weights(items.plan_labels(), config.balance_classes)
    base = _base(setup.optimizer)
    done = step

    def one_batch(batch: dict[str, torch.Tensor]) -> dict[str, float]:
        nonlocal done
        factor = lr_factor(done // accum, total_steps // accum, **config.schedule_options())
        for group in base.param_groups:
            group["lr"] = config.lr * group["lr_scale"] * factor
        images, targets = batch_targets(batch, engine.device, class_weight)
        hard, phase = _hard_fakes(setup, images, targets, epoch, done)
        parts = train_step(
            setup.model,
            setup.optimizer,
            images,
            targets,
            config,
            hard=hard,
            phase=phase,
            engine=engine,
        )
        done += 1
        return parts

    loader = DataLoader(
        items,
        batch_sampler=engine.batch_sampler(
            len(items), config.batch_size, drop_last=len(items) > config.batch_size
        ),
        num_workers=config.num_workers,
    )
    train = engine.run_epoch(
        loader,
        one_batch,
        limit=setup.steps_per_epoch,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        total=min(max(len(items) // config.batch_size, 1), setup.steps_per_epoch),
    )
    last = lr_factor(max(done - 1, 0) // accum, total_steps // accum, **config.schedule_options())
    return {"epoch": epoch, "lr": config.lr * last, "train": train}, done


def _hard_fakes(
    setup: _Setup, images: torch.Tensor, targets: DetectorTargets, epoch: int, step: int
) -> tuple[torch.Tensor | None, str]:
    """Adversarial hard fakes of the batch's reals and the phase of the adversarial schedule,
    or (None, joint) without a generator or reals."""
    config = setup.config
    reals = targets.label < 0.5
    if setup.generator is None or not config.adversarial.enabled or not bool(reals.any()):
        return None, PHASE_JOINT
    phase = config.adversarial.phase(epoch, step)
    hard = mine_hard_fakes(
        setup.engine.unwrap(setup.model),
        setup.generator,
        images[reals],
        epsilon=config.adversarial.epsilon,
        steps=config.adversarial.steps,
        random_start=config.adversarial.random_start,
        rng=torch.Generator().manual_seed(config.seed * 7919 + step),
    )
    return hard.images, phase


def _finish(
    setup: _Setup, progress: _Progress, stopped_early: bool, started: float
) -> DetectorTrainResult:
    """Calibrate the best model on validation and write its final config and metrics."""
    config, engine, out = setup.config, setup.engine, setup.out
    train_items, val_items = setup.train_items, setup.val_items
    stopping = progress.stopping
    loaded = load_detector(out, device=str(engine.device))
    temperature, metrics = 1.0, {}
    if val_items is not None:
        val_metrics, logits, labels = evaluate_detector(
            loaded.model, val_items, config.batch_size, config.num_workers
        )
        temperature = fit_temperature(logits, labels)
        before = expected_calibration_error(_sigmoid(logits), labels)
        after = expected_calibration_error(_sigmoid(logits / temperature), labels)
        metrics = {
            "val": val_metrics,
            "temperature": temperature,
            "ece_before": before,
            "ece_after": after,
        }
    seconds = time.time() - started
    facts = {
        **_facts(config),
        "best_epoch": stopping.best_epoch,
        "epochs_run": len(progress.history),
        "stopped_early": stopped_early,
        "n_train": len(train_items.crops),
        "n_val": len(val_items.crops) if val_items is not None else 0,
        "train_identities": len({s.identity for s in train_items.crops.samples}),
        "processes": engine.num_processes,
        "seconds": round(seconds, 1),
        "history": progress.history,
    }
    if engine.is_main:
        save_detector(loaded.model, out, temperature=temperature, metrics=metrics, training=facts)
    engine.wait()
    return DetectorTrainResult(
        folder=out,
        history=progress.history,
        best_epoch=stopping.best_epoch,
        best_auc=stopping.best,
        temperature=temperature,
        metrics=metrics,
        stopped_early=stopped_early,
        seconds=seconds,
    )


def _facts(config: DetectorTrainConfig) -> dict[str, Any]:
    return {
        "config": asdict(config),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _prepare_generator(
    generator: LatentGenerator | None, config: DetectorTrainConfig, device: torch.device
) -> LatentGenerator:
    if generator is None:
        from opendfa.models.generator import load_generator

        try:
            generator = load_generator(config.adversarial.generator)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"adversarial training needs a generator ({err}); "
                "train one with `opendfa train generator` or pass --generator"
            ) from None
    margin = getattr(getattr(generator, "config", None), "margin", config.model.crop_margin)
    if abs(margin - config.model.crop_margin) > 1e-6:
        raise ValueError(
            f"the generator models crops with margin {margin}, "
            f"the detector {config.model.crop_margin}"
        )
    if isinstance(generator, nn.Module):
        generator.to(device).eval().requires_grad_(False)
    return generator
