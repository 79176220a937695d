"""Metadata: EXIF, XMP and IPTC fields that speak to where an image came from.

Camera make and model, the software that wrote the file, dates, IPTC's `DigitalSourceType`
(the standard way to declare AI-generated or synthetic media, in XMP), credit and creator
fields, hints left by image generators (PNG text chunks), whether GPS data is present (a
boolean only: coordinates are never read), and whether the embedded EXIF thumbnail still
shows the image (editors that change the picture often leave the camera's thumbnail behind).

Metadata is easy to strip or forge, so every field is a claim by whoever wrote the file, not
proof. Malformed blocks never raise: each becomes a line in `warnings`.
"""

from __future__ import annotations

import io
import warnings as py_warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import ExifTags, Image, IptcImagePlugin, UnidentifiedImageError

IPTC_SOURCE_TYPES = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC Digital Source Type values (cv.iptc.org/newscodes/digitalsourcetype, 2024-10 release)
# that declare media made wholly or partly by an algorithm rather than captured: generative
# AI (trained*) and algorithmic or synthetic media.
AI_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
        "trainedAlgorithmicData",
    }
)
GENERATIVE_SOURCE_TYPES = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "trainedAlgorithmicData"}
)
KNOWN_SOURCE_TYPES = AI_SOURCE_TYPES | {
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "minorHumanEdits",
    "humanEdits",
    "algorithmicallyEnhanced",
    "softwareImage",
    "digitalArt",
    "digitalCreation",
    "dataDrivenMedia",
    "screenCapture",
    "virtualRecording",
    "composite",
    "compositeCapture",
}
# Lower-case fragments of `Software` / `CreatorTool` values; generators are checked first.
GENERATOR_NAMES = (
    "dall-e",
    "dall·e",
    "midjourney",
    "stable diffusion",
    "stablediffusion",
    "firefly",
    "imagen",
    "novelai",
    "comfyui",
    "automatic1111",
    "invokeai",
    "leonardo.ai",
    "flux",
    "gemini",
    "chatgpt",
)
EDITOR_NAMES = (
    "photoshop",
    "lightroom",
    "gimp",
    "affinity",
    "pixelmator",
    "snapseed",
    "paint.net",
    "facetune",
    "faceapp",
    "picsart",
    "canva",
    "photopea",
    "capture one",
    "darktable",
    "rawtherapee",
    "luminar",
    "krita",
)
# PNG text chunks that image generators write (prompt and settings).
GENERATOR_PNG_KEYS = {
    "parameters": "Stable Diffusion web UI parameters",
    "prompt": "ComfyUI prompt",
    "workflow": "ComfyUI workflow",
    "invokeai_metadata": "InvokeAI metadata",
    "sd-metadata": "Stable Diffusion metadata",
}
THUMBNAIL_MISMATCH = 0.15  # 0.5 * (1 - correlation) above which the thumbnail is another picture

_XMP_NS = {
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "iptc_ext": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
_MAX_TEXT = 200


@dataclass(frozen=True)
class MetadataRecord:
    """What the file's metadata claims. Text fields are None when absent."""

    format: str | None = None
    has_exif: bool = False
    has_xmp: bool = False
    has_iptc: bool = False
    camera_make: str | None = None
    camera_model: str | None = None
    software: str | None = None  # EXIF Software
    creator_tool: str | None = None  # XMP xmp:CreatorTool
    software_kind: str | None = None  # "generator" | "editor" | None
    date_original: str | None = None  # EXIF DateTimeOriginal (or XMP/IPTC creation date)
    date_modified: str | None = None  # EXIF DateTime, i.e. ModifyDate (or xmp:ModifyDate)
    digital_source_type: str | None = None  # IPTC term, e.g. "trainedAlgorithmicMedia"
    ai_declared: bool = False  # the source type is one of AI_SOURCE_TYPES
    credit: str | None = None  # photoshop:Credit or IPTC IIM 2:110
    creator: str | None = None  # dc:creator or IPTC IIM 2:80 (By-line)
    generator_hints: tuple[str, ...] = ()  # e.g. "PNG text chunk 'parameters' (...)"
    gps_present: bool = False
    thumbnail: bool = False
    thumbnail_difference: float | None = None  # 0.5 * (1 - correlation), 0 = same picture
    thumbnail_mismatch: bool | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def generative_ai_declared(self) -> bool:
        return self.digital_source_type in GENERATIVE_SOURCE_TYPES

    def to_dict(self) -> dict:
        data: dict[str, Any] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "warnings"
        }
        data["generator_hints"] = list(self.generator_hints)
        data["warnings"] = list(self.warnings)
        return data


