"""Former home of the model-folder writers; they live in `opendfa.models.folder` now (this name
keeps old imports working)."""

from opendfa.models.folder import write_json, write_weights

__all__ = ["write_json", "write_weights"]
