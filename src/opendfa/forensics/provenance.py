"""C2PA provenance (Content Credentials), read and validated with `c2pa-python`.

States (`ProvenanceRecord.state`):
- `trusted`: a valid manifest signed by a certificate that chains to a trust anchor given to
  `read_provenance` (the library ships none, so without anchors nothing is `trusted`);
- `valid_untrusted`: the manifest is intact and its signature verifies, but the signer is
  not on a trust list (anyone can make such a certificate: who signed it is a claim);
- `invalid`: a manifest is there but fails validation (the picture changed after signing,
  a broken signature, a malformed store);
- `absent`: no manifest. Most genuine photos have none: this is unknown provenance, never
  evidence of a fake;
- `unavailable`: the `c2pa` package is not installed (or cannot load), with the reason.

Reading is offline: remote manifests and OCSP are never fetched.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from opendfa.forensics.metadata import AI_SOURCE_TYPES

STATES = ("trusted", "valid_untrusted", "invalid", "absent", "unavailable")
_MIME_BY_MAGIC = (
    (b"\xff\xd8", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF8", "image/gif"),
)
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


@dataclass(frozen=True)
class C2paAction:
    """One action of the active manifest (`c2pa.created`, `c2pa.edited`, ...)."""

    action: str
    digital_source_type: str | None = None  # IPTC term, e.g. "trainedAlgorithmicMedia"
    software_agent: str | None = None

    @property
    def ai_source(self) -> bool:
        return self.digital_source_type in AI_SOURCE_TYPES

    def to_dict(self) -> dict:
        return {
            "action": self.action,
            "digital_source_type": self.digital_source_type,
            "software_agent": self.software_agent,
            "ai_source": self.ai_source,
        }


@dataclass(frozen=True)
class ProvenanceRecord:
    """The C2PA state of a file and what its active manifest claims."""

    state: str
    reason: str | None = None  # why `unavailable` or `invalid`, in a few words
    manifest_present: bool = False
    signature_valid: bool | None = None
    validation_state: str | None = None  # the library's own word: Valid | Invalid | Trusted
    claim_generator: str | None = None
    signer: str | None = None  # certificate common name
    issuer: str | None = None  # certificate issuer organisation
    signed_at: str | None = None  # from a time-stamp, when the manifest has one
    title: str | None = None
    actions: tuple[C2paAction, ...] = ()
    ingredients: tuple[str, ...] = ()  # ingredient titles
    failures: tuple[str, ...] = ()  # validation failure codes
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"unknown provenance state {self.state!r}")

    @property
    def ai_declared(self) -> bool:
        """Some action of the active manifest declares an AI or synthetic source."""
        return any(action.ai_source for action in self.actions)

    def to_dict(self) -> dict:
        return {
            "state": self.state,
            "reason": self.reason,
            "manifest_present": self.manifest_present,
            "signature_valid": self.signature_valid,
            "validation_state": self.validation_state,
            "claim_generator": self.claim_generator,
            "signer": self.signer,
            "issuer": self.issuer,
            "signed_at": self.signed_at,
            "title": self.title,
            "actions": [action.to_dict() for action in self.actions],
            "ai_declared": self.ai_declared,
            "ingredients": list(self.ingredients),
            "failures": list(self.failures),
            "warnings": list(self.warnings),
        }


def read_provenance(data: bytes, *, trust_anchors: str | None = None) -> ProvenanceRecord:
    """The provenance record of a file's bytes; `trust_anchors` are PEM root certificates
    whose chains count as trusted. Never raises.

    Every embedded manifest store is a JUMBF box labelled `c2pa`: bytes without one have no
    manifest to read, so the library (slow to import, benchmarks/RESULTS.md "Measured by
    hand") is not loaded for them."""
    if not _has_manifest_box(data):
        return ProvenanceRecord(state="absent")
    try:
        import c2pa
    except Exception as err:  # ImportError, or OSError when the native library cannot load
        return ProvenanceRecord(state="unavailable", reason=f"c2pa not available: {_short(err)}")
    mime = _mime(data)
    if mime is None:
        return ProvenanceRecord(state="absent", reason="format not checked for C2PA")
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=_context(trust_anchors))
        if reader is None:
            return ProvenanceRecord(state="absent")
        with reader:
            store = json.loads(reader.json())
    except Exception as err:  # C2paError: the file or its manifest store cannot be parsed
        if not _has_manifest_box(data):
            return ProvenanceRecord(
                state="absent", warnings=(f"C2PA reader could not parse the file: {_short(err)}",)
            )
        return ProvenanceRecord(
            state="invalid",
            reason=f"unreadable manifest store: {_short(err)}",
            manifest_present=True,
            signature_valid=False,
        )
    return _record(store)


