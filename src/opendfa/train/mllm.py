"""`opendfa train mllm`: instruction-tune DFA-GPT on DFA-Instruct (LLaVA JSON).

As in the DFA paper: loss on the answer tokens only, AdamW, lr 2e-4 with warm-up and cosine
decay, LoRA rank 128 / alpha 256, one epoch by default. Optional LLaVA-style two-stage training:
`projector_steps` of projector-only alignment before the LoRA stage. The vision encoder (the
detector's backbone) is frozen, so each image is encoded once and the LM is all the training
costs. It runs on the one training engine (`opendfa.train.loop`): gradient accumulation, bf16
autocast on CUDA, several processes (each takes its share of every batch); the trainable weights
and the one training state (`train-state/`, safetensors + JSON) are saved every `save_every`
steps and resumed from (the data order is seeded, so a resumed run continues where the last
checkpoint left off). Validation: answer loss on a val subset and
greedy DF-D / DF-C accuracy on it.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from opendfa.evidence.words import detector_line
from opendfa.explain.assistant import Assistant
from opendfa.instruct.records import InstructRecord, read_records
from opendfa.models import dfagpt
from opendfa.models.mllm import LoRAConfig, collate, encode_conversation
from opendfa.train import checkpoint as train_state
from opendfa.train.configs import MLLMTrainConfig
from opendfa.train.loop import Engine, lr_scheduler, seed_everything

STATE = Path("train-state") / "state"  # the one training state (opendfa.train.checkpoint)
LOG_FILE = "log.jsonl"
TASKS = ("DF-D", "DF-C", "AD", "FC")


@dataclass
class Example:
    ids: list[int]
    labels: list[int]
    image: str
    task: str
    record: InstructRecord | None = field(repr=False, default=None)


def load_records(data: str | Path, split: str, tasks: tuple[str, ...]) -> list[InstructRecord]:
    path = Path(data) / f"{split}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"no {split}.json in {data} (build it with `opendfa instruct build`)"
        )
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown tasks {sorted(unknown)}; known: {', '.join(TASKS)}")
    return [r for r in read_records(path) if r.task in tasks]


def subset(records: list[InstructRecord], limit: int | None, seed: int) -> list[InstructRecord]:
    """A seeded shuffle, cut to `limit` records (tasks keep their proportions on average)."""
    records = list(records)
    random.Random(seed).shuffle(records)
    return records if limit is None else records[:limit]


BALANCE_KEY = {"DF-C": "category", "AD": "category"}  # what the answer names; else "label"


def balance_answers(records: list[InstructRecord], seed: int) -> list[InstructRecord]:
    """Per task, every answer class is repeated up to the size of the largest one, then all is
    shuffled: DF-D real:fake 1:1, DF-C (and AD) one fifth each of real and the four forgery
    types. Synthesized sets hold one real per ~10 fakes, and a short run learns that prior
    ("fake" to everything) before it learns to look at the image; balancing DF-C by real-vs-fake
    instead would make "real" the commonest DF-C answer, which a short run learns just as well.
    Records without the key (unlabelled FC) pass through as they are."""
    rng = random.Random(seed)
    out: list[InstructRecord] = []
    for task in sorted({r.task for r in records}):
        key = BALANCE_KEY.get(task, "label")
        mine = [r for r in records if r.task == task]
        out += [r for r in mine if not getattr(r, key)]
        groups: dict[str, list[InstructRecord]] = {}
        for record in mine:
            if getattr(record, key):
                groups.setdefault(getattr(record, key), []).append(record)
        size = max((len(g) for g in groups.values()), default=0)
        for name in sorted(groups):
            group = groups[name]
            rng.shuffle(group)
            out += [group[i % len(group)] for i in range(size)]
    rng.shuffle(out)
    return out


@dataclass
class _Records:
    """A run's records: `train` (balanced, cut to `max_records`), `val` (cut to
    `val_records`), and `vocabulary`, those whose answers the model may give (every train
    record and the val ones)."""

    train: list[InstructRecord]
    val: list[InstructRecord]
    vocabulary: list[InstructRecord]

    @classmethod
    def load(cls, c: MLLMTrainConfig) -> _Records:
        every_train = load_records(c.data, "train", c.tasks)
        train = balance_answers(every_train, c.seed) if c.balance else every_train
        train = subset(train, c.max_records, c.seed)
        val = subset(load_records(c.data, "val", c.tasks), c.val_records, c.seed)
        if not train:
            raise ValueError(f"no training records for tasks {list(c.tasks)} in {c.data}")
        return cls(train=train, val=val, vocabulary=every_train + val)


@dataclass
class _Setup:
    """What one run trains on and with, built once by `Trainer._setup`."""

    loaded: dfagpt.LoadedDFAGPT
    records: _Records
    train: list[Example]
    val: list[Example]
    order: list[int]  # indices into `train`, in the order the micro-batches take them
    total_steps: int  # optimizer steps of the whole schedule
    last_step: int  # where this run stops (`stop_at` may end it before the schedule does)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    images: int
    encode_seconds: float


@dataclass
class _Throughput:
    """Conversations and tokens this process trained on, and for how long."""

    started: float = field(default_factory=time.time)
    stopped: float | None = None
    samples: int = 0
    tokens: int = 0

    def add(self, chunk: list[Example]) -> None:
        self.samples += len(chunk)
        self.tokens += sum(len(e.ids) for e in chunk)

    def stop(self) -> None:
        self.stopped = time.time()

    @property
    def seconds(self) -> float:
        return (self.stopped or time.time()) - self.started

    def rates(self) -> dict[str, float]:
        seconds = max(self.seconds, 1e-9)
        return {
            "samples_per_s": round(self.samples / seconds, 3),
            "tokens_per_s": round(self.tokens / seconds, 1),
        }


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


class Trainer:
    """One training run; `run()` returns the summary also written to `summary.json`."""

    def __init__(self, config: MLLMTrainConfig, *, progress: bool = True, log=print) -> None:
        self.config = config
        self.out = Path(config.out)
        self.engine = Engine(
            device=resolve_device(config.device),
            mixed_precision=config.precision,
            grad_accum=config.grad_accum,  # DDP syncs gradients once per optimizer step
            log_path=self.out / LOG_FILE,
            progress=progress,
            find_unused_parameters=True,  # LoRA waits frozen while stage 1 trains the projector
        )
        self.device = str(self.engine.device)
        self.log = log if self.engine.is_main else (lambda message: None)

    # ------------------------------------------------------------------ setup

    def _model_config(self) -> dfagpt.DFAGPTConfig:
        c = self.config
        lora = asdict(LoRAConfig(r=c.lora_r, alpha=c.lora_alpha, dropout=c.lora_dropout))
        return dfagpt.DFAGPTConfig(
            lm=c.lm,
            detector=c.detector,
            evidence=c.evidence,
            evidence_version=c.evidence_version,
            lora=lora,
            max_length=c.max_length,
        )

    def _examples(self, records: list[InstructRecord], tokenizer) -> list[Example]:
        examples = []
        for record in records:
            turns = [dict(t) for t in record.conversations]
            if self.config.evidence:
                turns[0]["value"] = dfagpt.first_question(
                    turns[0]["value"], self.evidence[record.image]
                )
            ids, labels = encode_conversation(tokenizer, turns, self.config.max_length)
            if any(t != -100 for t in labels):
                examples.append(Example(ids, labels, record.image, record.task, record))
        return examples

    def _encode_images(self, loaded: dfagpt.LoadedDFAGPT, images: list[str]) -> None:
        """Frozen-encoder features (and detector evidence) of every image, once: from the
        vision cache when an earlier run stored them, else computed (and stored)."""
        from opendfa.evidence.judge import judge_crops
        from opendfa.evidence.report import DEFAULT_THRESHOLD

        cache = VisionCache.for_run(self.config, loaded)
        self._dataset_lines = self._evidence_lines(loaded, images)
        # As judge_crops and the analysis judge: the detector's operating point.
        threshold = float(getattr(loaded.detector, "decision_threshold", DEFAULT_THRESHOLD))
        missing = []
        for name in images:
            hit = cache.get(name) if cache else None
            if hit is None:
                missing.append(name)
            else:
                self._keep(name, *hit, threshold)
        size = loaded.image_size
        for start in range(0, len(missing), 32):
            names = missing[start : start + 32]
            crops = [dfagpt.read_crop(Path(self.config.data) / n) for n in names]
            tensors = torch.stack([dfagpt.image_tensor(c, size) for c in crops])
            with torch.inference_mode():
                visual = loaded.model.encode_images(tensors.to(self.device)).cpu()
            judgements = judge_crops(loaded.detector, np.stack(crops), threshold)
            for name, feature, judged in zip(names, visual, judgements, strict=True):
                p = judged.prediction
                numbers = {
                    "fake_probability": p.fake_probability,
                    "category_probabilities": p.category_probabilities,
                    "region_scores": p.region_scores,
                }
                feature = feature.to(VisionCache.DTYPE).clone()
                if cache:
                    cache.put(name, feature, numbers)
                self._keep(name, feature, numbers, threshold)

    def _evidence_lines(self, loaded: dfagpt.LoadedDFAGPT, images: list[str]) -> dict[str, str]:
        """Version 2's lines, as the data builder wrote them for the answers it held to them;
        the builder's detector must be the one this model reads."""
        c = self.config
        if not c.evidence or c.evidence_version < 2:
            return {}
        from opendfa.instruct.evidence import read_evidence_lines

        meta, lines = read_evidence_lines(c.data)
        if meta.get("version") != c.evidence_version:
            raise ValueError(
                f"{c.data} holds evidence lines of version {meta.get('version')}, "
                f"not {c.evidence_version}"
            )
        name = str(getattr(loaded.detector, "name", ""))
        if meta.get("detector") != name:
            raise ValueError(
                f"{c.data}'s evidence comes from {meta.get('detector')}, but this model reads "
                f"{name}: rebuild it with --evidence-model {c.detector}"
            )
        missing = [image for image in images if image not in lines]
        if missing:
            raise ValueError(f"{len(missing)} image(s) have no evidence line, e.g. {missing[0]}")
        return lines

    def _keep(self, name: str, feature: torch.Tensor, numbers: dict, threshold: float) -> None:
        self.features[name] = feature.float()
        if self.config.evidence and self.config.evidence_version >= 2:
            self.evidence[name] = self._dataset_lines[name]
        elif self.config.evidence:
            self.evidence[name] = detector_line(
                numbers["fake_probability"],
                numbers["category_probabilities"],
                numbers["region_scores"],
                threshold,
            )

    # ------------------------------------------------------------------ run

    def run(self) -> dict:
        seed_everything(self.config.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        setup = self._setup()
        step = self._start_or_resume(setup)
        trained = self.engine.prepare_model(setup.loaded.model)  # DDP, when several processes
        self.log(
            f"DFA-GPT: {len(setup.train)} training conversations "
            f"({dict(Counter(e.task for e in setup.train))}), {setup.total_steps} steps of "
            f"{self._per_step}, {setup.images} images encoded in {setup.encode_seconds:.0f} s, "
            f"device {self.device}"
        )
        throughput = self._train(setup, trained, step)
        setup.loaded.model.eval()
        summary = self._summary(setup, throughput, self._validate(setup.loaded, setup.val))
        self._save_model(setup, summary)
        return summary

    @property
    def _per_step(self) -> int:
        """Conversations per optimizer step (over all processes and micro-batches)."""
        return self.config.batch_size * self.config.grad_accum

    def _setup(self) -> _Setup:
        """The records, the model, every image encoded once, the examples, their seeded order,
        the optimizer and its schedule."""
        c = self.config
        records = _Records.load(c)
        loaded = dfagpt.build(
            self._model_config(), device=self.device, dtype=torch.float32, log=self.log
        )
        self.features: dict[str, torch.Tensor] = {}
        self.evidence: dict[str, str] = {}
        started = time.time()
        images = sorted({r.image for r in records.train + records.val})
        self._encode_images(loaded, images)
        encode_seconds = time.time() - started
        train = self._examples(records.train, loaded.tokenizer)
        val = self._examples(records.val, loaded.tokenizer)
        total_steps = max(1, math.ceil(len(train) * c.epochs / self._per_step))
        order = self._order([len(e.ids) for e in train], total_steps * self._per_step)
        optimizer, scheduler = self._optimizer(loaded.model, total_steps)
        return _Setup(
            loaded=loaded,
            records=records,
            train=train,
            val=val,
            order=order,
            total_steps=total_steps,
            last_step=min(total_steps, c.stop_at) if c.stop_at else total_steps,
            optimizer=optimizer,
            scheduler=scheduler,
            images=len(images),
            encode_seconds=encode_seconds,
        )

    def _start_or_resume(self, setup: _Setup) -> int:
        """The optimizer step to start at: 0 (from the `init` weights, if any) or the saved
        state's step (a resume has its own weights)."""
        if not train_state.exists(self.out / STATE):
            self._initialise(setup.loaded)
        return self._resume(setup.loaded, setup.optimizer, setup.scheduler)

    def _train(self, setup: _Setup, trained: torch.nn.Module, step: int) -> _Throughput:
        """Optimizer steps from `step` to the run's last, one log line each, a checkpoint
        every `save_every` steps and at the end."""
        bar = self.engine.bar(total=setup.total_steps, initial=step, desc="train mllm", unit="step")
        throughput = _Throughput()
        setup.loaded.model.train()
        setup.loaded.model.vision.eval()
        while step < setup.last_step:
            loss = self._optimizer_step(setup, trained, step, throughput)
            step += 1
            entry = {"step": step, "loss": round(loss, 4), "lr": setup.scheduler.get_last_lr()[-1]}
            self.engine.log(entry | throughput.rates())
            bar.set_postfix(loss=f"{loss:.3f}")
            bar.update(1)
            if step % self.config.save_every == 0 or step == setup.last_step:
                self._checkpoint(setup.loaded, setup.optimizer, setup.scheduler, step)
        bar.close()
        throughput.stop()
        return throughput

    def _optimizer_step(
        self, setup: _Setup, trained: torch.nn.Module, step: int, throughput: _Throughput
    ) -> float:
        """One optimizer step over `grad_accum` micro-batches on the engine's accumulation
        (under DDP the gradients are synced once, on the last micro-batch); returns the step's
        loss, averaged over the processes."""
        c = self.config
        model = setup.loaded.model
        self._set_stage(model, step)
        setup.optimizer.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for micro in range(c.grad_accum):
            first = (step * c.grad_accum + micro) * c.batch_size
            chunk = self.engine.shard(
                [setup.train[i] for i in setup.order[first : first + c.batch_size]]
            )
            with self.engine.accumulate(trained):
                loss = self._loss(trained, setup.loaded.tokenizer, chunk)
                self.engine.backward(loss)  # divides by grad_accum: the gradient of the mean
            loss_sum += float(loss.detach() / c.grad_accum)
            throughput.add(chunk)
        self.engine.clip([p for p in model.parameters() if p.requires_grad], 1.0)
        setup.optimizer.step()
        setup.scheduler.step()
        return self.engine.mean({"loss": loss_sum})["loss"]

    def _summary(self, setup: _Setup, throughput: _Throughput, validation: dict) -> dict:
        return {
            "train_conversations": len(setup.train),
            "tasks": dict(Counter(e.task for e in setup.train)),
            "steps": setup.last_step,
            "scheduled_steps": setup.total_steps,
            "per_step": self._per_step,
            "train_seconds": round(throughput.seconds, 1),
            **throughput.rates(),
            "device": self.device,
            "validation": validation,
            "config": asdict(self.config),
        }

    def _save_model(self, setup: _Setup, summary: dict) -> None:
        """The model folder (trainable weights, config holding the summary), the answer
        vocabulary of every record, and `summary.json`."""
        loaded, tokenizer = setup.loaded, setup.loaded.tokenizer
        loaded.config.info = {"training": summary}
        if self.engine.is_main:
            dfagpt.save(loaded, self.out)
            everything = setup.records.vocabulary
            dfagpt.save_vocabulary(self.out, dfagpt.answer_vocabulary(tokenizer, everything))
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        self.engine.wait()

    # ------------------------------------------------------------------ pieces

    def _order(self, lengths: list[int], needed: int) -> list[int]:
        """Seeded epochs of shuffled indices, as many as `needed` samples take. Within windows of
        16 batches, batches hold conversations of similar length (less padding: a short DF-D
        answer next to a long AD description would pay for the description's length)."""
        rng = random.Random(self.config.seed + 1)
        size = self.config.batch_size
        order: list[int] = []
        while len(order) < needed:
            epoch = list(range(len(lengths)))
            rng.shuffle(epoch)
            for first in range(0, len(epoch), 16 * size):
                window = sorted(epoch[first : first + 16 * size], key=lengths.__getitem__)
                batches = [window[i : i + size] for i in range(0, len(window), size)]
                rng.shuffle(batches)
                order += [i for batch in batches for i in batch]
        return order

    def _optimizer(self, model, total_steps: int):
        c = self.config
        adapters = [p for n, p in model.lm.named_parameters() if "lora_" in n]
        groups = [
            {"params": list(model.projector.parameters()), "lr": c.projector_lr},
            {"params": adapters, "lr": c.lr},
        ]
        optimizer = torch.optim.AdamW(groups, weight_decay=c.weight_decay)
        warmup = max(1, round(c.warmup_ratio * total_steps))
        return optimizer, lr_scheduler(optimizer, total_steps, warmup_steps=warmup)

    def _set_stage(self, model, step: int) -> None:
        """Stage 1 (projector only) for the first `projector_steps`, then LoRA as well."""
        lora_on = step >= self.config.projector_steps
        for name, param in model.lm.named_parameters():
            if "lora_" in name:
                param.requires_grad_(lora_on)

    def _loss(self, model, tokenizer, chunk: list[Example]) -> torch.Tensor:
        batch = collate(tokenizer, [(e.ids, e.labels) for e in chunk])
        batch.input_ids = batch.input_ids.to(self.device)
        batch.attention_mask = batch.attention_mask.to(self.device)
        batch.labels = batch.labels.to(self.device)
        visual = torch.stack([self.features[e.image] for e in chunk]).to(self.device)
        with self.engine.autocast():
            return model(None, batch, visual=visual)

    def _checkpoint(self, loaded, optimizer, scheduler, step: int) -> None:
        """The trainable weights (the model folder) and the one training state beside them."""
        if self.engine.is_main:
            dfagpt.save(loaded, self.out)
            info = {"step": step, "config": self._resume_key()}
            train_state.save_state(
                self.out / STATE, loaded.model, optimizer, info, scheduler=scheduler, weights=False
            )
        self.engine.wait()

    def _resume_key(self) -> dict:
        """The settings a checkpoint must share with this run to be resumed."""
        keep = (
            "data",
            "lm",
            "detector",
            "tasks",
            "evidence",
            "epochs",
            "max_records",
            "balance",
            "batch_size",
            "grad_accum",
            "lora_r",
            "lora_alpha",
            "seed",
            "projector_steps",
            "lr",
            "projector_lr",
        )
        key = {k: getattr(self.config, k) for k in keep} | {"tasks": list(self.config.tasks)}
        if self.config.init:  # only when set: checkpoints from before the option still resume
            key["init"] = self.config.init
        return key

    def _initialise(self, loaded) -> None:
        """The `init` folder's trainable weights, checked to fit this run's LM and LoRA shape."""
        if not self.config.init:
            return
        from opendfa.models.mllm import load_trainable

        folder = Path(self.config.init)
        weights = folder / dfagpt.WEIGHTS_FILE
        if not weights.is_file():
            raise FileNotFoundError(f"--init {folder}: no {dfagpt.WEIGHTS_FILE} in it")
        theirs = dfagpt.DFAGPTConfig.from_json(json.loads((folder / "config.json").read_text()))
        mine = loaded.config
        shape = ("r", "alpha", "target_modules")
        if (theirs.lm, theirs.detector, *(theirs.lora.get(k) for k in shape)) != (
            mine.lm,
            mine.detector,
            *(tuple(mine.lora[k]) if k == "target_modules" else mine.lora[k] for k in shape),
        ):
            raise ValueError(
                f"--init {folder} was trained with another LM, detector or LoRA shape "
                f"({theirs.lm}, {theirs.detector}, r={theirs.lora.get('r')})"
            )
        try:
            load_trainable(loaded.model, weights)
        except RuntimeError as err:  # a shape mismatch inside the projector or an adapter
            raise ValueError(f"--init {folder} does not fit this model: {err}") from None
        self.log(f"starting from the weights of {folder}")

    def _resume(self, loaded, optimizer, scheduler) -> int:
        stem = self.out / STATE
        if not train_state.exists(stem):
            return 0
        info = train_state.read_info(stem)
        if info["config"] != self._resume_key():
            raise ValueError(
                f"{self.out} holds a checkpoint of a different run; use a new --out folder"
            )
        from opendfa.models.mllm import load_trainable

        load_trainable(loaded.model, self.out / dfagpt.WEIGHTS_FILE)
        train_state.load_state(stem, loaded.model, optimizer, scheduler=scheduler)
        self.log(f"resuming at step {info['step']} from {stem.parent}")
        return int(info["step"])

    def _validate(self, loaded, val: list[Example]) -> dict:
        """Answer loss on the val subset, and greedy DF-D / DF-C accuracy on its questions."""
        if not val:
            return {}
        from sklearn.metrics import accuracy_score, recall_score

        from opendfa.metrics.answers import parse_category, parse_detection

        model, tokenizer = loaded.model, loaded.tokenizer
        losses = []
        with torch.inference_mode():
            for start in range(0, len(val), self.config.batch_size):
                chunk = val[start : start + self.config.batch_size]
                losses.append(float(self._loss(model, tokenizer, chunk)) * len(chunk))
        result: dict = {"loss": round(sum(losses) / len(val), 4), "records": len(val)}
        assistant = Assistant(loaded)
        for task, parse, truth_of in (
            ("DF-D", parse_detection, lambda r: r.label),
            ("DF-C", parse_category, lambda r: r.category),
        ):
            items = [e for e in val if e.task == task]
            if not items:
                continue
            answers = []
            for start in range(0, len(items), 8):
                chunk = items[start : start + 8]
                answers += self._answers(assistant, chunk)
            truths = [truth_of(e.record) for e in items]
            guesses = [parse(a) for a in answers]
            result[f"{task}_accuracy"] = round(accuracy_score(truths, guesses), 4)
            # Mean recall over the true classes: "fake" to everything scores 0.5, not 0.91.
            balanced = recall_score(
                truths, guesses, labels=sorted(set(truths)), average="macro", zero_division=0
            )
            result[f"{task}_balanced_accuracy"] = round(float(balanced), 4)
            result[f"{task}_examples"] = [a for a in answers[:3]]
        return result

    def _answers(self, assistant: Assistant, chunk: list[Example]) -> list[str]:
        questions = [e.record.question for e in chunk]
        evidence = [self.evidence.get(e.image) for e in chunk]
        prompts = [assistant.prompt(q, (), ev) for q, ev in zip(questions, evidence, strict=True)]
        batch = collate(assistant.tokenizer, prompts, left=True)
        visual = torch.stack([self.features[e.image] for e in chunk]).to(self.device)
        new = assistant._generate(visual, batch, 24, 0.0, None)
        return [assistant.tokenizer.decode(r, skip_special_tokens=True).strip() for r in new]


class VisionCache:
    """The frozen encoder's features and the detector's numbers per image, one safetensors file
    each under `<data>/vision-cache/<detector weights>-<size>/`, so later runs (resumes, the
    ablation's rows, longer budgets) skip the encoder. Features are stored, and always used, in
    float16: a cached and a fresh run see the same numbers."""

    DTYPE = torch.float16

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def for_run(cls, config: MLLMTrainConfig, loaded: dfagpt.LoadedDFAGPT) -> VisionCache | None:
        sha = getattr(loaded.detector, "weights_sha256", "") or ""
        if not config.vision_cache or not sha:
            return None
        return cls(Path(config.data) / "vision-cache" / f"{sha[:16]}-{loaded.image_size}")

    def _path(self, name: str) -> Path:
        import hashlib

        return self.folder / f"{hashlib.sha1(name.encode()).hexdigest()}.safetensors"

    def get(self, name: str) -> tuple[torch.Tensor, dict] | None:
        from safetensors import SafetensorError, safe_open

        path = self._path(name)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), "pt") as handle:
                meta = handle.metadata() or {}
                if meta.get("image") != name:
                    return None
                return handle.get_tensor("visual"), json.loads(meta["numbers"])
        except (SafetensorError, OSError, KeyError, ValueError):
            return None  # a torn or foreign file: computed again

    def put(self, name: str, feature: torch.Tensor, numbers: dict) -> None:
        from safetensors.torch import save_file

        from opendfa.safe_files import replacing

        self.folder.mkdir(parents=True, exist_ok=True)
        metadata = {"image": name, "numbers": json.dumps(numbers)}
        with replacing(self._path(name)) as temporary:
            save_file({"visual": feature.contiguous()}, str(temporary), metadata=metadata)


def train_mllm(
    config: MLLMTrainConfig, *, progress: bool = True, log: Callable[[str], None] = print
) -> dict:
    return Trainer(config, progress=progress, log=log).run()
