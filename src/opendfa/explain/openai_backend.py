"""Answers from any OpenAI-compatible chat endpoint, grounded by the report's evidence.

The system message holds the evidence as compact JSON (verdict, probability, type, regions
with scores and cues, warnings) and the rules: answer only from it, never name a region or cue
it lacks. A reply that states the opposite verdict, or a forgery type other than the report's,
is not shown: the grounded answer is given instead and the rejection recorded in `facts`
(`opendfa.explain.reply_check`).
The endpoint is reached through `opendfa.explain.http.ChatClient` (standard library only, so
no extra dependency is needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from opendfa.evidence.report import Report
from opendfa.evidence.words import evidence_json
from opendfa.explain.backends import register_backend
from opendfa.explain.contract import Answer, ExplainError
from opendfa.explain.http import ChatClient, EndpointError
from opendfa.explain.intents import Question
from opendfa.explain.reply_check import check_reply, replaced

RULES = (
    "You are OpenDFA's analyst assistant for deepfake analysis. Answer the user's question "
    "about one analysed image or video using ONLY the evidence JSON below. Never mention a "
    "face region, cue, frame or forgery type unless the evidence lists it with a value that "
    "supports it (region score >= 0.5). Quote numbers with two decimals. If the evidence "
    "cannot answer, say so. Keep answers under 120 words."
)


@register_backend("openai")
class OpenAIBackend:
    name = "openai"

    @staticmethod
    def cli_options(args) -> dict:
        return {"base_url": args.base_url, "model": args.llm}

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = "default",
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        temperature: float = 0.2,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.client = ChatClient(base_url, model, key, timeout, retries)
        self.temperature = temperature

    def reply(self, question: Question, report: Report, history: list) -> Answer:
        messages = [{"role": "system", "content": RULES + "\nEvidence: " + evidence_json(report)}]
        for turn in history[-12:]:
            messages.append({"role": turn.role, "content": turn.text})
        text = self._chat(messages)
        earlier = [turn.text for turn in history if turn.role == "assistant"]
        problem = reply_problem(text, report, earlier)
        if problem:
            return replaced(question, report, text, problem, "rejected_llm_reply")
        return Answer(text.strip(), question.intent, {"model": self.client.model})

    def describe(self) -> str:
        return f"{self.client.model} at {self.client.base_url}, checked against the detector"

    def _chat(self, messages: list[dict]) -> str:
        try:
            return self.client.complete(messages, temperature=self.temperature).text
        except EndpointError as err:
            raise ExplainError(str(err)) from None


def reply_problem(text: str, report: Report, earlier: Sequence[str] = ()) -> str | None:
    """Why an LLM reply contradicts the report (wrong verdict or type, a cue the wrong way,
    an absent original, ...) or one of its `earlier` replies, or None."""
    return check_reply(text, report, regions=False, earlier=earlier).contradiction
