"""FaceForensics++ (with DeepFakeDetection and FaceShifter) in its published folder layout.

```
<root>/original_sequences/{youtube,actors}/{raw,c0,c23,c40}/videos/<name>.mp4
                                                          /{images,frames}/<name>/<frame>.png
<root>/manipulated_sequences/<Method>/{raw,c0,c23,c40}/videos/<target>_<source>.mp4
                                                      /{images,frames}/<target>_<source>/...
<root>/manipulated_sequences/<Method>/masks/videos/<target>_<source>.mp4
                                          /{images,frames}/<target>_<source>/<frame>.png
```
(`<Method>/<comp>/masks/<name>/<frame>.png`, the DeepfakeBench preprocessing output, is also
read.) `raw` is recorded as compression `c0`. Fake names are `<target>_<source>` (see
`identities`). Categories follow DF40: Deepfakes, FaceSwap, FaceShifter and DeepFakeDetection
are face swaps; Face2Face and NeuralTextures are face reenactments.

Splits come from FF++'s `train.json` / `val.json` / `test.json` (lists of `[a, b]` pairs) in
`splits_dir`: a real video takes the split of the pair it is in, a fake `a_b` or `b_a` the
split of pair `[a, b]`. Without `splits_dir`, and always for the actor videos, split is None.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_categories,
    check_choice,
    examples,
    register_importer,
    subdirs,
)
from opendfa.data.importers.flags import add_category_option, add_frame_options
from opendfa.data.importers.frames import MEDIA, UNITS, Sequence, Unit, collect_sequences, expand
from opendfa.data.importers.identities import parse_people, roles
from opendfa.taxonomy import FACE_REENACTMENT, FACE_SWAP, REAL

FFPP_METHODS = {
    "Deepfakes": FACE_SWAP,
    "FaceSwap": FACE_SWAP,
    "FaceShifter": FACE_SWAP,
    "DeepFakeDetection": FACE_SWAP,
    "Face2Face": FACE_REENACTMENT,
    "NeuralTextures": FACE_REENACTMENT,
}
COMPRESSIONS = {"raw": "c0", "c0": "c0", "c23": "c23", "c40": "c40"}
FRAME_DIRS = ("images", "frames")
SPLIT_FILES = ("train", "val", "test")


def ffpp_flags(parser: argparse.ArgumentParser) -> None:
    """`import_ffpp`'s options as flags."""
    parser.add_argument(
        "--splits",
        dest="splits_dir",
        metavar="DIR",
        help="folder with the official train.json / val.json / test.json pair lists",
    )
    parser.add_argument(
        "--compression",
        dest="compressions",
        nargs="+",
        metavar="LEVEL",
        help="keep only these levels (c0/raw, c23, c40)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="keep only these manipulation folders (and the originals)",
    )
    add_frame_options(parser)
    add_category_option(parser)


@register_importer("ffpp", ffpp_flags)
def import_ffpp(
    root: Path,
    *,
    splits_dir: str | Path | None = None,
    compressions: list[str] | None = None,
    methods: list[str] | None = None,
    unit: str = "auto",
    media: str = "auto",
    frames_per_video: int | None = None,
    categories: dict[str, str] | None = None,
) -> ImportResult:
    """Import FF++ under `root`.

    compressions: keep only these (`c0`/`raw`, `c23`, `c40`); methods: keep only these
    manipulation folders (and the originals); categories: `{folder: category}` for method
    folders that are not FF++'s own (otherwise they are skipped and reported).
    """
    check_choice("unit", unit, UNITS)
    check_choice("media", media, MEDIA)
    overrides = check_categories(categories)
    originals, manipulated = root / "original_sequences", root / "manipulated_sequences"
    if not originals.is_dir() and not manipulated.is_dir():
        raise ValueError(
            f"not a FaceForensics++ root: no original_sequences/ or manipulated_sequences/ ({root})"
        )
    wanted = None if compressions is None else {COMPRESSIONS.get(c, c) for c in compressions}
    sink = SampleSink("ffpp", root)
    video_split, pair_split = _read_splits(Path(splits_dir), sink) if splits_dir else ({}, {})
    policy = {"unit": unit, "media": media, "frames_per_video": frames_per_video}
    unsplit: set[str] = set()

    for subset_dir in subdirs(originals):
        subset = subset_dir.name
        if subset not in ("youtube", "actors"):
            sink.problem(subset_dir, "unknown original subset (expected youtube or actors)")
            continue
        for comp_dir, compression in _compressions(subset_dir, wanted, sink):
            for sequence, units in _sequences(comp_dir, policy, sink):
                people = parse_people(sequence.name)
                fallback = f"ffpp-{subset}:{sequence.name}"
                identity = people.target if people and people.source is None else fallback
                split = video_split.get(sequence.name) if subset == "youtube" else None
                if splits_dir and subset == "youtube" and split is None:
                    unsplit.add(sequence.name)
                meta = {"subset": subset, "compression": compression, "video_id": sequence.name}
                for item in units:
                    sink.add(
                        item,
                        label="real",
                        category=REAL,
                        technique="ffpp.real",
                        identity=identity,
                        split=split,
                        meta=meta,
                    )

    for method_dir in subdirs(manipulated):
        method = method_dir.name
        if methods is not None and method not in methods:
            continue
        category = overrides.get(method) or FFPP_METHODS.get(method)
        if category is None:
            sink.problem(
                method_dir,
                "unknown FF++ method folder skipped; pass "
                f"categories={{{method!r}: <category>}} to import it",
            )
            continue
        for comp_dir, compression in _compressions(method_dir, wanted, sink):
            for sequence, units in _sequences(comp_dir, policy, sink):
                people = parse_people(sequence.name)
                identity, source, target = roles(people, category, f"ffpp-{method}:{sequence.name}")
                split = _fake_split(sequence.name, video_split, pair_split)
                if splits_dir and method != "DeepFakeDetection" and split is None:
                    unsplit.add(sequence.name)
                meta = {"method": method, "compression": compression, "video_id": sequence.name}
                if people is not None and people.original is not None:
                    meta["original_video"] = people.original
                for item in units:
                    mask = _mask_for(item, sequence, method_dir, comp_dir)
                    sink.add(
                        item,
                        label="fake",
                        category=category,
                        technique=f"ffpp.{method}",
                        identity=identity,
                        source_identity=source,
                        target_identity=target,
                        split=split,
                        mask=mask,
                        meta=meta,
                    )
    if unsplit:
        sink.problem(
            splits_dir,
            f"{len(unsplit)} video(s) in no split file (split None): {examples(unsplit)}",
        )
    return sink.result


