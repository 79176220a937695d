"""The case store: every analysis and conversation, auditable and reproducible later."""

from opendfa.store.cases import Case, CaseStore, StoredTurn

__all__ = ["Case", "CaseStore", "StoredTurn"]
