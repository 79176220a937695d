"""The case store: every analysis and conversation, auditable and reproducible later."""

from opendfa.store.cases import Case, CaseStore, NewTurn, StoredTurn

__all__ = ["Case", "CaseStore", "NewTurn", "StoredTurn"]
