"""The `dfa-gpt` chat backend: a trained DFA-GPT answers from the face itself.

The model sees the decisive face as the aligned crop it was trained on: the face is found again
in the report's preview (the image, or the decisive video frame) and aligned with the
detector's size and margin. The conversation's earlier turns go into the prompt, so follow-up
questions ("why?", "where?") are answered in context; tokens can be streamed as they come.
The reply is the model's own: when its verdict differs from the detector's, `facts` says so
(the analyst sees both, rather than one silently replacing the other).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from opendfa.evidence.report import Report
from opendfa.explain.backends import ExplainError, register_backend
from opendfa.explain.grounded import Answer
from opendfa.explain.intents import Question

if TYPE_CHECKING:
    import numpy as np

    from opendfa.explain.conversation import Turn


@register_backend("dfa-gpt")
class DFAGPTBackend:
    name = "dfa-gpt"
    streams = True  # replies come token by token through `on_text`

    @staticmethod
    def cli_options(args) -> dict:
        return {"model_dir": args.mllm, "quantize": args.int8}

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        loaded=None,
        on_text: Callable[[str], None] | None = None,
        quantize: bool = False,
        max_new_tokens: int = 160,
    ) -> None:
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
        from opendfa.explain.assistant import Exchange

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
