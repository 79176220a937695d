"""Multi-turn conversation about one analysis, with pluggable answer backends.

`Conversation(report)` keeps the history; `ask(text)` classifies the question, asks the
backend and records both turns. Backends:

- `grounded` (default): deterministic, offline, every sentence built from the report's numbers
  (`opendfa.explain.grounded`);
- `openai`: any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama), given
  the report's evidence as a system message and the history; its reply is checked against the
  verdict and replaced by the grounded answer if it contradicts it;
- `dfa-gpt`: a local DFA-GPT model folder (`opendfa train mllm`), answering from the face itself
  with the conversation so far, tokens streamed as they come; a finished reply the report does
  not support (other verdict or type, a region scoring below 0.5) is replaced by the grounded
  answer (`facts["replaced"]`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from opendfa.evidence.report import Report
from opendfa.explain.backends import Backend, ExplainError
from opendfa.explain.grounded import Answer, GroundedBackend, compare_reports
from opendfa.explain.intents import classify

__all__ = ["Conversation", "ExplainError", "Turn"]


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    intent: str | None = None
    backend: str | None = None
    time: float = field(default_factory=time.time)
    facts: dict = field(default_factory=dict)


@dataclass
class Conversation:
    """The state of one analyst's conversation about `report`."""

    report: Report
    backend: Backend = field(default_factory=GroundedBackend)
    history: list[Turn] = field(default_factory=list)

    def ask(self, text: str) -> Answer:
        text = " ".join(str(text).split())
        if not text:
            raise ValueError("empty question")
        question = classify(text)
        self.history.append(Turn("user", text, question.intent))
        reply = self.backend.reply(question, self.report, self.history)
        self.history.append(
            Turn("assistant", reply.text, reply.intent, self.backend.name, facts=reply.facts)
        )
        return reply

    def compare(self, other: Report) -> Answer:
        reply = compare_reports(self.report, other)
        self.history.append(Turn("user", f"compare with {other.input.path}", "compare"))
        self.history.append(Turn("assistant", reply.text, "compare", "grounded"))
        return reply

    def to_json(self) -> dict:
        return {
            "schema": "opendfa.conversation/1",
            "input": self.report.input.to_json(),
            "verdict": self.report.verdict,
            "backend": self.backend.name,
            "turns": [asdict(turn) for turn in self.history],
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n")
        return path
