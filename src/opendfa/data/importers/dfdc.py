"""The DeepFake Detection Challenge (DFDC) dataset, part by part.

```
<root>/[train/]dfdc_train_part_<k>/metadata.json   {"x.mp4": {"label": "FAKE"|"REAL",
                                                   "original": "y.mp4"|null, "split": "train"}}
<root>/[train/]dfdc_train_part_<k>/<name>.mp4
<root>/test/labels.csv                             filename,label  (label 1 = fake, 0 = real)
<root>/<part>/frames/<name>/<frame>.png            extracted frames (DeepfakeBench), optional
```
The root may also be a single part. Any folder (the root, or up to two levels below it) holding
`metadata.json` or `labels.csv` is a part; a `dfdc_*` folder or a folder of videos without one
is reported. The split comes from `metadata.json` (DFDC's training parts say "train"), and is
"test" for a `labels.csv` part ("val" if the folder name says validation).

DFDC does not say who is in a video, nor which of its methods made a fake; fakes are counted
as face swaps (technique `dfdc.fake`), as DF40 and DFA do, and a fake's identity is the name
of the original video it was made from, so a fake and its original always share a split.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_choice,
    examples,
    normalize_split,
    register_importer,
    subdirs,
)
from opendfa.data.importers.flags import add_frame_options
from opendfa.data.importers.frames import MEDIA, UNITS, Sequence, expand, is_video
from opendfa.taxonomy import FACE_SWAP, REAL

METADATA = "metadata.json"
LABELS = "labels.csv"


def dfdc_flags(parser: argparse.ArgumentParser) -> None:
    """`import_dfdc`'s options as flags."""
    add_frame_options(parser)


@register_importer("dfdc", dfdc_flags)
def import_dfdc(
    root: Path,
    *,
    unit: str = "auto",
    media: str = "auto",
    frames_per_video: int | None = None,
) -> ImportResult:
    check_choice("unit", unit, UNITS)
    check_choice("media", media, MEDIA)
    candidates = [root, *subdirs(root), *(d for s in subdirs(root) for d in subdirs(s))]
    parts = [d for d in candidates if (d / METADATA).exists() or (d / LABELS).exists()]
    orphans = [
        d
        for d in candidates
        if d not in parts
        and d.name != "frames"
        and d.parent.name != "frames"
        and (d.name.startswith("dfdc_") or any(is_video(p) for p in _files(d)))
    ]
    if not parts and not orphans:
        raise ValueError(f"not a DFDC root: no folder with {METADATA} or {LABELS} ({root})")
    sink = SampleSink("dfdc", root)
    for folder in orphans:
        count = sum(1 for p in _files(folder) if is_video(p))
        sink.problem(folder, f"no {METADATA} or {LABELS}; its {count} video(s) were skipped")
    policy = {"unit": unit, "media": media, "frames_per_video": frames_per_video}
    for part in parts:
        if (part / METADATA).exists():
            entries = _read_metadata(part / METADATA, sink)
        else:
            entries = _read_labels(part / LABELS, sink)
        if entries is not None:
            _import_part(part, entries, sink, policy)
    return sink.result


# One entry per listed video: (file name, is_fake, original file name or None, split or None).
Entry = tuple[str, bool, str | None, str | None]


def _read_metadata(path: Path, sink: SampleSink) -> list[Entry] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        sink.problem(path, f"unreadable metadata ({err}); this part was skipped")
        return None
    if not isinstance(data, dict):
        sink.problem(path, "metadata is not a JSON object; this part was skipped")
        return None
    entries: list[Entry] = []
    bad: list[str] = []
    for name, info in data.items():
        label = info.get("label") if isinstance(info, dict) else None
        if not isinstance(label, str) or label.upper() not in ("REAL", "FAKE"):
            bad.append(str(name))
            continue
        original = info.get("original")
        split = normalize_split(info.get("split"))
        entries.append((name, label.upper() == "FAKE", original or None, split))
    if bad:
        sink.problem(path, f"{len(bad)} entr(y/ies) without a REAL/FAKE label: {examples(bad)}")
    return entries


def _read_labels(path: Path, sink: SampleSink) -> list[Entry] | None:
    split = "val" if "val" in path.parent.name.lower() else "test"
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        sink.problem(path, f"unreadable labels ({err}); this part was skipped")
        return None
    entries: list[Entry] = []
    bad: list[str] = []
    for number, row in enumerate(rows, start=2):
        name = (row.get("filename") or "").strip()
        label = (row.get("label") or "").strip().upper()
        if not name or label not in ("0", "1", "REAL", "FAKE"):
            bad.append(f"line {number}")
            continue
        entries.append((name, label in ("1", "FAKE"), None, split))
    if bad:
        sink.problem(path, f"{len(bad)} row(s) without filename and 0/1 label: {examples(bad)}")
    return entries


def _import_part(part: Path, entries: list[Entry], sink: SampleSink, policy: dict) -> None:
    listed = {Path(name).stem for name, *_ in entries}
    missing: list[str] = []
    for name, fake, original, split in entries:
        stem = Path(name).stem
        video = part / name
        frames = part / "frames" / stem
        sequence = Sequence(
            stem, video if video.is_file() else None, frames if frames.is_dir() else None
        )
        try:
            units = expand(sequence, **policy)
        except ValueError as err:
            sink.problem(video, str(err))
            continue
        if not units:
            missing.append(name)
            continue
        group = Path(original).stem if fake and original else stem
        meta = {"part": part.name, "video_id": stem}
        if fake and original:
            meta["original_video"] = original
        for item in units:
            sink.add(
                item,
                label="fake" if fake else "real",
                category=FACE_SWAP if fake else REAL,
                technique="dfdc.fake" if fake else "dfdc.real",
                identity=f"dfdc:{group}",
                split=split,
                meta=meta,
            )
    if missing:
        sink.problem(part, f"{len(missing)} listed video(s) not found: {examples(missing)}")
    unlisted = [p.name for p in _files(part) if is_video(p) and p.stem not in listed]
    if unlisted:
        sink.problem(
            part, f"{len(unlisted)} video(s) not in its labels, skipped: {examples(unlisted)}"
        )


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_file())
    except OSError:
        return []
