"""Writing files a crash cannot tear: atomic replacement, and JSON Lines a rerun resumes.

An atomic write goes to a hidden temporary file beside its target (same folder, so the same
file system) and is renamed over it: a reader, or a crash, sees the old file or the new one,
never half of one. A resumable JSON Lines file gets one line per finished item as it finishes;
a rerun reads the complete lines back (a line cut by a crash is left out, and its item done
again) and appends the rest.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# ----------------------------------------------------------------------------- atomic writes


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new content to: renamed over `path` when the block
    ends, removed when it raises. The name is hidden (a leading dot, so folder scans skip it),
    unique (two writers never share it) and keeps the suffix (numpy's `savez` adds `.npz`
    to a name without it)."""
    path = Path(path)
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, value: Any, *, default: Any = None) -> Path:
    """`value` as indented JSON (one space per level, a final newline)."""
    return write_text_atomic(path, json.dumps(value, indent=1, default=default) + "\n")


# ----------------------------------------------------------------------------- resumable JSONL

RowKey = Callable[[dict], Hashable]


def read_jsonl(path: str | Path, key: RowKey) -> dict[Hashable, dict]:
    """The complete rows of `path` by `key(row)`, in file order (a later row of the same key
    replaces the earlier one); a line cut by a crash, or one that is not a JSON object with a
    key, is left out. No file: no rows."""
    return {k: row for k, row, _ in _complete_lines(Path(path), key)}


def resume_jsonl(path: str | Path, key: RowKey) -> dict[Hashable, dict]:
    """`read_jsonl`, with the file rewritten atomically to exactly those rows when it held
    anything else (a cut line, a duplicate, no final newline), so the next appended row
    starts a line of its own."""
    path = Path(path)
    if not path.exists():
        return {}
    kept: dict[Hashable, tuple[dict, str]] = {}
    lines = 0
    for k, row, line in _complete_lines(path, key):
        kept[k] = (row, line)
        lines += 1
    text = "".join(line + "\n" for _, line in kept.values())
    if lines != len(kept) or path.read_bytes() != text.encode("utf-8"):
        write_text_atomic(path, text)
    return {k: row for k, (row, _) in kept.items()}


def append_jsonl(handle: IO[str], row: dict, *, sync: bool = False) -> None:
    """One row as one line, flushed (and with `sync`, on disk): a crash loses at most the
    item in progress."""
    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    handle.flush()
    if sync:
        os.fsync(handle.fileno())


def write_jsonl_atomic(path: str | Path, rows: Iterable[dict]) -> Path:
    """Every row, replacing the file at once (rows amended after they were appended)."""
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _complete_lines(path: Path, key: RowKey) -> Iterator[tuple[Hashable, dict, str]]:
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            yield key(row), row, line
        except (ValueError, KeyError, TypeError, IndexError):
            continue  # cut by a crash (or not a row): its item is done again
