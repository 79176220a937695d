"""Receiving an upload: the multipart body streamed straight into a file under the case
store's folder (`<data>/tmp/`), counted against a cap on temporary space as it arrives.

Nothing goes to the system temp dir and no more than one chunk is held in memory. A body that
stalls is dropped by the guard (serve/guard.py, 408), as is one that takes longer than
`upload_seconds` in all (here); one past the upload cap gets 413, one that would take the
temporary space past its cap 503 with Retry-After, and a client that leaves mid-body is
logged as one line. The folder is emptied at start and at exit, so a server killed during an
analysis leaves nothing behind once it restarts.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from opendfa.serve.pool import Busy
from opendfa.store.cases import display_name

log = logging.getLogger("opendfa.serve")

PREFIX = "opendfa-upload-"  # temporary files of uploads, here and (before) in the system temp dir
STALE_SECONDS = 600  # leftovers in the system temp dir older than this are ours to remove
MAX_PARTS = 8
NO_FILE = "send the image or video as a multipart file part named 'file'"
SUFFIX = re.compile(r"\.[a-z0-9]{1,8}", re.ASCII)
CLOSE = {"Connection": "close"}  # the rest of the body is not read: do not reuse the socket


class ClientGone(Exception):
    """The client disconnected; nothing can be answered (logged as one line)."""


@dataclass
class Upload:
    """A received file: its name as shown (`display_name`) and where its bytes are."""

    name: str
    path: Path
    size: int


class Spool:
    """The folder uploads are received into, and the bytes they hold there together
    (`max_bytes`: past it an upload is refused with 503 while others finish)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def clean(self) -> int:
        """Empty the folder (files left by a server that was killed); returns how many
        entries went. Called at start and at exit."""
        removed = 0
        if self.folder.is_dir():
            for entry in self.folder.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        return removed

    def take(self, size: int) -> bool:
        with self._lock:
            if self._used + size > self.max_bytes:
                return False
            self._used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self._used -= size


def sweep_system_temp(now: float | None = None) -> int:
    """Remove what older servers left in the system temp dir: folders named `opendfa-upload-*`
    owned by this user, holding only `upload.*` files, untouched for `STALE_SECONDS`."""
    removed, now = 0, now or time.time()
    root = Path(tempfile.gettempdir())
    for folder in root.glob(f"{PREFIX}*"):
        try:
            info = folder.lstat()
            files = list(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
        except OSError:
            continue
        ours = info.st_uid == os.getuid() and now - info.st_mtime > STALE_SECONDS
        if ours and files and all(f.name.startswith("upload.") and f.is_file() for f in files):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


class Received:
    """Stores the one file part of a multipart body as the parser finds it."""

    def __init__(self, spool: Spool, max_bytes: int, retry_after: int) -> None:
        self.spool, self.max_bytes, self.retry_after = spool, max_bytes, retry_after
        self.name: str | None = None
        self.path: Path | None = None
        self.size = 0
        self.parts = 0
        self._file: BinaryIO | None = None
        self._writing = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise HTTPException(422, f"at most {MAX_PARTS} form parts", headers=CLOSE)
        self._disposition, self._writing = b"", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != b"file" or b"filename" not in options:
            return  # another field: its data is skipped
        if self.path is not None:
            raise HTTPException(422, "send one file per upload", headers=CLOSE)
        given = Path(_decode(options[b"filename"])).name
        name = display_name(given)  # shortened for display: the suffix is read from `given`
        if not name:
            raise HTTPException(422, "the file part has an empty filename", headers=CLOSE)
        suffix = Path(given).suffix.lower()
        suffix = suffix if SUFFIX.fullmatch(suffix) else ""
        self.name = name
        self.path = self.spool.folder / f"{PREFIX}{uuid.uuid4().hex}{suffix}"
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed in on_part_end or discard
        self._writing = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing or self._file is None:
            return
        size = end - start
        if self.size + size > self.max_bytes:
            limit = self.max_bytes // (1024 * 1024)
            raise HTTPException(413, f"upload exceeds the {limit} MB limit", headers=CLOSE)
        if not self.spool.take(size):
            raise Busy(self.retry_after, "the server's space for uploads is full")
        self.size += size
        self._file.write(data[start:end])

    def on_part_end(self) -> None:
        if self._writing and self._file is not None:
            self._file.close()
            self._writing = False

    def upload(self) -> Upload:
        if self.path is None or self.name is None:
            raise HTTPException(422, NO_FILE)
        if self._file is not None and not self._file.closed:
            raise HTTPException(400, "the multipart body ended inside the file part")
        return Upload(self.name, self.path, self.size)

    def discard(self) -> None:
        """Remove the file and give its space back (on any error, and once analysed)."""
        if self._file is not None:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.spool.give_back(self.size)
        self.size = 0


async def receive_upload(
    request: Request, spool: Spool, max_bytes: int, upload_seconds: float, retry_after: int
) -> Received:
    """Stream the request's multipart body into `spool`; the caller calls `discard()` on
    the result when done with the file. Raises `HTTPException` (4xx), `Busy` or `ClientGone`
    (after logging one line), leaving nothing behind."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(422, NO_FILE, headers=CLOSE)
    received = Received(spool, max_bytes, retry_after)
    deadline = time.monotonic() + upload_seconds
    try:
        parser = MultipartParser(params[b"boundary"], received.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
            if time.monotonic() > deadline:
                raise HTTPException(
                    408, f"upload took longer than {upload_seconds:g} s", headers=CLOSE
                )
        parser.finalize()
        received.upload()  # raises if no complete file part came
    except ClientDisconnect:
        received.discard()
        log.warning("upload aborted: the client disconnected after %d bytes", received.size)
        raise ClientGone from None
    except (FormParserError, ValueError) as err:
        received.discard()
        reason = " ".join(str(err).split())[:120]
        raise HTTPException(400, f"malformed multipart body: {reason}", headers=CLOSE) from None
    except BaseException:
        received.discard()
        raise
    return received


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
