"""DeepfakeBench's JSON indexes (`preprocessing/dataset_json/<Name>.json`, DF40's too).

```
{"<dataset>": {"<label name>": {"train"|"val"|"test": {["c23"|"c40"|"raw":] {"<video>":
    {"label": "<label name>", "frames": ["<path>", ...], "masks": ["<path>", ...]?}}}}}}
```
The compression level appears only for FF++-family indexes. Label names (`FF-DF`, `FF-real`,
`CelebDFv2_fake`, `DFDC_Fake`, `simswap_Fake`, ...) give label, category and technique; DF40
indexes that reuse a generic label (`roop_Fake`) take the technique from the index name
(`simswap_ff`). Unknown label names are reported and skipped unless `labels={name: category}`.

DeepfakeBench lists one video under several splits (Celeb-DF test videos also under train,
DFD under all three): each frame is imported once, with the most held-out split it is listed
under (test, then val, then train) and every listed split in `meta["listed_splits"]`.

Frame paths are kept as written (backslashes turned to `/`, a leading `./` dropped), after the
`rebase` prefix replacements (`{"/old/prefix": "/new/prefix"}`); relative ones are relative to
`data_root` (default: the folder holding the JSON files), which becomes `ImportResult.root`.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_categories,
    check_choice,
    examples,
    normalize_split,
    register_importer,
)
from opendfa.data.importers.df40 import df40_technique
from opendfa.data.importers.ffpp import COMPRESSIONS
from opendfa.data.importers.flags import OneOfMany, add_pairs_option
from opendfa.data.importers.frames import Unit, frame_number
from opendfa.data.importers.identities import parse_people, roles
from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
    REAL,
)

# DeepfakeBench label name -> (technique, category), from its training/config/test_config.yaml.
FAKE_LABELS = {
    "FF-DF": ("ffpp.Deepfakes", FACE_SWAP),
    "FF-FS": ("ffpp.FaceSwap", FACE_SWAP),
    "FF-FH": ("ffpp.FaceShifter", FACE_SWAP),
    "FF-F2F": ("ffpp.Face2Face", FACE_REENACTMENT),
    "FF-NT": ("ffpp.NeuralTextures", FACE_REENACTMENT),
    "DFD_fake": ("ffpp.DeepFakeDetection", FACE_SWAP),
    "CelebDFv1_fake": ("celebdf.synthesis", FACE_SWAP),
    "CelebDFv2_fake": ("celebdf.synthesis", FACE_SWAP),
    "DFDC_Fake": ("dfdc.fake", FACE_SWAP),
    "DFDCP_FakeA": ("dfdcp.method_A", FACE_SWAP),
    "DFDCP_FakeB": ("dfdcp.method_B", FACE_SWAP),
    "DF_fake": ("deeperforensics.DF-VAE", FACE_SWAP),
    "UADFV_Fake": ("uadfv.fake", FACE_SWAP),
    "FSAll_Fake": ("df40.FSAll", FACE_SWAP),
    "FRAll_Fake": ("df40.FRAll", FACE_REENACTMENT),
    "EFSAll_Fake": ("df40.EFSAll", ENTIRE_FACE_SYNTHESIS),
    "FEAll_Fake": ("df40.FEAll", FACE_EDITING),
    "roop_Fake": ("roop.fake", FACE_SWAP),
}
DF40_GROUPS = ("fsall", "frall", "efsall", "feall")
FAMILIES = {
    "faceforensics++": "ffpp",
    "ff": "ffpp",
    "deepfakedetection": "ffpp",
    "faceshifter": "ffpp",
    "celeb": "celebdf",
    "dfdc": "dfdc",
    "dfdcp": "dfdcp",
    "deeperforensics": "deeperforensics",
    "uadfv": "uadfv",
}
SPLIT_ORDER = ("test", "val", "train")  # most held-out first


@dataclass
class _Video:
    dataset: str
    label_name: str
    technique: str
    category: str
    compression: str | None
    name: str
    frames: dict[str, str | None] = field(default_factory=dict)  # frame -> its mask
    splits: set[str] = field(default_factory=set)


def deepfakebench_flags(parser: argparse.ArgumentParser) -> None:
    """`import_deepfakebench`'s options as flags."""
    parser.add_argument(
        "--data-root", metavar="DIR", help="folder the index's frame paths are relative to"
    )
    add_pairs_option(
        parser, "--rebase", "rebase", "OLD=NEW", "replace a path prefix of the index (repeatable)"
    )
    parser.add_argument(
        "--compression", action=OneOfMany, metavar="LEVEL", help="the one level to keep"
    )
    parser.add_argument(
        "--unit", choices=("auto", "video", "frame"), help="one sample per video or per frame"
    )
    add_pairs_option(
        parser,
        "--label",
        "labels",
        "NAME=CATEGORY",
        "category (or real) of a label name it does not know (repeatable)",
    )
    parser.add_argument(
        "--check-files",
        action="store_true",
        default=None,
        help="report listed frames that do not exist",
    )


