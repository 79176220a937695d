"""SQLite case store (WAL): analyses with their full report, inputs and conversations.

Each case keeps what an auditor needs to reproduce it: the input's SHA-256 and name, the
detector's name and weights hash, the threshold, the complete `opendfa.report/1` document and
timestamps; each conversation turn keeps its text, intent, backend and the facts it used.
Preview images go to files beside the database, named by the SHA-256 of their pixels, so
the database stays small, many uploads of one photo share one file, and the file goes when
the last case that shows it is deleted. A preview is kept at what a page shows (longest side
`PREVIEW_MAX_SIDE`, a quality-90 JPEG, never a lossless copy of a large upload) and read back
at the size the report's boxes and masks refer to. (Stores from before schema 3 keep
`<case id>.png`, those before schema 4 `<sha256>.png` at full size.)

A store may have a quota (`max_bytes`: the database's live pages plus the preview files); an
analysis that does not fit raises `StoreFull` and stores nothing. `expire(before)` deletes
the cases created before a time, oldest first (a retention period). File names are stored
and shown with control and bidirectional characters escaped (`display_name`).

Migrations: `PRAGMA user_version` holds the schema version; `MIGRATIONS[k]` upgrades from
version k to k + 1, applied in order inside a transaction when a store is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from opendfa.evidence.report import Report, upgrade_report
from opendfa.safe_files import write_bytes_atomic

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE cases (
        id TEXT PRIMARY KEY,
        created REAL NOT NULL,
        input_name TEXT NOT NULL,
        input_sha256 TEXT,
        kind TEXT NOT NULL,
        verdict TEXT NOT NULL,
        fake_probability REAL,
        detector TEXT NOT NULL,
        weights_sha256 TEXT,
        threshold REAL NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX cases_created ON cases(created);
    CREATE INDEX cases_sha ON cases(input_sha256);
    CREATE TABLE turns (
        case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        intent TEXT,
        backend TEXT,
        facts TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        PRIMARY KEY (case_id, seq)
    );
    """,
    """
    ALTER TABLE cases ADD COLUMN preview_frame INTEGER;
    ALTER TABLE cases ADD COLUMN opendfa_version TEXT;
    """,
    """
    ALTER TABLE cases ADD COLUMN preview_sha256 TEXT;
    CREATE INDEX cases_preview ON cases(preview_sha256);
    """,
    """
    ALTER TABLE cases ADD COLUMN preview_width INTEGER;
    ALTER TABLE cases ADD COLUMN preview_height INTEGER;
    """,
)
PREVIEW_MAX_SIDE = 1600  # what the web UI and the HTML report show, with room to zoom
PREVIEW_QUALITY = 90
NAME_LIMIT = 200  # characters of a file name shown
PATH_LIMIT = 1000  # characters of the report's input path
SUMMARY_COLUMNS = (
    "id, created, input_name, input_sha256, kind, verdict, fake_probability, detector, "
    "weights_sha256"
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreFull(Exception):
    """The store's quota leaves no room for this case; `str(err)` is one line."""


@dataclass
class StoredTurn:
    seq: int
    role: str
    text: str
    intent: str | None
    backend: str | None
    facts: dict
    created: float


@dataclass
class NewTurn:
    """A turn to store; the store numbers and timestamps it."""

    role: str
    text: str
    intent: str | None = None
    backend: str | None = None
    facts: dict = field(default_factory=dict)


@dataclass
class Case:
    id: str
    created: float
    input_name: str
    input_sha256: str | None
    kind: str
    verdict: str
    fake_probability: float | None
    detector: str
    weights_sha256: str | None
    threshold: float
    report: dict = field(repr=False)
    preview_frame: int | None = None
    opendfa_version: str | None = None
    preview_sha256: str | None = None
    preview_width: int | None = None
    preview_height: int | None = None

    def summary(self) -> dict:
        return {
            "id": self.id,
            "created": self.created,
            "input_name": self.input_name,
            "input_sha256": self.input_sha256,
            "kind": self.kind,
            "verdict": self.verdict,
            "fake_probability": self.fake_probability,
            "detector": self.detector,
            "weights_sha256": self.weights_sha256,
        }

    def to_report(self, preview: np.ndarray | None = None) -> Report:
        report = Report.from_json(self.report)
        report.preview = preview
        report.preview_frame = self.preview_frame
        return report


class CaseStore:
    """Thread-safe: one connection guarded by a lock (SQLite serialises writes anyway).
    `max_bytes` is the quota (None: none), checked by every `add`."""

    def __init__(self, folder: str | Path, *, max_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "previews").mkdir(exist_ok=True)
        self.path = self.folder / "cases.sqlite3"
        self.max_bytes = max_bytes
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self.migrate()
        self._preview_bytes = sum(
            entry.stat().st_size
            for entry in os.scandir(self.folder / "previews")
            if entry.is_file() and not entry.name.startswith(".")
        )

    # -- schema

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply the migrations this database lacks; returns the resulting version."""
        with self._lock:
            current = self.version
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {current}, newer than this OpenDFA "
                    f"({SCHEMA_VERSION}); upgrade OpenDFA"
                )
            for version in range(current, SCHEMA_VERSION):
                with self._transaction():
                    for statement in MIGRATIONS[version].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={version + 1}")
            return self.version

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- cases

    def add(self, report: Report, *, input_name: str | None = None) -> Case:
        """Store an analysis (and its preview image, if any); returns the new case. Raises
        `StoreFull`, storing nothing, if the case would take the store past its quota."""
        from opendfa import __version__

        data = report.to_json()
        if isinstance(data.get("input"), dict) and isinstance(data["input"].get("path"), str):
            data["input"]["path"] = display_name(data["input"]["path"], PATH_LIMIT)
        document = json.dumps(data, separators=(",", ":"))
        preview = report.preview
        case = Case(
            id=uuid.uuid4().hex,
            created=time.time(),
            input_name=display_name(input_name or report.input.path),
            input_sha256=report.input.sha256,
            kind=report.input.kind,
            verdict=report.verdict,
            fake_probability=report.fake_probability,
            detector=report.model.detector,
            weights_sha256=report.model.weights_sha256,
            threshold=report.model.threshold,
            report=data,
            preview_frame=report.preview_frame,
            opendfa_version=__version__,
            preview_sha256=None if preview is None else preview_digest(preview),
            preview_width=None if preview is None else int(preview.shape[1]),
            preview_height=None if preview is None else int(preview.shape[0]),
        )
        encoded = None if preview is None else encode_preview(preview)  # outside the lock
        with self._transaction():
            new_file = case.preview_sha256 is not None and not self._preview_exists(
                case.preview_sha256
            )
            self._check_room(len(document) + (len(encoded) if new_file and encoded else 0))
            if new_file and encoded is not None and case.preview_sha256 is not None:
                self._write_preview(case.preview_sha256, encoded)
            self._db.execute(
                "INSERT INTO cases (id, created, input_name, input_sha256, kind, verdict, "
                "fake_probability, detector, weights_sha256, threshold, report, preview_frame, "
                "opendfa_version, preview_sha256, preview_width, preview_height) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    case.id,
                    case.created,
                    case.input_name,
                    case.input_sha256,
                    case.kind,
                    case.verdict,
                    case.fake_probability,
                    case.detector,
                    case.weights_sha256,
                    case.threshold,
                    document,
                    case.preview_frame,
                    case.opendfa_version,
                    case.preview_sha256,
                    case.preview_width,
                    case.preview_height,
                ),
            )
        return case

    def _check_room(self, needed: int) -> None:
        if self.max_bytes is None:
            return
        used = self.usage()
        if used + needed > self.max_bytes:
            raise StoreFull(
                f"the case store is full ({_megabytes(used)} of {_megabytes(self.max_bytes)} "
                "used): delete cases or raise the quota"
            )

    def _preview_exists(self, digest: str) -> bool:
        return self._shared_preview_path(digest).exists()

    def _write_preview(self, digest: str, encoded: bytes) -> None:
        """Write a shared preview file (atomic: temp file, then rename); the caller holds the
        lock and has checked that it does not exist."""
        write_bytes_atomic(self._shared_preview_path(digest), encoded)
        self._preview_bytes += len(encoded)

    def usage(self) -> int:
        """Bytes the store uses: the database's live pages and the preview files."""
        with self._lock:
            pages, free, size = (
                self._db.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("page_count", "freelist_count", "page_size")
            )
            return (pages - free) * size + self._preview_bytes

    def get(self, case_id: str) -> Case | None:
        if not valid_case_id(case_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        return None if row is None else _case(row)

    def exists(self, case_id: str) -> bool:
        if not valid_case_id(case_id):
            return False
        with self._lock:
            found = self._db.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone()
        return found is not None

    def list(self, limit: int = 50, offset: int = 0) -> list[Case]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM cases ORDER BY created DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [_case(row) for row in rows]

    def summaries(self, limit: int = 50, offset: int = 0) -> list[dict]:
        """`Case.summary()` of the newest cases without loading their reports (fast listing)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {SUMMARY_COLUMNS} FROM cases ORDER BY created DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [{**dict(row), "input_name": display_name(row["input_name"])} for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM cases").fetchone()[0])

    def delete(self, case_id: str) -> bool:
        """Delete a case, its turns, and its preview file once no other case shows it."""
        if not valid_case_id(case_id):
            return False
        with self._transaction():
            row = self._db.execute(
                "SELECT preview_sha256 FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            if row is None:
                return False
            self._db.execute("DELETE FROM cases WHERE id = ?", (case_id,))
            digest = row["preview_sha256"]
            if digest is None:
                self._unlink(self._legacy_preview_path(case_id))
            elif not self._db.execute(
                "SELECT 1 FROM cases WHERE preview_sha256 = ? LIMIT 1", (digest,)
            ).fetchone():
                self._unlink(self._shared_preview_path(digest))
                self._unlink(self._shared_preview_path(digest, ".png"))
        return True

    def expire(self, before: float, limit: int = 100) -> list[str]:
        """Delete up to `limit` cases created before `before` (seconds since 1970), oldest
        first; returns their ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM cases WHERE created < ? ORDER BY created LIMIT ?", (before, limit)
            ).fetchall()
        return [row["id"] for row in rows if self.delete(row["id"])]

    def _unlink(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self._preview_bytes -= size

    def preview(self, case_id: str) -> np.ndarray | None:
        """The case's preview image (RGB), at the size its report's coordinates refer to."""
        case = self.get(case_id)
        if case is None:
            return None
        if case.preview_sha256 is None:
            path = self._legacy_preview_path(case_id)
        else:
            path = self._shared_preview_path(case.preview_sha256)
            if not path.exists():
                path = self._shared_preview_path(case.preview_sha256, ".png")
        if not path.exists():
            return None
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            return None
        size = (case.preview_width, case.preview_height)
        if None not in size and size != (bgr.shape[1], bgr.shape[0]):
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def report(self, case_id: str) -> Report | None:
        """The case's report with its preview image, ready for HTML or a conversation."""
        case = self.get(case_id)
        return None if case is None else case.to_report(self.preview(case_id))

    # -- conversations

    def add_turn(
        self,
        case_id: str,
        role: str,
        text: str,
        *,
        intent: str | None = None,
        backend: str | None = None,
        facts: dict | None = None,
    ) -> StoredTurn:
        return self.add_turns(case_id, [NewTurn(role, text, intent, backend, facts or {})])[0]

    def add_turns(self, case_id: str, turns: list[NewTurn]) -> list[StoredTurn]:
        """Append turns with consecutive numbers in one transaction (a question and its
        answer are never split by another writer's turns)."""
        with self._transaction():
            seq = self._db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM turns WHERE case_id = ?", (case_id,)
            ).fetchone()[0]
            stored = []
            for offset, new in enumerate(turns):
                turn = StoredTurn(
                    seq + offset,
                    new.role,
                    new.text,
                    new.intent,
                    new.backend,
                    new.facts,
                    time.time(),
                )
                self._db.execute(
                    "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        case_id,
                        turn.seq,
                        turn.role,
                        turn.text,
                        turn.intent,
                        turn.backend,
                        json.dumps(turn.facts, default=str),
                        turn.created,
                    ),
                )
                stored.append(turn)
        return stored

    def turns(self, case_id: str) -> list[StoredTurn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM turns WHERE case_id = ? ORDER BY seq", (case_id,)
            ).fetchall()
        return [
            StoredTurn(
                r["seq"],
                r["role"],
                r["text"],
                r["intent"],
                r["backend"],
                json.loads(r["facts"]),
                r["created"],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _legacy_preview_path(self, case_id: str) -> Path:
        if not valid_case_id(case_id):
            raise ValueError(f"bad case id {case_id!r}")
        return self.folder / "previews" / f"{case_id}.png"

    def _shared_preview_path(self, digest: str, suffix: str = ".jpg") -> Path:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"bad preview digest {digest!r}")
        return self.folder / "previews" / f"{digest}{suffix}"


def encode_preview(preview: np.ndarray, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """The stored form of a preview: at most `max_side` pixels on its longest side, as a
    quality-90 JPEG (a noisy photo stored losslessly grows many times over its upload)."""
    rgb = np.ascontiguousarray(preview)
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    scale = max_side / max(rgb.shape[:2])
    if scale < 1:
        size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])
    if not ok:
        raise ValueError("cannot encode the preview image")
    return jpeg.tobytes()


