"""`run_forensics`: every check of the toolbox on one file, and its plain-language findings.

Each finding states what the file shows, never a verdict: "no Content Credentials" is
unknown provenance, "JPEG re-compressed" happens to most photos shared online, and metadata
is a claim by whoever wrote the file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opendfa.forensics.copy_move import CopyMoveRecord, detect_copy_move
from opendfa.forensics.jpeg import JpegRecord, analyze_jpeg
from opendfa.forensics.maps import ForensicMaps, forensic_maps
from opendfa.forensics.metadata import GENERATIVE_SOURCE_TYPES, MetadataRecord, read_metadata
from opendfa.forensics.provenance import ProvenanceRecord, read_provenance
from opendfa.media import DEFAULT_MAX_BYTES, MediaError, file_problem, load_image


@dataclass(frozen=True, eq=False)
class ForensicsReport:
    """All checks of one file. `maps` holds the arrays; `to_dict()` only their summaries."""

    metadata: MetadataRecord
    provenance: ProvenanceRecord
    jpeg: JpegRecord
    maps: ForensicMaps | None = None
    copy_move: CopyMoveRecord | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def signals(self) -> list[str]:
        """Plain-language findings, most telling first within each check."""
        return [
            *_metadata_signals(self.metadata),
            *_provenance_signals(self.provenance),
            *_jpeg_signals(self.jpeg),
            *_copy_move_signals(self.copy_move),
        ]

    def to_dict(self) -> dict:
        return {
            "metadata": self.metadata.to_dict(),
            "provenance": self.provenance.to_dict(),
            "jpeg": self.jpeg.to_dict(),
            "maps": None if self.maps is None else self.maps.to_dict(),
            "copy_move": None if self.copy_move is None else self.copy_move.to_dict(),
            "findings": self.signals(),
            "timings_ms": {k: round(float(v), 2) for k, v in self.timings_ms.items()},
            "warnings": list(self.warnings),
        }


def run_forensics(
    source: str | Path | bytes,
    rgb: np.ndarray | None = None,
    *,
    maps: bool = True,
    copy_move: bool = False,
    trust_anchors: str | None = None,
) -> ForensicsReport:
    """Every check on one image file (a path or its bytes). `rgb` is the decoded image if the
    caller has it (else it is loaded here, for the maps and copy-move only). `trust_anchors`
    are PEM roots for C2PA trust. Raises `MediaError` only when the file cannot be read."""
    data = _read(source)
    timings: dict[str, float] = {}
    notes: list[str] = []
    start = time.perf_counter()
    metadata = read_metadata(data)
    timings["metadata"] = _ms(start)
    mark = time.perf_counter()
    provenance = read_provenance(data, trust_anchors=trust_anchors)
    timings["provenance"] = _ms(mark)
    mark = time.perf_counter()
    jpeg = analyze_jpeg(data)
    timings["jpeg"] = _ms(mark)
    if rgb is None and (maps or copy_move):
        try:
            rgb = load_image(data).rgb
        except MediaError as err:
            notes.append(f"pixel checks skipped: {err.reason}")
    found_maps = found_copies = None
    if rgb is not None and maps:
        mark = time.perf_counter()
        found_maps = forensic_maps(rgb)
        timings["maps"] = _ms(mark)
    if rgb is not None and copy_move:
        mark = time.perf_counter()
        found_copies = detect_copy_move(rgb)
        timings["copy_move"] = _ms(mark)
    timings["total"] = _ms(start)
    return ForensicsReport(
        metadata=metadata,
        provenance=provenance,
        jpeg=jpeg,
        maps=found_maps,
        copy_move=found_copies,
        timings_ms=timings,
        warnings=tuple(notes),
    )


def _read(source: str | Path | bytes) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    path = Path(source)
    problem = file_problem(path)
    if problem:
        raise MediaError(problem, str(path))
    try:
        size = path.stat().st_size
        if size > DEFAULT_MAX_BYTES:
            raise MediaError(f"file too large: {size} bytes, limit {DEFAULT_MAX_BYTES}", str(path))
        return path.read_bytes()
    except OSError as err:
        raise MediaError(f"cannot read file: {err.strerror or err}", str(path)) from None


def _metadata_signals(record: MetadataRecord) -> list[str]:
    found = []
    term = record.digital_source_type
    if term and record.generative_ai_declared:
        found.append(f"XMP declares AI-generated media ({term})")
    elif term and record.ai_declared:
        found.append(f"XMP declares algorithmic or synthetic media ({term})")
    elif term:
        found.append(f"XMP declares the source as {term}")
    found.extend(f"generator metadata: {hint}" for hint in record.generator_hints)
    camera = _camera(record.camera_make, record.camera_model)
    if camera:
        found.append(f"camera EXIF: {camera}")
    for label, value in (("software", record.software), ("creator tool", record.creator_tool)):
        if value:
            kind = {"generator": " (an image generator)", "editor": " (an image editor)"}
            found.append(f"{label}: {value}{kind.get(record.software_kind or '', '')}")
    if record.thumbnail_mismatch:
        found.append(
            "EXIF thumbnail shows a different picture "
            f"(difference {record.thumbnail_difference:.2f}): edited after capture?"
        )
    if record.gps_present:
        found.append("GPS location present (coordinates not shown)")
    if record.format in ("JPEG", "MPO") and not record.has_exif:
        found.append("no EXIF metadata (stripped, or never written)")
    return found


def _provenance_signals(record: ProvenanceRecord) -> list[str]:
    if record.state == "absent":
        return ["no Content Credentials (provenance unknown)"]
    if record.state == "unavailable":
        return [f"Content Credentials not checked ({record.reason})"]
    signer = f"signed by {record.signer}" if record.signer else "signer unknown"
    if record.issuer and record.issuer != record.signer:
        signer += f", issuer {record.issuer}"
    found = {
        "trusted": [f"Content Credentials valid and trusted ({signer})"],
        "valid_untrusted": [
            f"Content Credentials intact ({signer}), but the signer is not on a trust list"
        ],
        "invalid": [f"Content Credentials present but invalid ({record.reason})"],
    }[record.state]
    if record.claim_generator:
        found.append(f"Content Credentials made by {record.claim_generator}")
    for action in record.actions:
        if action.ai_source:
            what = (
                "AI-generated content"
                if action.digital_source_type in GENERATIVE_SOURCE_TYPES
                else "algorithmic or synthetic content"
            )
            found.append(
                f"Content Credentials declare {what} "
                f"({action.action}: {action.digital_source_type})"
            )
    return found


def _jpeg_signals(record: JpegRecord) -> list[str]:
    if not record.is_jpeg or record.quality is None:
        return []
    tables = "standard libjpeg tables" if record.standard_tables else "custom tables"
    found = [f"JPEG quality ≈ {record.quality} ({tables})"]
    if record.double_compressed and record.first_quality is not None:
        found.append(f"JPEG re-compressed (estimated first quality ≈ {record.first_quality})")
    elif record.double_compressed is False:
        found.append("no JPEG re-compression pattern found")
    return found


def _copy_move_signals(record: CopyMoveRecord | None) -> list[str]:
    if record is None or not record.detected:
        return []
    return [
        f"copy-move: a region appears twice (offset {r.offset[0]}, {r.offset[1]} px, "
        f"{r.pairs} matched points)"
        for r in record.regions
    ]


def _camera(make: str | None, model: str | None) -> str | None:
    if make and model and model.lower().startswith(make.lower().split()[0]):
        return model
    return " ".join(part for part in (make, model) if part) or None


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0