def _read_splits(folder: Path, sink: SampleSink) -> tuple[dict[str, str], dict[frozenset, str]]:
    """Video id -> split and {a, b} pair -> split from FF++'s split files."""
    video_split: dict[str, str] = {}
    pair_split: dict[frozenset, str] = {}
    if not folder.is_dir():
        raise ValueError(f"splits_dir is not a folder ({folder})")
    for split in SPLIT_FILES:
        path = folder / f"{split}.json"
        try:
            pairs = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(pairs, list):
                raise ValueError("expected a list of [a, b] pairs")
            for pair in pairs:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise ValueError(f"expected [a, b] pairs, found {pair!r}")
                a, b = (str(v) for v in pair)
                video_split[a] = video_split[b] = split
                pair_split[frozenset((a, b))] = split
        except FileNotFoundError:
            sink.problem(path, "split file missing; its videos get no split")
        except (OSError, UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is one
            sink.problem(path, f"unreadable split file ({err}); its videos get no split")
    return video_split, pair_split


def _fake_split(
    name: str, video_split: dict[str, str], pair_split: dict[frozenset, str]
) -> str | None:
    parts = name.split("_")
    if len(parts) != 2:
        return None
    if (split := pair_split.get(frozenset(parts))) is not None:
        return split
    splits = {video_split.get(part) for part in parts}
    return splits.pop() if len(splits) == 1 else None  # None when unknown or disagreeing


def _compressions(parent: Path, wanted: set[str] | None, sink: SampleSink):
    for comp_dir in subdirs(parent):
        if comp_dir.name in ("masks", "models"):
            continue
        compression = COMPRESSIONS.get(comp_dir.name)
        if compression is None:
            sink.problem(comp_dir, "unknown compression folder (expected raw, c0, c23 or c40)")
            continue
        if wanted is None or compression in wanted:
            yield comp_dir, compression


def _sequences(comp_dir: Path, policy: dict, sink: SampleSink):
    found = collect_sequences([comp_dir / "videos"], [comp_dir / d for d in FRAME_DIRS])
    if not found:
        sink.problem(comp_dir, "no videos/, images/ or frames/ content")
    empty = []
    for sequence in found:
        try:
            units = expand(sequence, **policy)
        except ValueError as err:
            sink.problem(sequence.video or comp_dir, str(err))
            continue
        if units:
            yield sequence, units
        else:
            empty.append(sequence.name)
    if empty:
        sink.problem(comp_dir, f"{len(empty)} sequence(s) with no usable file: {examples(empty)}")


def _mask_for(item: Unit, sequence: Sequence, method_dir: Path, comp_dir: Path) -> Path | None:
    """The FF++ mask matching a unit (mask video, mask frame folder or mask frame), if present."""
    masks = method_dir / "masks"
    if item.path == sequence.video:
        candidates = [masks / "videos" / item.path.name]
    elif item.path == sequence.frames:
        candidates = [masks / d / sequence.name for d in FRAME_DIRS]
        candidates.append(comp_dir / "masks" / sequence.name)
    else:
        leaf = Path(sequence.name) / item.path.name
        candidates = [masks / d / leaf for d in FRAME_DIRS]
        candidates += [comp / "masks" / leaf for comp in (comp_dir, method_dir / "c23")]
        candidates += [c.with_suffix(".png") for c in candidates if c.suffix != ".png"]
    return next((c for c in candidates if c.exists()), None)
