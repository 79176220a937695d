"""Answerers for DFA-Bench: something that reads a face image and a question, and answers.

They live in `ANSWERERS`, a table built on the chat backends' registry mechanism
(`opendfa.explain.backends.Registry`): `make_answerer(name, ...)`, or `answerer_from_cli`
for `opendfa bench --answerer NAME`. It is a sibling of the chat table, not the same one,
because an answerer's contract differs (a question about an image file, with P(fake) when it
has one, versus a question about a report within a conversation).

- `detector`: runs the OpenDFA analysis on the image and answers from its report: the verdict
  for DF-D, the forgery type for DF-C, and for AD a description grounded in the predicted
  regions and measured cues (`opendfa.explain`). It also returns P(fake), so DF-D gets an AUC.
- `dfa-gpt`: the chat's `dfa-gpt` backend (a trained DFA-GPT folder, `opendfa train mllm`),
  its model asked each question about the crop; answers of a chunk of records are generated
  as one batch.
- `openai`: any OpenAI-compatible multimodal chat endpoint (LLaVA via vLLM or llama.cpp,
  GPT-4V class models), through the same client as chat's `openai` backend: the image as a
  base64 data URL and the question, nothing else, as the paper's zero-shot baselines were
  asked.
"""

from __future__ import annotations

import argparse
import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from opendfa.evidence.report import RegionEvidence
from opendfa.evidence.words import (
    REGION_EVIDENCE,
    category_label,
    describe_face,
    join_words,
    region_label,
)
from opendfa.explain.backends import Registry, make_backend
from opendfa.explain.grounded import decisive_face
from opendfa.explain.http import ChatClient
from opendfa.models.configs import DEFAULT_MODEL


@dataclass
class BenchAnswer:
    text: str
    score: float | None = None  # P(fake) when the answerer has one (DF-D AUC)


class Answerer(Protocol):
    name: str

    def answer(self, image: Path, question: str, task: str) -> BenchAnswer: ...


ANSWERERS: Registry[Answerer] = Registry("answerer")
register_answerer = ANSWERERS.register


def make_answerer(name: str, **options) -> Answerer:
    """An answerer by name; options go to its constructor."""
    return ANSWERERS.make(name, **options)


def answerer_from_cli(name: str, args: argparse.Namespace) -> Answerer:
    """An answerer built from `opendfa bench`'s arguments (its `cli_options`)."""
    return ANSWERERS.from_cli(name, args)


@dataclass
class _Judgement:
    verdict: str  # fake | real | inconclusive
    score: float
    category: str
    regions: list[RegionEvidence]
    reasons: list[str] | None = None  # why an inconclusive judgement abstains


@register_answerer("detector")
class DetectorAnswerer:
    """Answers from an OpenDFA analysis of the image. DFA-Bench images are aligned face crops;
    when face detection finds nothing in one (blurry or tiny faces), the crop itself is judged
    as the aligned face it is (`aligned_fallback`), without region cues."""

    @staticmethod
    def cli_options(args: argparse.Namespace) -> dict:
        return {"model": args.model}

    def __init__(
        self, model: str = DEFAULT_MODEL, analyzer=None, *, aligned_fallback: bool = True
    ) -> None:
        from opendfa.evidence.pipeline import Analyzer

        self.analyzer = analyzer or Analyzer(model)
        self.aligned_fallback = aligned_fallback
        self._cache: dict[Path, _Judgement | None] = {}
        self.fallbacks = 0

    def answer(self, image: Path, question: str, task: str) -> BenchAnswer:
        if image not in self._cache:
            self._cache = {image: self._judge(image)}  # records of one image come together
        judgement = self._cache[image]
        if judgement is None:
            return BenchAnswer("Unanswerable: no face was found in this image.")
        if task == "DF-D":
            text = {"fake": "Fake.", "real": "Real."}.get(judgement.verdict)
            if text is None:
                text = f"Inconclusive: {join_words(judgement.reasons or [])}."
        elif task == "DF-C":
            label = judgement.category
            text = "Real." if label == "real" else f"{category_label(label).capitalize()}."
        else:
            text = self._describe(judgement)
        return BenchAnswer(text, judgement.score)

    def evidence(self, image: Path) -> dict | None:
        """The judgement the answers about `image` come from (the bench's grounding check)."""
        from opendfa.bench.grounding import evidence_record

        if image not in self._cache:
            self._cache = {image: self._judge(image)}
        judgement = self._cache[image]
        if judgement is None:
            return None
        return evidence_record(
            judgement.verdict,
            judgement.score,
            judgement.category,
            {r.name: r.score for r in judgement.regions},
            self.analyzer.threshold,
            str(self.analyzer.detector.name),
        )

    def _judge(self, image: Path) -> _Judgement | None:
        from opendfa.media import MediaError

        try:
            report = self.analyzer.analyze_image(image)
        except MediaError:
            return None
        if report.verdict in ("fake", "real", "inconclusive"):
            face = decisive_face(report)
            label = report.forgery_type.label if report.forgery_type else "real"
            reasons = report.abstention.reasons if report.abstention else None
            return _Judgement(
                report.verdict, float(report.fake_probability), label, face.regions, reasons
            )
        if not self.aligned_fallback or report.preview is None:
            return None
        return self._judge_aligned(report.preview)

    def _judge_aligned(self, rgb) -> _Judgement:
        import numpy as np

        from opendfa.evidence.abstain import MARGIN_BAND
        from opendfa.evidence.judge import judge_crop

        self.fallbacks += 1
        side = min(rgb.shape[:2])
        crop = np.ascontiguousarray(rgb[:side, :side])
        judged = judge_crop(self.analyzer.detector, crop, self.analyzer.threshold)
        p, label = judged.fake_probability, judged.forgery_type.label
        if abs(p - judged.threshold) < MARGIN_BAND:  # as the analysis abstains
            reason = f"the detector's score {p:.2f} is near the threshold"
            return _Judgement("inconclusive", p, label, judged.regions, [reason])
        return _Judgement(judged.verdict, p, label, judged.regions)

    @staticmethod
    def _describe(judgement: _Judgement) -> str:
        if judgement.verdict != "inconclusive":
            return describe_face(judgement.category, judgement.regions)
        text = f"I cannot tell from this image: {join_words(judgement.reasons or [])}."
        ranked = sorted(judgement.regions, key=lambda r: -r.score)
        strong = [r for r in ranked if r.score >= REGION_EVIDENCE]
        if strong:
            names = join_words([region_label(r.name) for r in strong[:5]])
            text += f" The highest-scoring regions are the {names}."
        return text


