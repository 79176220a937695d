"""Answers from any OpenAI-compatible chat endpoint, grounded by the report's evidence.

The system message holds the evidence as compact JSON (verdict, probability, type, regions
with scores and cues, warnings) and the rules: answer only from it, never name a region or cue
it lacks. A reply that states the opposite verdict, or a forgery type other than the report's,
is not shown: the grounded answer is given instead and the rejection recorded in `facts`
(`opendfa.explain.guard`).
Only the standard library is used (urllib), so no extra dependency is needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from opendfa.evidence.report import Report
from opendfa.evidence.words import evidence_json
from opendfa.explain.backends import register_backend
from opendfa.explain.grounded import Answer
from opendfa.explain.guard import check_reply, replaced
from opendfa.explain.http import EndpointError, post_chat
from opendfa.explain.intents import Question

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
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.retries = retries
        self.temperature = temperature

    def reply(self, question: Question, report: Report, history: list) -> Answer:
        messages = [{"role": "system", "content": RULES + "\nEvidence: " + evidence_json(report)}]
        for turn in history[-12:]:
            messages.append({"role": turn.role, "content": turn.text})
        text = self._chat(messages)
        earlier = [turn.text for turn in history if turn.role == "assistant"]
        problem = contradiction(text, report, earlier)
        if problem:
            return replaced(question, report, text, problem, "rejected_llm_reply")
        return Answer(text.strip(), question.intent, {"model": self.model})

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}, checked against the detector"

    def _chat(self, messages: list[dict]) -> str:
        from opendfa.explain.conversation import ExplainError

        body = {"model": self.model, "messages": messages, "temperature": self.temperature}
        try:
            reply = post_chat(
                self.base_url,
                body,
                api_key=self.api_key,
                timeout=self.timeout,
                retries=self.retries,
            )
        except EndpointError as err:
            raise ExplainError(str(err)) from None
        return str(reply["choices"][0]["message"]["content"])


def contradiction(text: str, report: Report, earlier: Sequence[str] = ()) -> str | None:
    """Why an LLM reply contradicts the report (wrong verdict or type, a cue the wrong way,
    an absent original, ...) or one of its `earlier` replies, or None."""
    return check_reply(text, report, regions=False, earlier=earlier).contradiction