@register_importer("deepfakebench", deepfakebench_flags)
def import_deepfakebench(
    root: Path,
    *,
    data_root: str | Path | None = None,
    rebase: dict[str, str] | None = None,
    compression: str | None = None,
    unit: str = "frame",
    labels: dict[str, str] | None = None,
    check_files: bool = False,
) -> ImportResult:
    """Import one DeepfakeBench JSON index, or every `*.json` in the folder `root`.

    compression: keep only this level (`c23`, ...) where an index has levels; unit: "frame"
    (one sample per listed frame) or "video" (one per video, path = its frame folder, the
    frames in `meta["frame_paths"]`); labels: `{label name: category or "real"}` for label
    names not known here; check_files: report listed frames that do not exist.
    """
    unit = check_choice("unit", "frame" if unit == "auto" else unit, ("frame", "video"))
    overrides = check_categories({k: v for k, v in (labels or {}).items() if v != REAL})
    overrides.update({k: REAL for k, v in (labels or {}).items() if v == REAL})
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    if not files:
        raise ValueError(f"not a DeepfakeBench index: no JSON file ({root})")
    base = Path(data_root).resolve() if data_root else (root if root.is_dir() else root.parent)
    sink = SampleSink("deepfakebench", base)
    index = _Index(sink, base, dict(rebase or {}), compression, overrides)
    shaped = unreadable = 0
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            sink.problem(path, f"unreadable JSON ({err}); skipped")
            unreadable += 1
            continue
        shaped += index.read(path, data)
    if not shaped and not unreadable:
        raise ValueError(
            "not a DeepfakeBench index: expected {dataset: {label: {split: {video: "
            "{label, frames}}}}} " + f"({root})"
        )
    index.emit(unit, check_files)
    return sink.result


