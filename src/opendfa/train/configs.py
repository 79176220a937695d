"""The training recipes' settings, importable without torch, OpenCV or NumPy.

Every field is a flag of `opendfa train detector|generator|mllm` (`opendfa.config_flags` builds
them), so `opendfa --help` must build them without loading what trains (tests/test_startup.py).
The recipes themselves (`train/detector.py`, `generator.py`, `mllm.py`, `adversarial.py`)
import these and re-export them under their old names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opendfa.models.configs import DEFAULT_LM, DEFAULT_MODEL, DetectorConfig

SCHEDULES = ("none", "constant", "alternating")
PHASE_JOINT, PHASE_CE, PHASE_METRIC = "joint", "ce", "metric"


# ----------------------------------------------------------------------------- detector


@dataclass
class LossWeights:
    fake: float = 1.0  # BCE real/fake
    category: float = 0.5  # CE over the 5 categories
    mask: float = 1.0  # BCE + Dice on the low-resolution mask
    region: float = 0.5  # BCE on per-region coverage
    boundary: float = 1.0  # BCE on the blending boundary 4·M·(1−M), when the model has the head
    # Hinge on logit(fake) - logit(real) for each forgery and the real of the same source photo
    # in the batch (`pair_origins` puts them together): the model must find what the forgery
    # changed, since identity, pose and photo quality are the same on both sides.
    pair: float = 0.0
    pair_margin: float = 2.0  # in logits


@dataclass
class AdversarialConfig:
    schedule: str = "none"  # none | constant | alternating
    lambda_: float = 0.9  # weight of the CE terms in the `constant` schedule
    epsilon: float = 4.0  # L2 radius in latent space (the paper: 4)
    steps: int = 10  # PGD steps s (the paper: 10); eta = epsilon / sqrt(steps)
    random_start: float = 0.1  # |zeta| as a fraction of epsilon
    margin: float = 1.0  # alpha of eq. (3), on squared distances of unit embeddings
    unit: str = "epoch"  # alternating phases counted in epochs or optimizer steps
    ce_length: int = 1  # length of each CE phase
    metric_length: int = 1  # length of each metric phase
    generator: str | None = None  # path of the generator (default: the shipped one)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"adversarial schedule must be one of {', '.join(SCHEDULES)}")
        if not 0.0 <= self.lambda_ <= 1.0:
            raise ValueError(f"lambda must be in [0, 1], got {self.lambda_}")
        if self.epsilon <= 0 or self.steps < 1 or not 0.0 <= self.random_start <= 1.0:
            raise ValueError("epsilon > 0, steps >= 1 and random_start in [0, 1] required")
        if self.unit not in ("epoch", "step") or min(self.ce_length, self.metric_length) < 1:
            raise ValueError("unit must be epoch or step, and phase lengths positive")

    @property
    def enabled(self) -> bool:
        return self.schedule != "none"

    def phase(self, epoch: int, step: int) -> str:
        """`joint` (constant lambda) or, alternating, `ce` or `metric` at this epoch/step.

        Phases start with CE: with lengths (2, 1) in epochs, epochs 0-1 are CE, 2 metric, ...
        """
        if self.schedule != "alternating":
            return PHASE_JOINT
        position = (epoch if self.unit == "epoch" else step) % (self.ce_length + self.metric_length)
        return PHASE_CE if position < self.ce_length else PHASE_METRIC


@dataclass
class DetectorTrainConfig:
    model: DetectorConfig = field(default_factory=DetectorConfig)
    pretrained: bool = True
    init_weights: str | None = None  # start from a saved detector's model.safetensors (fine-tune)
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3  # AdamW; 3e-4 learned too slowly on small face sets (tests/train)
    head_lr_scale: float = 1.0  # heads' learning rate relative to the backbone's
    weight_decay: float = 0.01
    optimizer: str = "adamw"  # adamw | sam (SAM around AdamW)
    sam_rho: float = 0.05
    schedule: str = "cosine"  # cosine | linear, after a linear warm-up
    warmup_fraction: float = 0.05
    decay_start: float = 0.0  # linear: fraction of training before the decay (the paper: 0.75)
    min_lr_fraction: float = 0.01
    sbi_prob: float = 0.5  # per real and epoch: an extra self-blended fake of it
    flip_prob: float = 0.5
    benign_prob: float = 0.0  # per item: one innocent operation (JPEG, resize, denoise, ...)
    # Order each epoch by source photo: a real, its forgeries and its self-blend side by side
    # (the groups shuffled), so batches hold matched pairs for `losses.pair`.
    pair_origins: bool = False
    balance_classes: bool = True
    losses: LossWeights = field(default_factory=LossWeights)
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    patience: int = 5  # stop after this many epochs without a better validation AUC
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    num_workers: int = 0
    train_split: str | None = None  # use only these samples of the manifests (None: all)
    val_split: str | None = None
    cache_dir: str | None = None  # aligned-crop cache (default: beside the manifest)
    max_steps_per_epoch: int | None = None
    grad_clip: float = 5.0
    grad_accum: int = 1  # batches per optimizer step (AdamW only)
    mixed_precision: str = "auto"  # auto (bf16 on CUDA) | no | bf16 | fp16
    freeze_blocks: int = 0  # keep the stem and this many first backbone blocks frozen
    progress: bool = True
    resume: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "sam"):
            raise ValueError(f"optimizer must be adamw or sam, got {self.optimizer!r}")
        if self.schedule not in ("cosine", "linear"):
            raise ValueError(f"schedule must be cosine or linear, got {self.schedule!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError("epochs, batch_size and lr must be positive")
        if not all(0.0 <= p <= 1.0 for p in (self.sbi_prob, self.flip_prob, self.benign_prob)):
            raise ValueError("sbi_prob, flip_prob and benign_prob must lie in [0, 1]")
        if self.grad_accum < 1 or (self.grad_accum > 1 and self.optimizer == "sam"):
            raise ValueError("grad_accum must be 1 with SAM, and at least 1")

    def schedule_options(self) -> dict[str, Any]:
        """The options of `opendfa.train.loop.lr_factor` this config asks for."""
        return {
            "warmup_fraction": self.warmup_fraction,
            "min_lr_fraction": self.min_lr_fraction,
            "schedule": self.schedule,
            "decay_start": self.decay_start,
        }


# ----------------------------------------------------------------------------- generator


@dataclass
class Augmentation:
    flip: float = 0.5
    brightness: float = 0.12
    contrast: float = 0.12
    saturation: float = 0.2
    rotation_deg: float = 6.0
    scale: float = 0.05
    shift: float = 0.04  # fraction of the side


@dataclass
class GeneratorTrainConfig:
    """Training settings; the defaults train the shipped generator."""

    epochs: int = 320
    batch_size: int = 16
    lr: float = 2e-3
    lr_final: float = 1e-4  # cosine decay to this
    kl_weight: float = 0.25  # per pixel value: loss = L1 + ... + kl_weight * KL / (3 S^2)
    kl_warmup_epochs: int = 40
    gradient_weight: float = 0.5
    ssim_weight: float = 0.2
    low_quality_weight: float = 0.5  # how often crops flagged quality "low" are drawn
    seed: int = 0
    augmentation: Augmentation | None = field(default_factory=Augmentation)
    prior_copies: int = 8  # augmented copies per crop whose codes fit the sampling prior
    prior_shrinkage: float = 0.1
    prior_low_quality_weight: float = 0.2  # weight of "low" crops' codes in that fit
    checkpoint_every: int = 20  # epochs
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    device: str = "cpu"


# ----------------------------------------------------------------------------- DFA-GPT


@dataclass
class MLLMTrainConfig:
    data: str  # folder written by `opendfa instruct build`
    out: str
    lm: str = DEFAULT_LM
    detector: str = DEFAULT_MODEL
    tasks: tuple[str, ...] = ("DF-D", "DF-C", "AD")
    evidence: bool = False
    # 2: the cue-aware line with the margin band, read from the data folder's evidence.jsonl
    # (`opendfa instruct build --evidence-model`), whose answers were held to it.
    evidence_version: int = 1
    epochs: float = 1.0
    max_records: int | None = None  # a seeded, task-proportional subset of the train split
    balance: bool = True  # repeat rarer answers: DF-D real:fake 1:1, DF-C one fifth per class
    batch_size: int = 4
    grad_accum: int = 4
    lr: float = 2e-4
    projector_lr: float = 1e-3  # LLaVA's stage-1 rate: a new projector needs bigger steps
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    lora_r: int = 128
    lora_alpha: int = 256
    lora_dropout: float = 0.05
    projector_steps: int = 0  # stage 1 (projector only) before LoRA; 0: one stage
    max_length: int = 448
    val_records: int = 48
    save_every: int = 25
    seed: int = 0
    device: str = "auto"
    # "auto": bf16 autocast on CUDA, float32 on a CPU; "bf16" also on a CPU with AVX512-BF16
    # (faster training, benchmarks/dfa_gpt.md), "no": float32 everywhere.
    precision: str = "auto"
    # End the run at this step with the schedule of the full run kept (a time budget cut short:
    # the weights, validation and summary as at that step); not part of the resume key.
    stop_at: int | None = None
    vision_cache: bool = True  # features + detector numbers per image under <data>/vision-cache
    # Start from the projector + adapters of this DFA-GPT folder (a further budget, new data or
    # a changed prompt on top of an earlier run) with a fresh optimizer and schedule.
    init: str | None = None
