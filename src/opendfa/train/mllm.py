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
import os
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
            lm=c.lm, detector=c.detector, evidence=c.evidence, lora=lora, max_length=c.max_length
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
        threshold = DEFAULT_THRESHOLD  # as judge_crops and the analysis judge
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

    def _keep(self, name: str, feature: torch.Tensor, numbers: dict, threshold: float) -> None:
        self.features[name] = feature.float()
        if self.config.evidence:
            self.evidence[name] = detector_line(
                numbers["fake_probability"],
                numbers["category_probabilities"],
                numbers["region_scores"],
                threshold,
            )

    # ------------------------------------------------------------------ run

    def run(self) -> dict:
        c = self.config
        seed_everything(c.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        all_train = load_records(c.data, "train", c.tasks)
        train_records = all_train
        if c.balance:
            train_records = balance_answers(train_records, c.seed)
        train_records = subset(train_records, c.max_records, c.seed)
        val_records = subset(load_records(c.data, "val", c.tasks), c.val_records, c.seed)
        if not train_records:
            raise ValueError(f"no training records for tasks {list(c.tasks)} in {c.data}")
        config = self._model_config()
        loaded = dfagpt.build(config, device=self.device, dtype=torch.float32, log=self.log)
        tokenizer = loaded.tokenizer
        self.features: dict[str, torch.Tensor] = {}
        self.evidence: dict[str, str] = {}
        started = time.time()
        images = sorted({r.image for r in train_records + val_records})
        self._encode_images(loaded, images)
        encode_seconds = time.time() - started
        train = self._examples(train_records, tokenizer)
        val = self._examples(val_records, tokenizer)
        per_step = c.batch_size * c.grad_accum
        total_steps = max(1, math.ceil(len(train) * c.epochs / per_step))
        order = self._order([len(e.ids) for e in train], total_steps * per_step)
        model = loaded.model
        optimizer, scheduler = self._optimizer(model, total_steps)
        if not train_state.exists(self.out / STATE):  # a resume has its own weights
            self._initialise(loaded)
        step = self._resume(loaded, optimizer, scheduler)
        trained = self.engine.prepare_model(model)  # DDP over the processes, when several
        self.log(
            f"DFA-GPT: {len(train)} training conversations "
            f"({dict(Counter(e.task for e in train))}), {total_steps} steps of {per_step}, "
            f"{len(images)} images encoded in {encode_seconds:.0f} s, device {self.device}"
        )
        bar = self.engine.bar(total=total_steps, initial=step, desc="train mllm", unit="step")
        tokens = samples = 0
        run_started = time.time()
        model.train()
        model.vision.eval()
        last = min(total_steps, c.stop_at) if c.stop_at else total_steps
        while step < last:
            self._set_stage(model, step)
            optimizer.zero_grad(set_to_none=True)
            loss_sum = 0.0
            for micro in range(c.grad_accum):
                first = (step * c.grad_accum + micro) * c.batch_size
                chunk = self.engine.shard([train[i] for i in order[first : first + c.batch_size]])
                loss = self._loss(trained, tokenizer, chunk) / c.grad_accum
                self.engine.backward(loss)
                loss_sum += float(loss.detach())
                tokens += sum(len(e.ids) for e in chunk)
                samples += len(chunk)
            self.engine.clip([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum = self.engine.mean({"loss": loss_sum})["loss"]
            elapsed = time.time() - run_started
            entry = {
                "step": step,
                "loss": round(loss_sum, 4),
                "lr": scheduler.get_last_lr()[-1],
                "samples_per_s": round(samples / elapsed, 3),
                "tokens_per_s": round(tokens / elapsed, 1),
            }
            self.engine.log(entry)
            bar.set_postfix(loss=f"{loss_sum:.3f}")
            bar.update(1)
            if step % c.save_every == 0 or step == last:
                self._checkpoint(loaded, optimizer, scheduler, step)
        bar.close()
        train_seconds = time.time() - run_started
        model.eval()
        validation = self._validate(loaded, val)
        summary = {
            "train_conversations": len(train),
            "tasks": dict(Counter(e.task for e in train)),
            "steps": last,
            "scheduled_steps": total_steps,
            "per_step": per_step,
            "train_seconds": round(train_seconds, 1),
            "samples_per_s": round(samples / max(train_seconds, 1e-9), 3),
            "tokens_per_s": round(tokens / max(train_seconds, 1e-9), 1),
            "device": self.device,
            "validation": validation,
            "config": asdict(c),
        }
        loaded.config.info = {"training": summary}
        if self.engine.is_main:
            dfagpt.save(loaded, self.out)
            everything = all_train + val_records
            dfagpt.save_vocabulary(self.out, dfagpt.answer_vocabulary(tokenizer, everything))
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        self.engine.wait()
        return summary

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

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        metadata = {"image": name, "numbers": json.dumps(numbers)}
        save_file({"visual": feature.contiguous()}, str(temporary), metadata=metadata)
        temporary.replace(path)


def train_mllm(
    config: MLLMTrainConfig, *, progress: bool = True, log: Callable[[str], None] = print
) -> dict:
    return Trainer(config, progress=progress, log=log).run()
