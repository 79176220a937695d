"""MMTT (Multi-Modal Tamper Tracing; Lian et al., arXiv:2412.19685): image, mask and text.

MMTT pairs manipulated face images (from CelebA-HQ and FFHQ) with a ground-truth mask and a
human-written description of the forgery. Its release layout was not public when this was
written, so this importer reads a documented simple layout that a converted copy can follow:

```
<root>/images/...            the images
<root>/masks/...             binary masks of the changed pixels
<root>/<name>.json | .jsonl | .csv   annotation files directly in the root
```
A file named after a split (`train.jsonl`, `mmtt_test.json`) gives its records that split. A
JSON file holds a list of records, `{"annotations": [...]}`, or `{id: record}`. Record fields
(other spellings in brackets):

- `image` (`image_path`, `img`): required; relative to the root or to `images/`
- `mask` (`mask_path`): relative to the root or to `masks/`
- `text` (`caption`, `explanation`, `description`, `report`): kept in `meta["explanation"]`
- `label`: real/fake or 0/1 (1 = fake); default fake, as every MMTT image is manipulated
- `method` (`technique`, `manipulation`, `forgery_type`): technique `mmtt.<method>`
- `category`: a taxonomy category or its abbreviation (FS/FR/FE/EFS); else from the method
  (FF++ and DF40 names, a few editing tools below, `categories={method: category}`), else
  `default_category`; a record whose category stays unknown is reported and skipped
- `split`, `identity`, `source_identity`, `target_identity`: optional; the identity defaults to
  one per image (`mmtt:<image path>`), as the people in MMTT are not named
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_categories,
    examples,
    normalize_split,
    register_importer,
)
from opendfa.data.importers.df40 import df40_technique
from opendfa.data.importers.ffpp import FFPP_METHODS
from opendfa.data.importers.flags import add_category_option
from opendfa.data.importers.frames import Unit
from opendfa.taxonomy import (
    CATEGORIES,
    CATEGORY_ABBREVIATIONS,
    FACE_EDITING,
    FACE_SWAP,
    REAL,
)

ANNOTATION_SUFFIXES = (".json", ".jsonl", ".csv")
FIELDS = {
    "image": ("image", "image_path", "img", "path"),
    "mask": ("mask", "mask_path"),
    "text": ("text", "caption", "explanation", "description", "report"),
    "method": ("method", "technique", "manipulation", "forgery_type"),
}
# Manipulation tools often named in face-forgery localization data, beyond FF++ and DF40.
EXTRA_METHODS = {
    "inpainting": FACE_EDITING,
    "sd_inpainting": FACE_EDITING,
    "hfgi": FACE_EDITING,
    "diffae": FACE_EDITING,
    "infoswap": FACE_SWAP,
    "diffswap": FACE_SWAP,
    "hififace": FACE_SWAP,
}
REAL_METHODS = {"real", "original", "pristine", "authentic"}
_FFPP_LOWER = {name.lower(): category for name, category in FFPP_METHODS.items()}
_ABBREVIATIONS = {abbr.lower(): name for name, abbr in CATEGORY_ABBREVIATIONS.items()}


def mmtt_flags(parser: argparse.ArgumentParser) -> None:
    """`import_mmtt`'s options as flags."""
    parser.add_argument(
        "--annotations",
        nargs="+",
        metavar="FILE",
        help="annotation files to read (default: all in the root)",
    )
    add_category_option(parser)
    parser.add_argument(
        "--default-category",
        metavar="CATEGORY",
        help="category of fakes whose annotation names none",
    )


@register_importer("mmtt", mmtt_flags)
def import_mmtt(
    root: Path,
    *,
    annotations: str | Path | list[str | Path] | None = None,
    categories: dict[str, str] | None = None,
    default_category: str | None = None,
) -> ImportResult:
    """Import MMTT-style annotations; `annotations` names the files (default: all in root)."""
    overrides = {k.lower(): v for k, v in check_categories(categories).items()}
    if default_category is not None:
        check_categories({"default_category": default_category})
    if annotations is None:
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in ANNOTATION_SUFFIXES)
    else:
        names = annotations if isinstance(annotations, list) else [annotations]
        files = [Path(n) if Path(n).is_absolute() else root / n for n in names]
    if not files:
        raise ValueError(f"not an MMTT root: no annotation .json, .jsonl or .csv file ({root})")
    sink = SampleSink("mmtt", root)
    for path in files:
        records = _read_records(path, sink)
        file_split = _split_from_name(path.stem)
        missing: list[str] = []
        unknown: dict[str, int] = {}
        for number, record in records:
            where = f"{path}:{number}"
            image = _resolve(root, _field(record, "image"), "images")
            if image is None:
                missing.append(str(_field(record, "image") or f"record {number}"))
                continue
            category, method = _category(record, overrides, default_category)
            if category is None:
                unknown[method or "<no method>"] = unknown.get(method or "<no method>", 0) + 1
                continue
            _add(sink, root, record, image, category, method, file_split, where)
        if missing:
            sink.problem(path, f"{len(missing)} image(s) not found: {examples(missing)}")
        for method, count in sorted(unknown.items()):
            sink.problem(
                path,
                f"{count} record(s) with unknown method {method!r} skipped; "
                f"pass categories={{{method!r}: <category>}} or default_category",
            )
    return sink.result