def read_metadata(data: bytes) -> MetadataRecord:
    """The metadata record of a file's bytes. Never raises."""
    notes: list[str] = []
    with py_warnings.catch_warnings(record=True) as caught:
        py_warnings.simplefilter("always")
        try:
            image = Image.open(io.BytesIO(data))
        except Exception as err:
            return MetadataRecord(warnings=(f"metadata not read: {_open_error(err)}",))
        fields: dict[str, Any] = {"format": image.format}
        steps = (
            ("EXIF", lambda: _read_exif(image, fields, notes)),
            ("XMP", lambda: _read_xmp(image, data, fields, notes)),
            ("IPTC", lambda: _read_iptc(image, fields, notes)),
            ("PNG text", lambda: _read_png_text(image, fields)),
            ("EXIF thumbnail", lambda: _compare_thumbnail(data, fields, notes)),
        )
        for what, step in steps:
            try:
                step()
            except Exception as err:  # a reader's unforeseen failure spoils only its part
                notes.append(f"unreadable {what}: {_short(err)}")
    fields.pop("_thumbnail_bytes", None)
    for message in dict.fromkeys(_short(w.message) for w in caught):
        notes.append(f"decoder warning: {message}")
    source_type = fields.get("digital_source_type")
    fields["ai_declared"] = source_type in AI_SOURCE_TYPES
    fields["software_kind"] = _software_kind(fields.get("software"), fields.get("creator_tool"))
    return MetadataRecord(**fields, warnings=tuple(notes))


def _read_exif(image: Image.Image, fields: dict, notes: list[str]) -> None:
    try:
        exif = image.getexif()
    except Exception as err:
        notes.append(f"unreadable EXIF: {_short(err)}")
        return
    if not exif:
        if image.info.get("exif"):
            notes.append("EXIF block present but unreadable (no valid TIFF header or tags)")
        return
    fields["has_exif"] = True
    fields["camera_make"] = _text(exif.get(ExifTags.Base.Make))
    fields["camera_model"] = _text(exif.get(ExifTags.Base.Model))
    fields["software"] = _text(exif.get(ExifTags.Base.Software))
    fields["date_modified"] = _text(exif.get(ExifTags.Base.DateTime))
    details = _ifd(exif, ExifTags.IFD.Exif, "EXIF sub-IFD", notes)
    fields["date_original"] = _text(details.get(ExifTags.Base.DateTimeOriginal))
    gps = _ifd(exif, ExifTags.IFD.GPSInfo, "GPS IFD", notes)
    fields["gps_present"] = any(tag in gps for tag in (1, 2, 3, 4))  # latitude/longitude
    first = _ifd(exif, ExifTags.IFD.IFD1, "EXIF thumbnail IFD", notes)
    offset, length = first.get(0x0201), first.get(0x0202)  # JPEGInterchangeFormat(Length)
    raw = image.info.get("exif")
    if isinstance(offset, int) and isinstance(length, int) and isinstance(raw, bytes):
        tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
        if length > 0 and offset + length <= len(tiff):
            fields["thumbnail"] = True
            fields["_thumbnail_bytes"] = tiff[offset : offset + length]
        else:
            notes.append("EXIF thumbnail points outside the EXIF block")


def _ifd(exif: Image.Exif, tag: int, what: str, notes: list[str]) -> dict:
    try:
        return dict(exif.get_ifd(tag))
    except Exception as err:
        notes.append(f"unreadable {what}: {_short(err)}")
        return {}


def _read_xmp(image: Image.Image, data: bytes, fields: dict, notes: list[str]) -> None:
    packet = _xmp_packet(image, data)
    if packet is None:
        return
    fields["has_xmp"] = True
    try:
        from defusedxml import ElementTree

        root = ElementTree.fromstring(packet)
    except Exception as err:
        notes.append(f"unreadable XMP: {_short(err)}")
        return
    source = _xmp_value(root, "iptc_ext", "DigitalSourceType")
    if source:
        term = source.rsplit("/", 1)[-1] if source.startswith(("http://", "https://")) else source
        fields["digital_source_type"] = term
        if term not in KNOWN_SOURCE_TYPES:
            notes.append(f"unknown IPTC digital source type {term!r}")
    fields["creator_tool"] = _xmp_value(root, "xmp", "CreatorTool")
    fields["credit"] = _xmp_value(root, "photoshop", "Credit")
    fields["creator"] = _xmp_value(root, "dc", "creator")
    fields["date_modified"] = fields.get("date_modified") or _xmp_value(root, "xmp", "ModifyDate")
    fields["date_original"] = (
        fields.get("date_original")
        or _xmp_value(root, "photoshop", "DateCreated")
        or _xmp_value(root, "xmp", "CreateDate")
    )


def _xmp_packet(image: Image.Image, data: bytes) -> bytes | None:
    """The XMP packet from Pillow's info (JPEG APP1, PNG iTXt, WebP) or, failing that, the
    first `<x:xmpmeta>` element found in the file's bytes."""
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = image.info.get(key)
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(value, bytes) and value.strip():
            return value.strip(b"\x00 \r\n\t")
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start)
    return data[start : end + len(b"</x:xmpmeta>")] if end > 0 else data[start:]


