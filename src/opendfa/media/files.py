"""Why a path cannot be read as a regular file, in a few words for a one-line error.

A batch folder may hold dangling or looping symbolic links, FIFOs, sockets or devices, and a
path given on the command line may have a name the OS refuses (over 255 bytes). None of them
may stop a batch or vanish from it silently: `iter_media_files` keeps each as an input and
the loaders report it with `file_problem`.
"""

from __future__ import annotations

import errno
import hashlib
import stat
from pathlib import Path

_SPECIAL_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def file_problem(path: Path) -> str | None:
    """Why `path` is not a readable regular file, in a few words; None when it is one.

    Checked before opening: opening a FIFO would block forever.
    """
    try:
        info = path.stat()
    except OSError as err:
        return _stat_error(path, err)
    except ValueError:  # a NUL byte in the name
        return "cannot read file: invalid file name"
    for is_kind, kind in _SPECIAL_KINDS:
        if is_kind(info.st_mode):
            return f"not a regular file ({kind})"
    return None


def _stat_error(path: Path, err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symbolic link loop"
    if err.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if err.errno == errno.ENOENT:
        return "dangling symbolic link" if _is_link(path) else "file not found"
    return f"cannot read file: {err.strerror or err}"


def is_folder(path: Path) -> bool:
    """`Path.is_dir`, False for names the OS refuses (they are reported on load)."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except (OSError, ValueError):
        return False


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, hex (read in blocks by `hashlib.file_digest`)."""
    with Path(path).open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
