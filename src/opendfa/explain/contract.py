"""What every answer backend shares: the `Answer` it returns, the `Backend` it is, and the
`ExplainError` it raises.

They sit below both the registry (`explain/backends.py`) and the backends
(`explain/grounded.py`...): a backend imports the registry to register itself, and the
registry needs no backend's module for its types (it loads the built-in ones by name), so no
import circle joins them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from opendfa.evidence.report import Report
    from opendfa.explain.intents import Question


@dataclass
class Answer:
    """One reply: its words, the intent it answers, and what they were made from."""

    text: str
    intent: str
    facts: dict = field(default_factory=dict)  # the numbers the text was made from
    attachments: list[str] = field(default_factory=list)  # "mask", "overlay", "ela", "noise"


class ExplainError(RuntimeError):
    """A backend that cannot answer (unreachable endpoint, no model); one line."""


class Backend(Protocol):
    """`name`, `reply`; optionally `describe()`, the words after "answers:" in `opendfa chat`."""

    name: str

    def reply(self, question: Question, report: Report, history: list) -> Answer: ...