def _xmp_value(root: Any, prefix: str, name: str) -> str | None:
    """A property as an attribute of any element or as an element (its text, or the first
    `rdf:li` of a list or alternative)."""
    qualified = f"{{{_XMP_NS[prefix]}}}{name}"
    for element in root.iter():
        if qualified in element.attrib:
            return _text(element.attrib[qualified])
    for element in root.iter(qualified):
        resource = element.attrib.get(f"{{{_XMP_NS['rdf']}}}resource")
        if resource:
            return _text(resource)
        for item in element.iter(f"{{{_XMP_NS['rdf']}}}li"):
            if item.text and item.text.strip():
                return _text(item.text)
        if element.text and element.text.strip():
            return _text(element.text)
    return None


def _read_iptc(image: Image.Image, fields: dict, notes: list[str]) -> None:
    if image.format not in ("JPEG", "MPO", "TIFF"):
        return
    try:
        iptc = IptcImagePlugin.getiptcinfo(image)  # type: ignore[arg-type]
    except Exception as err:
        notes.append(f"unreadable IPTC block: {_short(err)}")
        return
    if not iptc:
        return
    fields["has_iptc"] = True
    fields["credit"] = fields.get("credit") or _text(iptc.get((2, 110)))
    fields["creator"] = fields.get("creator") or _text(iptc.get((2, 80)))
    fields["date_original"] = fields.get("date_original") or _text(iptc.get((2, 55)))


def _read_png_text(image: Image.Image, fields: dict) -> None:
    if image.format != "PNG":
        return
    hints = [
        f"PNG text chunk '{key}' ({meaning})"
        for key, meaning in GENERATOR_PNG_KEYS.items()
        if key in image.info
    ]
    fields["generator_hints"] = tuple(hints)
    fields["software"] = fields.get("software") or _text(image.info.get("Software"))


def _compare_thumbnail(data: bytes, fields: dict, notes: list[str]) -> None:
    """0.5 * (1 - correlation) of the EXIF thumbnail and the image, both 32x32 grey, after
    trimming the black bars cameras pad thumbnails with."""
    thumb = fields.pop("_thumbnail_bytes", None)
    if not thumb:
        return
    try:
        small = Image.open(io.BytesIO(thumb))
        small.load()
        small_grey = _trim_bars(np.asarray(small.convert("L"), dtype=np.float32))
        image = Image.open(io.BytesIO(data))
        if image.format not in ("JPEG", "MPO") and image.width * image.height > 50_000_000:
            notes.append("EXIF thumbnail not compared: image too large to decode here")
            return
        image.draft("L", (small.width * 2, small.height * 2))  # JPEG: decode at 1/2..1/8
        grey = np.asarray(image.convert("L"), dtype=np.float32)
    except Exception as err:
        notes.append(f"EXIF thumbnail not comparable: {_short(err)}")
        return
    a, b = _unit(_resize(small_grey)), _unit(_resize(grey))
    difference = 0.5 * (1.0 - float((a * b).mean())) if a is not None and b is not None else 0.0
    fields["thumbnail_difference"] = round(difference, 4)
    fields["thumbnail_mismatch"] = difference > THUMBNAIL_MISMATCH


def _trim_bars(grey: np.ndarray, level: float = 16.0) -> np.ndarray:
    rows = np.flatnonzero(grey.mean(axis=1) > level)
    cols = np.flatnonzero(grey.mean(axis=0) > level)
    if len(rows) < grey.shape[0] // 2 or len(cols) < grey.shape[1] // 2:
        return grey  # a dark picture, not bars
    return grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resize(grey: np.ndarray, side: int = 32) -> np.ndarray:
    return np.asarray(Image.fromarray(grey, mode="F").resize((side, side), Image.Resampling.BOX))


def _unit(values: np.ndarray) -> np.ndarray | None:
    std = float(values.std())
    return None if std < 1e-3 else (values - values.mean()) / std


def _software_kind(*names: str | None) -> str | None:
    text = " ".join(n for n in names if n).lower()
    if any(name in text for name in GENERATOR_NAMES):
        return "generator"
    if any(name in text for name in EDITOR_NAMES):
        return "editor"
    return None


def _text(value: Any) -> str | None:
    """A printable, trimmed string of at most _MAX_TEXT characters, or None."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if value is None:
        return None
    text = "".join(c for c in str(value) if c.isprintable()).strip(" \x00")
    return text[:_MAX_TEXT] or None


def _short(err: BaseException | Warning | str) -> str:
    return (" ".join(str(err).split()) or type(err).__name__)[:120]


def _open_error(err: BaseException) -> str:
    if isinstance(err, UnidentifiedImageError):
        return "not a recognised image format"
    return _short(err)