@register_answerer("openai")
class EndpointAnswerer:
    @staticmethod
    def cli_options(args: argparse.Namespace) -> dict:
        return {
            "base_url": args.base_url,
            "model": args.llm,
            "api_key": os.environ.get("OPENAI_API_KEY"),
        }

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 2,
        max_tokens: int = 256,
    ) -> None:
        self.client = ChatClient(base_url, model, api_key, timeout, retries)
        self.max_tokens = max_tokens
        self.tokens = {"prompt": 0, "completion": 0}

    def answer(self, image: Path, question: str, task: str) -> BenchAnswer:
        data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        suffix = Path(image).suffix.lower().lstrip(".") or "png"
        mime = "jpeg" if suffix in ("jpg", "jpeg") else suffix
        content = [
            {"type": "image_url", "image_url": {"url": f"data:image/{mime};base64,{data}"}},
            {"type": "text", "text": question.replace("<image>", "").strip()},
        ]
        reply = self.client.complete(
            [{"role": "user", "content": content}], temperature=0, max_tokens=self.max_tokens
        )
        self.tokens["prompt"] += reply.prompt_tokens
        self.tokens["completion"] += reply.completion_tokens
        return BenchAnswer(reply.text.strip())


@register_answerer("dfa-gpt")
class DFAGPTAnswerer:
    """The chat's `dfa-gpt` backend as a bench answerer: its model asked about the aligned
    crop directly (no report; the detector's evidence line is computed on the crop if the
    model was trained with it). Greedy decoding; short answers for DF-D / DF-C. `precision`
    (float32 by default, as the published tables were made) or int8 with `quantize`."""

    max_new_tokens: ClassVar[dict[str, int]] = {"DF-D": 32, "DF-C": 32, "AD": 160}

    @staticmethod
    def cli_options(args: argparse.Namespace) -> dict:
        return {"model_dir": args.mllm, "batch_size": args.batch_size, "quantize": args.int8}

    def __init__(
        self,
        model_dir,
        *,
        batch_size: int = 8,
        quantize: bool = False,
        loaded=None,
        precision: str = "float32",
    ):
        self.backend = make_backend(
            "dfa-gpt", model_dir=model_dir, loaded=loaded, quantize=quantize, precision=precision
        )
        self.assistant = self.backend.assistant
        self.loaded = self.assistant.loaded
        self.batch_size = batch_size

    @property
    def detector(self):
        """The detector whose backbone the model sees with (the bench's grounding evidence)."""
        return self.loaded.detector

    def answer(self, image: Path, question: str, task: str) -> BenchAnswer:
        return self.answer_many([(image, question, task)])[0]

    def answer_many(self, items: list[tuple[Path, str, str]]) -> list[BenchAnswer]:
        from opendfa.models.dfagpt import read_crop

        replies: list[BenchAnswer | None] = [None] * len(items)
        crops = {}
        for index, (image, _, _) in enumerate(items):
            try:
                crops[index] = read_crop(image)
            except ValueError as err:
                replies[index] = BenchAnswer(f"Unanswerable: {err}.")
        for length in sorted(set(self.max_new_tokens.values())):
            group = [i for i in crops if self.max_new_tokens.get(items[i][2], 160) == length]
            if not group:
                continue
            texts = self.assistant.answer_many(
                [crops[i] for i in group], [items[i][1] for i in group], max_new_tokens=length
            )
            for i, text in zip(group, texts, strict=True):
                replies[i] = BenchAnswer(text)
        return [r if r is not None else BenchAnswer("") for r in replies]

    def answer_grounded(
        self, image: Path, question: str, task: str, evidence: dict
    ) -> tuple[BenchAnswer, int]:
        """The answer as chat writes it: grounded decoding against `evidence` (a stored evidence
        row, `opendfa.bench.grounding.evidence_record`), a description held open as chat holds
        it; also the number of back-offs."""
        from opendfa.evidence.words import REGION_EVIDENCE
        from opendfa.explain.decoding import GroundedReview
        from opendfa.models.dfagpt import read_crop

        try:
            crop = read_crop(image)
        except ValueError as err:
            return BenchAnswer(f"Unanswerable: {err}."), 0
        review = GroundedReview(
            evidence["verdict"],
            evidence.get("category"),
            evidence.get("regions") or {},
            REGION_EVIDENCE,  # the region threshold DFA-Bench's grounding check counts with
            question,
        )
        length = self.max_new_tokens.get(task, 160)
        text = self.assistant.ask(
            crop, question, max_new_tokens=length, min_new_tokens=review.min_tokens, review=review
        )
        return BenchAnswer(text), self.assistant.last_rollbacks