@cache
def _context(trust_anchors: str | None) -> Any:
    import c2pa

    settings: dict[str, Any] = json.loads(json.dumps(_OFFLINE))
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    return c2pa.Context(c2pa.Settings.from_dict(settings))


def _record(store: dict) -> ProvenanceRecord:
    label = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(label) if label else None
    validation = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = tuple(
        str(item.get("code")) for item in results.get("failure") or [] if item.get("code")
    )
    if not results and store.get("validation_status"):  # older stores: one flat list
        failures = tuple(str(item.get("code")) for item in store["validation_status"])
    successes = {str(item.get("code")) for item in results.get("success") or []}
    untrusted = {"signingCredential.untrusted"}
    if validation == "Trusted":
        state = "trusted"
    elif validation == "Valid" or (validation is None and set(failures) <= untrusted):
        state = "valid_untrusted"
    else:
        state = "invalid"
    # The claim's signature can verify while the picture no longer matches its hashes (the
    # file was changed after signing): then `signature_valid` is True and the state invalid.
    if successes:
        signature_valid = "claimSignature.validated" in successes
    else:
        signature_valid = not any(code.startswith("claimSignature.") for code in failures)
    if manifest is None:
        return ProvenanceRecord(
            state="invalid",
            reason="no active manifest in the store",
            manifest_present=True,
            signature_valid=False,
            validation_state=validation,
            failures=failures,
        )
    signature = manifest.get("signature_info") or {}
    reason = None
    if state == "invalid":
        reason = ", ".join(code for code in failures if code not in untrusted) or "invalid"
    return ProvenanceRecord(
        state=state,
        reason=reason,
        manifest_present=True,
        signature_valid=bool(signature_valid),
        validation_state=validation,
        claim_generator=_claim_generator(manifest),
        signer=_text(signature.get("common_name")),
        issuer=_text(signature.get("issuer")),
        signed_at=_text(signature.get("time")),
        title=_text(manifest.get("title")),
        actions=tuple(_actions(manifest)),
        ingredients=tuple(
            _text(item.get("title")) or "(untitled)"
            for item in manifest.get("ingredients") or []
            if isinstance(item, dict)
        ),
        failures=failures,
    )


def _claim_generator(manifest: dict) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        return _text(f"{name} {version}" if name and version else name)
    return _text(manifest.get("claim_generator"))


def _actions(manifest: dict) -> list[C2paAction]:
    found = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict):
            continue
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if not isinstance(action, dict) or not action.get("action"):
                continue
            source = action.get("digitalSourceType")
            agent = action.get("softwareAgent")
            if isinstance(agent, dict):
                agent = agent.get("name")
            found.append(
                C2paAction(
                    action=str(action["action"])[:100],
                    digital_source_type=str(source).rsplit("/", 1)[-1] if source else None,
                    software_agent=_text(agent),
                )
            )
    return found


def _has_manifest_box(data: bytes) -> bool:
    """Whether the bytes hold a JUMBF box labelled c2pa (a manifest store, maybe broken)."""
    return b"jumb" in data and b"c2pa" in data


def _mime(data: bytes) -> str | None:
    for magic, mime in _MIME_BY_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis"):
            return "image/heic"
        return "video/mp4"
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = "".join(c for c in str(value) if c.isprintable()).strip()
    return text[:200] or None


def _short(err: BaseException) -> str:
    return (" ".join(str(err).split()) or type(err).__name__)[:160]
