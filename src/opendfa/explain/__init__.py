"""Conversations about an analysis: questions in free text, answers grounded in the report."""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "BACKENDS": "opendfa.explain.backends",
    "Answer": "opendfa.explain.contract",
    "Conversation": "opendfa.explain.conversation",
    "ExplainError": "opendfa.explain.contract",
    "GroundedBackend": "opendfa.explain.grounded",
    "Question": "opendfa.explain.intents",
    "Turn": "opendfa.explain.conversation",
    "answer": "opendfa.explain.grounded",
    "classify": "opendfa.explain.intents",
    "compare_reports": "opendfa.explain.grounded",
    "make_backend": "opendfa.explain.backends",
    "register_backend": "opendfa.explain.backends",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
