"""Celeb-DF (v2, and v1 which has the same layout).

```
<root>/Celeb-real/id<a>_<n>.mp4          real, person id<a>
<root>/YouTube-real/<nnnnn>.mp4          real, one unnamed person per video
<root>/Celeb-synthesis/id<a>_id<b>_<n>.mp4
                                         fake: target video Celeb-real/id<a>_<n> with id<b>'s face
<root>/List_of_testing_videos.txt        the official test set
```
Videos may also sit in `<folder>/videos/`, and extracted frames in `<folder>/frames/<name>/`
(DeepfakeBench's preprocessing). Each line of the test list is `<label> <folder>/<name>.mp4`
where the label is 1 for real and 0 for fake (e.g. `1 YouTube-real/00170.mp4`); the folder
decides the label here, and a line whose number disagrees is reported. Listed videos are
split "test", all others "train" (Celeb-DF defines no validation set). Without the list,
split is None. Fakes are face swaps (`celebdf.synthesis`), as DF40 counts them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_choice,
    examples,
    register_importer,
)
from opendfa.data.importers.flags import add_frame_options
from opendfa.data.importers.frames import MEDIA, UNITS, collect_sequences, expand
from opendfa.data.importers.identities import parse_people, roles
from opendfa.taxonomy import FACE_SWAP, REAL

REAL_FOLDERS = ("Celeb-real", "YouTube-real")
FAKE_FOLDERS = ("Celeb-synthesis",)
TEST_LIST = "List_of_testing_videos.txt"


def celebdf_flags(parser: argparse.ArgumentParser) -> None:
    """`import_celebdf`'s options as flags."""
    parser.add_argument(
        "--test-list",
        metavar="FILE",
        help="the test list (default: <root>/List_of_testing_videos.txt)",
    )
    add_frame_options(parser)


@register_importer("celebdf", celebdf_flags)
def import_celebdf(
    root: Path,
    *,
    test_list: str | Path | None = None,
    unit: str = "auto",
    media: str = "auto",
    frames_per_video: int | None = None,
) -> ImportResult:
    """Import Celeb-DF under `root`; `test_list` overrides `<root>/List_of_testing_videos.txt`."""
    check_choice("unit", unit, UNITS)
    check_choice("media", media, MEDIA)
    folders = [root / name for name in (*REAL_FOLDERS, *FAKE_FOLDERS) if (root / name).is_dir()]
    if not folders:
        raise ValueError(
            "not a Celeb-DF root: no Celeb-real/, YouTube-real/ or Celeb-synthesis/ folder "
            f"({root})"
        )
    if test_list is not None and not Path(test_list).is_file():
        raise ValueError(f"test_list is not a file ({test_list})")
    list_path = Path(test_list) if test_list is not None else root / TEST_LIST
    sink = SampleSink("celebdf", root)
    listed = _read_test_list(list_path, sink)
    seen: set[tuple[str, str]] = set()
    for folder in folders:
        real = folder.name in REAL_FOLDERS
        sequences = collect_sequences([folder, folder / "videos"], [folder / "frames"])
        for sequence in sequences:
            key = (folder.name, sequence.name)
            seen.add(key)
            try:
                units = expand(sequence, unit=unit, media=media, frames_per_video=frames_per_video)
            except ValueError as err:
                sink.problem(sequence.video or folder, str(err))
                continue
            people = parse_people(sequence.name)
            fallback = f"celebdf-{folder.name}:{sequence.name}"
            category = REAL if real else FACE_SWAP
            identity, source, target = roles(people, category, fallback)
            meta = {"subset": folder.name, "video_id": sequence.name}
            if people is not None and people.original is not None:
                meta["original_video"] = f"Celeb-real/{people.original}"
            split = None if listed is None else ("test" if key in listed else "train")
            for item in units:
                sink.add(
                    item,
                    label="real" if real else "fake",
                    category=category,
                    technique="celebdf.real" if real else "celebdf.synthesis",
                    identity=identity,
                    source_identity=source,
                    target_identity=target,
                    split=split,
                    meta=meta,
                )
    missing = sorted(f"{a}/{b}" for a, b in (listed or set()) - seen)
    if missing:
        sink.problem(
            list_path,
            f"{len(missing)} listed test video(s) not found: {examples(missing)}",
        )
    return sink.result


def _read_test_list(path: Path, sink: SampleSink) -> set[tuple[str, str]] | None:
    """(folder, video name) pairs of the official test set; None when there is no list."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        sink.problem(path, "no official test list; split left None")
        return None
    except OSError as err:
        sink.problem(path, f"unreadable test list ({err.strerror}); split left None")
        return None
    listed: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        relative = parts[-1].strip().replace("\\", "/")
        folder, _, filename = relative.rpartition("/")
        if len(parts) != 2 or parts[0] not in ("0", "1") or not folder:
            sink.problem(path, f"line {number}: expected '<0|1> <folder>/<video>', got {line!r}")
            continue
        folder = folder.rsplit("/", 1)[-1]
        if folder not in (*REAL_FOLDERS, *FAKE_FOLDERS):
            sink.problem(path, f"line {number}: unknown folder {folder!r}")
            continue
        if (parts[0] == "1") != (folder in REAL_FOLDERS):
            said = "real" if parts[0] == "1" else "fake"
            sink.problem(
                path,
                f"line {number}: label {parts[0]} ({said}) contradicts folder "
                f"{folder}; the folder wins",
            )
        listed.add((folder, Path(filename).stem))
    return listed