def _read_records(path: Path, sink: SampleSink) -> list[tuple[int, dict[str, Any]]]:
    """(record number, record) pairs; unreadable files and lines become problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        sink.problem(path, f"unreadable annotation file ({err}); skipped")
        return []
    records: list[tuple[int, Any]] = []
    if path.suffix.lower() == ".csv":
        try:
            records = list(enumerate(csv.DictReader(text.splitlines()), start=2))
        except csv.Error as err:
            sink.problem(path, f"unreadable CSV ({err}); skipped")
    elif path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, json.loads(line)))
                except ValueError as err:
                    sink.problem(path, f"line {number}: invalid JSON ({err})")
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            sink.problem(path, f"invalid JSON ({err}); skipped")
            return []
        records = list(enumerate(_json_records(data), start=1))
    good = [(n, r) for n, r in records if isinstance(r, dict)]
    if len(good) < len(records):
        sink.problem(path, f"{len(records) - len(good)} record(s) are not objects; skipped")
    return good


def _json_records(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("annotations", "data", "samples", "images"):
            if isinstance(data.get(key), list):
                return data[key]
        if data and all(isinstance(v, dict) for v in data.values()):
            return [{"id": key, **value} for key, value in data.items()]
    return [data]


def _field(record: dict[str, Any], name: str) -> Any:
    return next((record[k] for k in FIELDS[name] if record.get(k) not in (None, "")), None)


def _resolve(root: Path, value: Any, folder: str) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip().replace("\\", "/")
    path = Path(value)
    candidates = [path] if path.is_absolute() else [root / value, root / folder / value]
    return next((c for c in candidates if c.is_file()), None)


def _category(
    record: dict[str, Any], overrides: dict[str, str], default: str | None
) -> tuple[str | None, str | None]:
    method = _field(record, "method")
    method = str(method).strip() if method is not None else None
    label = str(record.get("label", "")).strip().lower()
    if label in ("real", "0", "false") or (method or "").lower() in REAL_METHODS:
        return REAL, method
    stated = str(record.get("category") or "").strip()
    stated = _ABBREVIATIONS.get(stated.lower(), stated.lower())
    if stated in CATEGORIES[1:]:
        return stated, method
    if method is None:
        return default, None
    known = df40_technique(method)
    category = (
        overrides.get(method.lower())
        or _FFPP_LOWER.get(method.lower())
        or EXTRA_METHODS.get(method.lower())
        or (known[1] if known else None)
        or default
    )
    return category, method


def _add(
    sink: SampleSink,
    root: Path,
    record: dict[str, Any],
    image: Path,
    category: str,
    method: str | None,
    split: str | None,
    where: str,
) -> None:
    fake = category != REAL
    mask = _resolve(root, _field(record, "mask"), "masks") if fake else None
    if fake and _field(record, "mask") is not None and mask is None:
        sink.problem(where, f"mask {_field(record, 'mask')!r} not found; imported without mask")
    meta: dict[str, Any] = {}
    if (text := _field(record, "text")) is not None:
        meta["explanation"] = str(text)
    if method is not None:
        meta["method"] = method
    if record.get("id") not in (None, ""):
        meta["mmtt_id"] = record["id"]
    source, target = (
        str(record[key]) if record.get(key) not in (None, "") else None
        for key in ("source_identity", "target_identity")
    )
    identity = record.get("identity") or (source if category == FACE_SWAP else target)
    technique = f"mmtt.{method}" if method else f"mmtt.{category}"
    sink.add(
        Unit(image),
        label="fake" if fake else "real",
        category=category,
        technique="mmtt.real" if not fake else technique,
        identity=str(identity or f"mmtt:{sink.rel(image)}"),
        source_identity=source,
        target_identity=target,
        split=normalize_split(record.get("split")) or split,
        mask=mask,
        meta=meta,
    )


def _split_from_name(stem: str) -> str | None:
    for token in stem.lower().replace("-", "_").split("_"):
        if (split := normalize_split(token)) is not None:
            return split
    return None