def display_name(name: str, limit: int = NAME_LIMIT) -> str:
    """A file name safe to show: control, bidirectional and other invisible characters
    (U+202E, U+200B, newlines...) written as escapes (`\\u202e`), at most `limit` characters
    (an escape is never cut in half)."""
    shown = ""
    for char in name:
        piece = char if char.isprintable() else ascii(char)[1:-1]
        if len(shown) + len(piece) > limit:
            break
        shown += piece
    return shown


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def preview_digest(preview: np.ndarray) -> str:
    """SHA-256 of a preview's shape, type and pixels: the name of its shared file."""
    pixels = np.ascontiguousarray(preview)
    digest = hashlib.sha256(f"{pixels.shape}{pixels.dtype}".encode())
    digest.update(memoryview(pixels).cast("B"))
    return digest.hexdigest()


def valid_case_id(case_id: str) -> bool:
    """Case ids are 32 lowercase hex digits (uuid4().hex); anything else names no case."""
    return len(case_id) == 32 and all(c in "0123456789abcdef" for c in case_id)


def _case(row: sqlite3.Row) -> Case:
    report = upgrade_report(json.loads(row["report"]))  # opendfa.report/1 rows: forensics null
    if isinstance(report.get("input"), dict) and isinstance(report["input"].get("path"), str):
        report["input"]["path"] = display_name(report["input"]["path"], PATH_LIMIT)  # old rows
    return Case(
        id=row["id"],
        created=row["created"],
        input_name=display_name(row["input_name"]),
        input_sha256=row["input_sha256"],
        kind=row["kind"],
        verdict=row["verdict"],
        fake_probability=row["fake_probability"],
        detector=row["detector"],
        weights_sha256=row["weights_sha256"],
        threshold=row["threshold"],
        report=report,
        preview_frame=row["preview_frame"],
        opendfa_version=row["opendfa_version"],
        preview_sha256=row["preview_sha256"],
        preview_width=row["preview_width"],
        preview_height=row["preview_height"],
    )
