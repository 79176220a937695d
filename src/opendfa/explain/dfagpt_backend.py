"""The `dfa-gpt` chat backend: a trained DFA-GPT answers from the face itself (`Assistant`
asks a loaded model about aligned crops, for chat, the benchmark and the trainer's samples).

The model sees the decisive face as the aligned crop it was trained on: the face is found again
in the report's preview (the image, or the decisive video frame) and aligned with the
detector's size and margin. The conversation's earlier turns go into the prompt, so follow-up
questions ("why?", "where?") are answered in context; tokens can be streamed as they come.
The reply is the model's own: when its verdict differs from the detector's, `facts` says so
(the analyst sees both, rather than one silently replacing the other).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from opendfa.evidence.report import Report
from opendfa.evidence.words import detector_line
from opendfa.explain.conversation import ExplainError, Turn
from opendfa.explain.grounded import Answer
from opendfa.explain.intents import Question
from opendfa.models.dfagpt import LoadedDFAGPT, first_question, image_tensor
from opendfa.models.mllm import collate, encode_conversation


class DFAGPTBackend:
    name = "dfa-gpt"

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        loaded=None,
        on_text: Callable[[str], None] | None = None,
        quantize: bool = False,
        max_new_tokens: int = 160,
    ) -> None:
        from opendfa.models import dfagpt

        if loaded is None:
            if model_dir is None:
                raise ExplainError(
                    "no DFA-GPT model given; train one with `opendfa train mllm` and pass "
                    "its folder with --mllm, or use --backend grounded"
                )
            try:
                loaded = dfagpt.load(model_dir)
            except (FileNotFoundError, ValueError, RuntimeError, ImportError) as err:
                raise ExplainError(f"cannot load DFA-GPT from {model_dir}: {err}") from None
        if quantize:
            dfagpt.quantize_for_cpu(loaded)
        else:
            dfagpt.merge_for_inference(loaded)
        self.assistant = Assistant(loaded)
        self.on_text = on_text
        self.max_new_tokens = max_new_tokens
        self._crops: dict[int, np.ndarray] = {}
        self._faces = None

    def reply(self, question: Question, report: Report, history: list[Turn]) -> Answer:
        crop = self._crop(report)
        past = _exchanges(history[:-1] if history and history[-1].role == "user" else history)
        text = self.assistant.ask(
            crop,
            question.text,
            [Exchange(q, a) for q, a in past],
            max_new_tokens=self.max_new_tokens,
            on_text=self.on_text,
        )
        facts = {"model": str(self.assistant.loaded.folder or "in memory")}
        said = _verdict_in(text)
        if said and report.verdict in ("fake", "real") and said != report.verdict:
            facts["disagrees_with_detector"] = {"dfa_gpt": said, "detector": report.verdict}
        return Answer(text or "(no answer)", question.intent, facts)

    def _crop(self, report: Report) -> np.ndarray:
        key = id(report)
        if key not in self._crops:
            self._crops = {key: self._decisive_crop(report)}
        return self._crops[key]

    def _decisive_crop(self, report: Report) -> np.ndarray:
        from opendfa.faces import FaceDetector, align_face
        from opendfa.faces.types import box_iou

        if report.preview is None or not report.faces:
            raise ExplainError("DFA-GPT needs the analysed image with a face in it")
        if self._faces is None:
            self._faces = FaceDetector()
        decisive = max(report.faces, key=lambda face: face.fake_probability)
        found = self._faces.detect(report.preview)
        if not found:
            raise ExplainError("the face could not be found again for DFA-GPT")
        face = max(found, key=lambda f: box_iou(f.box, decisive.box))
        detector = self.assistant.loaded.detector.config
        aligned = align_face(
            report.preview, face, size=int(detector.input_size), margin=float(detector.crop_margin)
        )
        return aligned.crop


def _exchanges(history: list[Turn]) -> list[tuple[str, str]]:
    """(question, answer) pairs of the finished turns, in order."""
    pairs, question = [], None
    for turn in history:
        if turn.role == "user":
            question = turn.text
        elif question is not None:
            pairs.append((question, turn.text))
            question = None
    return pairs


def _verdict_in(text: str) -> str | None:
    from opendfa.metrics.answers import parse_detection

    verdict = parse_detection(text)
    return verdict if verdict in ("fake", "real") else None


# ----------------------------------------------------------------------------- asking


class _CallbackStreamer:
    """A transformers streamer that hands each finished piece of text to `on_text`."""

    def __init__(self, tokenizer, on_text: Callable[[str], None]) -> None:
        from transformers import TextStreamer

        outer = self

        class _Streamer(TextStreamer):
            def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
                if text:
                    outer.on_text(text)

        self.on_text = on_text
        self.streamer = _Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


@dataclass
class Exchange:
    question: str
    answer: str


class Assistant:
    """Ask a loaded DFA-GPT about aligned face crops: one question with history (chat, with
    streaming) or many single questions at once (the benchmark)."""

    def __init__(self, loaded: LoadedDFAGPT) -> None:
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer

    def visual(self, crops: Sequence[np.ndarray]) -> torch.Tensor:
        size = self.loaded.image_size
        images = torch.stack([image_tensor(c, size) for c in crops]).to(self.loaded.device)
        with torch.inference_mode():
            return self.loaded.model.encode_images(images)

    def evidence_for(self, crop: np.ndarray) -> str:
        from opendfa.models.detector import predict_crops

        p = predict_crops(self.loaded.detector, crop[None])[0]
        threshold = float(self.loaded.detector.info.get("threshold", 0.5))
        return detector_line(
            p.fake_probability, p.category_probabilities, p.region_scores, threshold
        )

    def prompt(
        self, question: str, history: Sequence[Exchange] = (), evidence: str | None = None
    ) -> tuple[list[int], list[int]]:
        """The encoded conversation ending in `ASSISTANT:`; the oldest exchanges after the first
        are dropped when it would not fit in `max_length`."""
        limit = int(self.loaded.config.max_length)
        history = list(history)
        while True:
            turns = []
            for index, exchange in enumerate([*history, Exchange(question, "")]):
                text = (
                    first_question(exchange.question, evidence) if index == 0 else exchange.question
                )
                turns.append({"from": "human", "value": text})
                if index < len(history):
                    turns.append({"from": "gpt", "value": exchange.answer})
            ids, labels = encode_conversation(
                self.tokenizer, turns, max_length=10**9, generation_prompt=True
            )
            if len(ids) <= limit:
                return ids, labels
            if not history:
                raise ValueError(f"the question is too long ({len(ids)} tokens > {limit})")
            history = history[1:]

    def ask(
        self,
        crop: np.ndarray,
        question: str,
        history: Sequence[Exchange] = (),
        *,
        evidence: str | None = None,
        max_new_tokens: int = 160,
        temperature: float = 0.0,
        on_text: Callable[[str], None] | None = None,
    ) -> str:
        """The model's answer to `question` about the face in `crop`."""
        if evidence is None and self.loaded.config.evidence:
            evidence = self.evidence_for(crop)
        batch = collate(self.tokenizer, [self.prompt(question, history, evidence)], left=True)
        streamer = _CallbackStreamer(self.tokenizer, on_text).streamer if on_text else None
        new = self._generate(self.visual([crop]), batch, max_new_tokens, temperature, streamer)
        return self.tokenizer.decode(new[0], skip_special_tokens=True).strip()

    def answer_many(
        self,
        crops: Sequence[np.ndarray],
        questions: Sequence[str],
        *,
        max_new_tokens: int = 160,
        evidence: Sequence[str | None] | None = None,
    ) -> list[str]:
        """Greedy answers to single questions, one per crop, generated as one batch."""
        if evidence is None:
            evidence = [
                self.evidence_for(c) if self.loaded.config.evidence else None for c in crops
            ]
        prompts = [self.prompt(q, (), e) for q, e in zip(questions, evidence, strict=True)]
        batch = collate(self.tokenizer, prompts, left=True)
        new = self._generate(self.visual(crops), batch, max_new_tokens, 0.0, None)
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in new]

    def _generate(self, visual, batch, max_new_tokens, temperature, streamer) -> torch.Tensor:
        device = self.loaded.device
        batch.input_ids = batch.input_ids.to(device)
        batch.attention_mask = batch.attention_mask.to(device)
        return self.loaded.model.generate(
            visual,
            batch,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            temperature=temperature,
            streamer=streamer,
        )
