"""The one training engine: what every OpenDFA trainer (detector, generator, DFA-GPT) shares.

Built on Hugging Face `accelerate`, so the same trainer runs on one CPU, one GPU, several GPUs
or several machines (`accelerate launch` / `torchrun`, DDP underneath):

- `Engine`: device placement, bf16/fp16 autocast (`mixed_precision="auto"`: bf16 on CUDA,
  none on a CPU), `backward`, gradient clipping, gradient accumulation, DDP wrapping of the
  model, each process's share of a global batch (`shard`), the mean of a number over the
  processes, a JSONL log and a progress bar written by the main process only;
- `lr_factor` / `lr_scheduler`: the one warm-up + cosine (or linear) schedule;
- `EarlyStopping`: patience on a validation number;
- `seed_everything`: Python, NumPy and torch (all devices) from one seed;
- `opendfa.train.checkpoint`: the one safetensors + JSON resumable state.

A trainer is a model, a `step(batch)` that returns its loss parts (`Engine.run_epoch` runs it
over an epoch's batches), and an evaluation function; the loop around them is a few lines over
this engine. Global batches are the same whatever the
number of processes: each process takes `batch_size / num_processes` of every batch, and DDP
averages the gradients, so 1 process and N processes take the same steps (up to batch-norm
statistics, which each process computes on its share).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy and torch on every device."""
    from accelerate.utils import set_seed

    set_seed(seed)


# ----------------------------------------------------------------------------- schedule


def lr_factor(
    step: int,
    total: int,
    *,
    warmup_fraction: float = 0.0,
    warmup_steps: int | None = None,
    min_lr_fraction: float = 0.0,
    schedule: str = "cosine",
    decay_start: float = 0.0,
) -> float:
    """Multiplier of the base learning rate at optimizer step `step` of `total`: a linear
    warm-up over `warmup_steps` (or `warmup_fraction` of `total`), then a cosine (or, from
    `decay_start` of training, linear) decay to `min_lr_fraction`."""
    total = max(total, 1)
    warmup = int(warmup_fraction * total) if warmup_steps is None else warmup_steps
    if step < warmup:
        return (step + 1) / warmup
    floor = min_lr_fraction
    if schedule == "cosine":
        progress = min(1.0, (step - warmup) / max(total - warmup, 1))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule != "linear":
        raise ValueError(f"schedule must be cosine or linear, got {schedule!r}")
    start = max(warmup, int(decay_start * total))
    if step < start:
        return 1.0
    progress = min(1.0, (step - start) / max(total - start, 1))
    return floor + (1.0 - floor) * (1.0 - progress)