class _Index:
    """Videos gathered from every JSON file, each frame owned by the first video listing it."""

    def __init__(
        self,
        sink: SampleSink,
        base: Path,
        rebase: dict[str, str],
        compression: str | None,
        overrides: dict[str, str],
    ) -> None:
        self.sink, self.base, self.compression, self.overrides = sink, base, compression, overrides
        self.rebase = sorted(rebase.items(), key=lambda kv: -len(kv[0]))
        self.videos: dict[tuple, _Video] = {}
        self.owner: dict[str, tuple] = {}

    def read(self, path: Path, data: Any) -> int:
        """Gather one file's videos; returns 1 if it had the DeepfakeBench shape, else 0."""
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            self.sink.problem(path, "not a DeepfakeBench index (expected a JSON object)")
            return 0
        for dataset, by_label in data.items():
            for label_name, by_split in by_label.items():
                resolved = self._label(dataset, label_name)
                if resolved is None:
                    self.sink.problem(
                        path,
                        f"unknown label {label_name!r} in {dataset!r} "
                        f"skipped; pass labels={{{label_name!r}: <category>}}",
                    )
                    continue
                if not isinstance(by_split, dict):
                    self.sink.problem(path, f"{dataset}/{label_name}: expected splits")
                    continue
                for split_name, block in by_split.items():
                    self._block(path, dataset, label_name, resolved, split_name, block)
        return 1

    def _label(self, dataset: str, label_name: str) -> tuple[str, str] | None:
        if label_name in self.overrides:
            category = self.overrides[label_name]
            suffix = "real" if category == REAL else label_name
            return f"{_family(dataset)}.{suffix}", category
        if label_name.lower().endswith("real"):
            return f"{_family(dataset)}.real", REAL
        from_dataset = df40_technique(_strip_domain(dataset))  # DF40 indexes reuse labels
        if from_dataset is not None:
            return f"df40.{from_dataset[0]}", from_dataset[1]
        if label_name in FAKE_LABELS:
            return FAKE_LABELS[label_name]
        from_label = df40_technique(label_name.rsplit("_", 1)[0])
        return None if from_label is None else (f"df40.{from_label[0]}", from_label[1])

    def _block(
        self,
        path: Path,
        dataset: str,
        label_name: str,
        resolved: tuple[str, str],
        split_name: str,
        block: Any,
    ) -> None:
        where = f"{dataset}/{label_name}/{split_name}"
        split = normalize_split(split_name)
        if split is None or not isinstance(block, dict):
            self.sink.problem(path, f"{where}: expected a split name and a dict of videos")
            return
        if _is_entry(block):  # DeepfakeBench's DFDC rearrange writes one video here
            self.sink.problem(
                path, f"{where}: a single video entry instead of a dict of videos; skipped"
            )
            return
        bad: list[str] = []
        for key, value in block.items():
            if _is_entry(value):
                self._video(dataset, label_name, resolved, None, key, value, split)
            elif isinstance(value, dict) and not _is_entry(value):
                level = COMPRESSIONS.get(key, key)
                if self.compression is not None and level != COMPRESSIONS.get(
                    self.compression, self.compression
                ):
                    continue
                for name, entry in value.items():
                    if _is_entry(entry):
                        self._video(dataset, label_name, resolved, level, name, entry, split)
                    else:
                        bad.append(f"{key}/{name}")
            else:
                bad.append(str(key))
        if bad:
            self.sink.problem(
                path, f"{where}: {len(bad)} entr(y/ies) without a frames list: {examples(bad)}"
            )

    def _video(
        self,
        dataset: str,
        label_name: str,
        resolved: tuple[str, str],
        compression: str | None,
        name: str,
        entry: dict,
        split: str,
    ) -> None:
        technique, category = resolved
        key = (technique, compression, name)
        video = self.videos.get(key)
        if video is None:
            video = _Video(dataset, label_name, technique, category, compression, name)
            self.videos[key] = video
        video.splits.add(split)
        masks = {
            os.path.basename(m.replace("\\", "/")): m
            for m in entry.get("masks") or []
            if isinstance(m, str)
        }
        for raw in entry["frames"]:
            if not isinstance(raw, str):
                continue
            frame = self._path(raw)
            owner = self.owner.setdefault(frame, key)
            if owner != key:
                if (self.videos[owner].category == REAL) != (category == REAL):
                    self.sink.problem(
                        frame, f"listed as {owner[0]} and as {technique}; the first listing wins"
                    )
                continue
            if frame not in video.frames:
                mask = masks.get(os.path.basename(raw.replace("\\", "/")))
                video.frames[frame] = None if mask is None else self._path(mask)

    def _path(self, raw: str) -> str:
        path = raw.replace("\\", "/")
        for old, new in self.rebase:
            if path.startswith(old):
                path = new + path[len(old) :]
                break
        path = path.removeprefix("./")
        if os.path.isabs(path):
            try:
                return Path(path).relative_to(self.base).as_posix()
            except ValueError:
                return path
        return path

    def emit(self, unit: str, check_files: bool) -> None:
        for video in self.videos.values():
            if not video.frames:
                continue
            if check_files:
                missing = [f for f in video.frames if not (self.base / f).exists()]
                if missing:
                    first = self.base / next(iter(video.frames))
                    self.sink.problem(
                        first,
                        f"{len(missing)} listed frame(s) of {video.name} "
                        f"missing: {examples(missing)}",
                    )
            frames = sorted(video.frames, key=lambda f: (frame_number(Path(f)) or 0, f))
            split = next(s for s in SPLIT_ORDER if s in video.splits)
            meta: dict[str, Any] = {
                "video_id": video.name,
                "deepfakebench_dataset": video.dataset,
                "deepfakebench_label": video.label_name,
            }
            if video.compression is not None:
                meta["compression"] = video.compression
            if len(video.splits) > 1:
                meta["listed_splits"] = [s for s in SPLIT_ORDER if s in video.splits]
            family = _family(video.dataset)
            people = parse_people(video.name, family if family in ("ffpp", "celebdf") else None)
            fallback = f"{family}:{video.name}"
            identity, source, target = roles(people, video.category, fallback)
            if unit == "video":
                try:
                    folder = os.path.commonpath([os.path.dirname(f) or "." for f in frames])
                except ValueError:  # absolute and relative paths mixed
                    folder = os.path.dirname(frames[0]) or "."
                units = [(Unit(Path(folder), num_frames=len(frames)), None)]
                meta["frame_paths"] = frames
            else:
                units = [
                    (Unit(Path(f), frame_index=_index(f, i)), video.frames[f])
                    for i, f in enumerate(frames)
                ]
            for item, mask in units:
                self.sink.add(
                    item,
                    label="real" if video.category == REAL else "fake",
                    category=video.category,
                    technique=video.technique,
                    identity=identity,
                    source_identity=source,
                    target_identity=target,
                    split=split,
                    mask=mask,
                    dataset=_family(video.dataset),
                    meta=meta,
                )


def _is_entry(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("frames"), list)


def _index(frame: str, position: int) -> int:
    number = frame_number(Path(frame))
    return position if number is None else number


def _strip_domain(dataset: str) -> str:
    for suffix in ("_ff", "_cdf", "_fake", "_real"):
        if dataset.lower().endswith(suffix):
            return dataset[: -len(suffix)]
    return dataset


def _family(dataset: str) -> str:
    """Our dataset name for a DeepfakeBench index name ('FF-DF' -> 'ffpp')."""
    lowered = dataset.lower()
    for prefix, family in sorted(FAMILIES.items(), key=lambda kv: -len(kv[0])):
        if lowered.startswith(prefix):
            return family
    stripped = _strip_domain(dataset)
    if df40_technique(stripped) is not None or stripped.lower() in DF40_GROUPS:
        return "df40"
    return lowered
