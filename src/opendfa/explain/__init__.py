"""Conversations about an analysis: questions in free text, answers grounded in the report."""

from opendfa.explain.conversation import (
    BACKENDS,
    Conversation,
    ExplainError,
    GroundedBackend,
    Turn,
    make_backend,
)
from opendfa.explain.grounded import Answer, answer, compare_reports
from opendfa.explain.intents import Question, classify

__all__ = [
    "BACKENDS",
    "Answer",
    "Conversation",
    "ExplainError",
    "GroundedBackend",
    "Question",
    "Turn",
    "answer",
    "classify",
    "compare_reports",
    "make_backend",
]
