"""What a file is, from its first bytes: the name is a claim, the bytes are the fact.

FFmpeg guesses a format from content *and* name, and some of its demuxers open other files:
an `ffconcat` text playlist named `.mp4` makes it decode whatever files the playlist lists,
as often as it lists them. So nothing reaches a decoder before its signature says it is one
of the containers we accept; the same check tells images from videos for uploads whose
names are cut, missing or wrong.
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES = 16

# Top-level ISO-BMFF / QuickTime atoms a real mp4/mov may start with.
_MP4_FIRST_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"})

IMAGE_SIGNATURES = {
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "gif": (b"GIF87a", b"GIF89a"),
    "bmp": (b"BM",),
    "tiff": (b"II*\x00", b"MM\x00*"),
}


def sniff(head: bytes) -> tuple[str, str] | None:
    """('image' | 'video', container) for the first bytes of a file; None if unknown."""
    if len(head) >= 12 and head.startswith(b"RIFF"):
        form = head[8:12]
        if form == b"WEBP":
            return "image", "webp"
        if form in (b"AVI ", b"AVIX"):
            return "video", "avi"
        return None
    for container, signatures in IMAGE_SIGNATURES.items():
        if head.startswith(signatures):
            return "image", container
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video", "matroska"
    if len(head) >= 8 and head[4:8] in _MP4_FIRST_ATOMS:
        return "video", "mp4"
    return None


def sniff_file(path: str | Path) -> tuple[str, str] | None:
    """`sniff` of a file's first bytes (OSError propagates to the caller's error handling)."""
    with Path(path).open("rb") as handle:
        return sniff(handle.read(HEAD_BYTES))


def describe(head: bytes) -> str:
    """A few words on what unaccepted bytes look like, for a one-line error."""
    if head.startswith(b"ffconcat"):
        return "an ffconcat playlist"
    if head.lstrip().startswith(b"#EXTM3U"):
        return "an M3U playlist"
    if head.startswith(b"%PDF"):
        return "a PDF"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    return "unrecognised content"