def lr_scheduler(
    optimizer: torch.optim.Optimizer, total: int, **schedule: Any
) -> torch.optim.lr_scheduler.LambdaLR:
    """`lr_factor` as a torch scheduler: call `.step()` after each optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, **schedule)
    )


# ----------------------------------------------------------------------------- early stopping


@dataclass
class EarlyStopping:
    """Stop once `patience` evaluations in a row did not beat the best (higher is better)."""

    patience: int
    best: float | None = None
    best_epoch: int | None = None
    since_best: int = 0

    def update(self, value: float, epoch: int) -> bool:
        """Record one evaluation; True when it is the new best."""
        if self.best is None or value > self.best:
            self.best, self.best_epoch, self.since_best = value, epoch, 0
            return True
        self.since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.since_best > 0 and self.since_best >= self.patience


# ----------------------------------------------------------------------------- engine


def close_distributed() -> None:
    """Tear the process group down while the interpreter is still whole. Left to the C++
    destructors at exit, gloo's threads may still hold pending work whose tensors need the GIL
    of an interpreter being torn down, and abort the process (SIGABRT, "terminate called
    without an active exception") after a successful run. Collecting garbage first drops DDP
    wrappers caught in reference cycles while their process group is alive. Registered at exit
    by a distributed `Engine`; call it earlier to control the order. A no-op when not
    distributed."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        gc.collect()
        try:
            torch.distributed.barrier()
        finally:
            torch.distributed.destroy_process_group()


class Engine:
    """One process's view of a (possibly distributed) training run."""

    def __init__(
        self,
        *,
        device: str = "cpu",
        mixed_precision: str = "auto",
        grad_accum: int = 1,
        log_path: str | Path | None = None,
        progress: bool = True,
        find_unused_parameters: bool = False,
    ) -> None:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        cpu = not str(device).startswith("cuda")
        if mixed_precision == "auto":
            mixed_precision = "no" if cpu else "bf16"
        handlers = [DistributedDataParallelKwargs(find_unused_parameters=find_unused_parameters)]
        self.accelerator = Accelerator(
            cpu=cpu,
            mixed_precision=mixed_precision,
            gradient_accumulation_steps=grad_accum,
            kwargs_handlers=handlers,
        )
        self.log_path = Path(log_path) if log_path else None
        self.show_progress = progress
        if self.accelerator.num_processes > 1:
            atexit.register(close_distributed)

    # -------------------------------------------------------------- processes and devices

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def num_processes(self) -> int:
        return self.accelerator.num_processes

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def wait(self) -> None:
        """Every process waits here for the others (before reading what the main one wrote)."""
        self.accelerator.wait_for_everyone()

    def main_first(self) -> contextlib.AbstractContextManager:
        """The main process runs the block first (e.g. filling a cache), then the others."""
        return self.accelerator.main_process_first()

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """On the device, wrapped in DDP when there are several processes. Freeze layers before
        this: DDP fixes the set of trained parameters when it wraps the model."""
        return self.accelerator.prepare_model(model.to(self.device))

    def unwrap(self, model: nn.Module) -> nn.Module:
        return self.accelerator.unwrap_model(model)

    # -------------------------------------------------------------- one step

    def autocast(self) -> contextlib.AbstractContextManager:
        return self.accelerator.autocast()

    def accumulate(self, model: nn.Module) -> contextlib.AbstractContextManager:
        """Around each micro-batch's forward and backward: gradients accumulate over
        `grad_accum` calls, and under DDP the first `grad_accum - 1` run in `no_sync`, so the
        processes exchange gradients once per optimizer step (`sync_gradients` then True)."""
        return self.accelerator.accumulate(model)

    @property
    def sync_gradients(self) -> bool:
        """True on the micro-step that completes an accumulation (time to step)."""
        return self.accelerator.sync_gradients

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of one micro-batch's loss, divided by `grad_accum` here, so that the
        accumulated gradient is that of the mean loss (fp16 loss scaling included)."""
        self.accelerator.backward(loss)

    def clip(self, parameters: Iterable[nn.Parameter], max_norm: float | None) -> None:
        if max_norm:
            self.accelerator.clip_grad_norm_(list(parameters), max_norm)

    # -------------------------------------------------------------- data

    def shard(self, items: Sequence[Any] | torch.Tensor) -> Any:
        """This process's contiguous share of a global batch (all of it on one process; shares
        differ by at most one item when the batch does not split evenly)."""
        if self.num_processes == 1:
            return items
        size, world = len(items), self.num_processes
        return items[size * self.rank // world : size * (self.rank + 1) // world]

    def batch_sampler(self, length: int, batch_size: int, *, drop_last: bool) -> ShardedBatches:
        """A DataLoader `batch_sampler` giving this process its share of each global batch."""
        return ShardedBatches(length, batch_size, drop_last, self.rank, self.num_processes)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each number averaged over the processes."""
        if self.num_processes == 1 or not values:
            return values
        keys = sorted(values)
        tensor = torch.tensor([float(values[k]) for k in keys], device=self.device)
        reduced = self.accelerator.reduce(tensor, reduction="mean")
        return dict(zip(keys, reduced.tolist(), strict=True))

    def run_epoch(
        self,
        batches: Iterable[Any],
        step: Callable[[Any], dict[str, float]],
        *,
        limit: int | None = None,
        show: str = "total",
        **bar: Any,
    ) -> dict[str, float]:
        """Call `step(batch)` on each batch (at most `limit`), with a progress bar; returns the
        mean of each loss part `step` returned, over the batches and the processes."""
        sums: dict[str, float] = {}
        count = 0
        progress = self.bar(batches, leave=False, **bar)
        for batch in progress:
            if limit is not None and count >= limit:
                break
            parts = step(batch)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            progress.set_postfix(loss=f"{parts[show]:.3f}")
        progress.close()
        return self.mean({key: value / max(count, 1) for key, value in sums.items()})

    # -------------------------------------------------------------- log and progress

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to the log (main process only)."""
        if self.log_path is None or not self.is_main:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def bar(self, iterable: Iterable | None = None, **options: Any) -> tqdm:
        """A tqdm progress bar, shown by the main process only."""
        disable = not (self.show_progress and self.is_main)
        return tqdm(iterable, disable=disable, **options)


class ShardedBatches:
    """Batches of `batch_size` consecutive indices (the dataset's own order, e.g. a seeded
    plan), of which this process yields its contiguous share. With several processes a short
    last batch is dropped, so every process takes the same number of steps."""

    def __init__(
        self, length: int, batch_size: int, drop_last: bool, rank: int = 0, world: int = 1
    ) -> None:
        if batch_size % world:
            raise ValueError(
                f"batch size {batch_size} does not split over {world} processes; "
                "make it a multiple of the number of processes"
            )
        self.length, self.batch_size, self.drop_last = length, batch_size, drop_last
        self.rank, self.world = rank, world

    def __iter__(self) -> Iterator[list[int]]:
        share = self.batch_size // self.world
        for start in range(0, self.length, self.batch_size):
            batch = list(range(start, min(start + self.batch_size, self.length)))
            if len(batch) < self.batch_size and (self.drop_last or self.world > 1):
                return  # a short last batch would leave some process without a step
            yield batch[self.rank * share : (self.rank + 1) * share]

    def __len__(self) -> int:
        if self.drop_last or self.world > 1:
            return self.length // self.batch_size
        return math.ceil(self.length / self.batch_size)
