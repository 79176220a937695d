"""DF40: 40 forgery techniques, one folder each, as released after preprocessing.

```
<root>/[train|test/]<technique>/<domain>/frames/<video>/<frame>.png   (FS / FR / most EFS)
<root>/[train|test/]<technique>/<domain>/.../<image>.png               (FE, some EFS)
<root>/[train|test/]<technique>/<domain>/.../<video>.mp4               (the raw FS / FR videos)
```
`<domain>` is `ff` (made from FF++ c23) or `cdf` (from Celeb-DF); anything deeper (DF40's
nested archives) is walked. `landmarks/`, `masks/` and `frames_wocropface/` are not samples;
a `masks/` tree mirroring `frames/` gives the masks. A folder named real/original inside a
technique holds real images (the 9 "unknown" techniques ship theirs); the other techniques'
real data is FF++ / Celeb-DF itself: import those with the `ffpp` / `celebdf` importers.

The split is the `train/` or `test/` folder, or the root's own name (`DF40_train`), or
`split=`. Video names from FF++ or Celeb-DF keep their people (see `identities`; DF40's own
pair naming is assumed to follow FF++'s target_source order); entire-face-synthesis images get
a per-folder synthetic identity. DF40's JSON indexes are DeepfakeBench indexes: use the
`deepfakebench` importer for them.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from opendfa.data.importers.base import (
    ImportResult,
    SampleSink,
    check_categories,
    check_choice,
    normalize_split,
    register_importer,
    subdirs,
)
from opendfa.data.importers.flags import add_category_option, add_frame_options
from opendfa.data.importers.frames import (
    UNITS,
    Unit,
    frame_order,
    image_units,
    is_image,
    is_video,
    video_units,
)
from opendfa.data.importers.identities import parse_people, roles
from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
    REAL,
)

# DF40's 40 techniques by the folder / label name its code uses (DeepfakeBench_DF40
# test_config.yaml), grouped as in the DF40 README table: 10 FS, 13 FR, 12 EFS, 5 FE.
DF40_TECHNIQUES: dict[str, str] = {
    **dict.fromkeys(
        [
            "fsgan",
            "faceswap",
            "simswap",
            "inswap",
            "blendface",
            "uniface",
            "mobileswap",
            "e4s",
            "facedancer",
            "deepfacelab",
        ],
        FACE_SWAP,
    ),
    **dict.fromkeys(
        [
            "fomm",
            "facevid2vid",
            "wav2lip",
            "MRAA",
            "one_shot_free",
            "pirender",
            "tpsm",
            "lia",
            "danet",
            "sadtalker",
            "mcnet",
            "hyperreenact",
            "heygen",
        ],
        FACE_REENACTMENT,
    ),
    **dict.fromkeys(
        [
            "VQGAN",
            "StyleGAN2",
            "StyleGAN3",
            "StyleGANXL",
            "sd2.1",
            "ddim",
            "rddm",
            "pixart",
            "DiT",
            "SiT",
            "MidJourney",
            "whichisreal",
        ],
        ENTIRE_FACE_SYNTHESIS,
    ),
    **dict.fromkeys(["CollabDiff", "e4e", "stargan", "starganv2", "styleclip"], FACE_EDITING),
}
# Other spellings of the same techniques (README names, archive names), and the two extra
# generators DF40's preprocessing lists with its synthesis methods (sd1.5, dalle2_face).
ALIASES = {
    "inswapper": "inswap",
    "fsvid2vid": "facevid2vid",
    "facevid2vid": "facevid2vid",
    "oneshot": "one_shot_free",
    "oneshotfree": "one_shot_free",
    "dagan": "danet",
    "styleganxl": "StyleGANXL",
    "sd21": "sd2.1",
    "ddpm": "ddim",
    "pixartalpha": "pixart",
    "ditxl2": "DiT",
    "sitxl2": "SiT",
    "mj": "MidJourney",
    "midjourney6": "MidJourney",
    "midjounery6": "MidJourney",
    "collaborativediffusion": "CollabDiff",
}
EXTRA_TECHNIQUES = {"sd1.5": ENTIRE_FACE_SYNTHESIS, "dalle2_face": ENTIRE_FACE_SYNTHESIS}
DOMAINS = {"ff": "ff", "ffpp": "ff", "ff++": "ff", "cdf": "cdf", "cdfv2": "cdf", "celebdf": "cdf"}
FAMILY_OF_DOMAIN = {"ff": "ffpp", "cdf": "celebdf"}
SKIP_DIRS = {"landmarks", "landmark", "masks", "mask", "frames_wocropface", "__macosx"}
CONTAINER_DIRS = {"frames", "images", "inversions", "fake", "fakes", "videos", "faces_all"}
REAL_DIRS = {"real", "reals", "original", "originals", "0_real", "real_images", "real_frames"}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_LOOKUP = {_key(name): name for name in (*DF40_TECHNIQUES, *EXTRA_TECHNIQUES)}
_LOOKUP.update({_key(alias): name for alias, name in ALIASES.items()})


def df40_technique(folder: str) -> tuple[str, str] | None:
    """(canonical DF40 name, category) for a technique folder or label name, else None."""
    name = _LOOKUP.get(_key(folder))
    if name is None:
        return None
    return name, DF40_TECHNIQUES.get(name) or EXTRA_TECHNIQUES[name]


def df40_flags(parser: argparse.ArgumentParser) -> None:
    """`import_df40`'s options as flags."""
    parser.add_argument(
        "--split",
        choices=("train", "val", "test"),
        help="the split of every imported sample",
    )
    add_frame_options(parser, media=False)
    add_category_option(parser)


@register_importer("df40", df40_flags)
def import_df40(
    root: Path,
    *,
    split: str | None = None,
    unit: str = "auto",
    frames_per_video: int | None = None,
    categories: dict[str, str] | None = None,
) -> ImportResult:
    """Import DF40 under `root`; `categories={folder: category}` imports unknown folders."""
    check_choice("unit", unit, UNITS)
    if split is not None and normalize_split(split) is None:
        raise ValueError(f"split must be train, val or test, got {split!r}")
    split = normalize_split(split)
    overrides = {_key(k): v for k, v in check_categories(categories).items()}
    split_dirs = [
        (d, _split_from_name(d.name))
        for d in subdirs(root)
        if _split_from_name(d.name) and df40_technique(d.name) is None
    ]
    if not split_dirs:
        split_dirs = [(root, _split_from_name(root.name))]
    methods = [(m, s) for d, s in split_dirs for m in subdirs(d)]
    if not any(df40_technique(m.name) or _key(m.name) in overrides for m, _ in methods):
        raise ValueError(
            "not a DF40 root: no technique folder such as simswap/, fomm/, StyleGAN2/ or e4e/ "
            f"({root})"
        )
    sink = SampleSink("df40", root)
    for method_dir, folder_split in methods:
        known = df40_technique(method_dir.name)
        if _key(method_dir.name) in overrides:
            name, category = method_dir.name, overrides[_key(method_dir.name)]
        elif known is not None:
            name, category = known
        else:
            sink.problem(
                method_dir,
                "unknown DF40 technique folder skipped; pass "
                f"categories={{{method_dir.name!r}: <category>}} to import it",
            )
            continue
        technique = _Technique(sink, method_dir, name, category, split or folder_split)
        technique.walk(unit=unit, frames_per_video=frames_per_video)
    return sink.result


def _split_from_name(name: str) -> str | None:
    """The split a folder name states as a word ('DF40_train', 'test'), if exactly one."""
    tokens = {normalize_split(t) for t in re.split(r"[^a-zA-Z]+", name)}
    tokens.discard(None)
    return tokens.pop() if len(tokens) == 1 else None


class _Technique:
    """One technique folder: walks it and adds a sample per image / video / frame."""

    def __init__(
        self, sink: SampleSink, folder: Path, name: str, category: str, split: str | None
    ) -> None:
        self.sink, self.folder, self.name = sink, folder, name
        self.category, self.split = category, split

    def walk(self, **policy) -> None:
        found = 0
        for folder, dirnames, filenames in os.walk(self.folder):
            dirnames[:] = sorted(
                d for d in dirnames if d.lower() not in SKIP_DIRS and not d.startswith(".")
            )
            here = Path(folder)
            images = sorted((here / f for f in filenames if is_image(here / f)), key=frame_order)
            videos = sorted(here / f for f in filenames if is_video(here / f))
            if not images and not videos:
                continue
            parts = [p.lower() for p in here.relative_to(self.folder).parts]
            context = {
                "domain": next((DOMAINS[p] for p in parts if p in DOMAINS), None),
                "real": any(p in REAL_DIRS for p in parts),
            }
            # Images in a folder of their own are the frames of one video; images in a
            # container folder (frames/, inversions/, a domain) each stand alone.
            sequence = bool(parts) and parts[-1] not in CONTAINER_DIRS | REAL_DIRS | set(DOMAINS)
            if images:
                units = image_units(images, here if sequence else None, **policy)
                group = here if sequence else None
                found += self._add(units, group, **context)
            for video in videos:
                try:
                    units = video_units(video, **policy)
                except ValueError as err:
                    self.sink.problem(video, str(err))
                    continue
                found += self._add(units, video, **context)
        if found == 0:
            self.sink.problem(self.folder, "no images or videos found")

    def _add(self, units: list[Unit], group: Path | None, *, domain: str | None, real: bool) -> int:
        """Add `units`; `group` is their video file or frame folder (None: loose images)."""
        category = REAL if real else self.category
        for item in units:
            name = (group or item.path).stem if group is None or group.is_file() else group.name
            fallback = f"df40:{self.name}:{self.sink.rel(group or item.path)}"
            # Names are read only inside an FF++ / Celeb-DF domain folder: elsewhere (CelebA,
            # FFHQ, VFHQ sources) a name like 001.png says nothing about who it shows.
            family = FAMILY_OF_DOMAIN.get(domain or "")
            people = parse_people(name, family) if family else None
            identity, source, target = roles(people, category, fallback)
            meta = {"df40_folder": self.folder.name, "video_id": name}
            if domain is not None:
                meta["domain"] = domain
            self.sink.add(
                item,
                label="real" if real else "fake",
                category=category,
                technique="df40.real" if real else f"df40.{self.name}",
                identity=identity,
                source_identity=source,
                target_identity=target,
                split=self.split,
                mask=None if real else _mask_for(item.path),
                meta=meta,
            )
        return len(units)


def _mask_for(path: Path) -> Path | None:
    """`.../masks/<video>/<frame>.png` mirroring `.../frames/<video>/<frame>.png`, if present."""
    parts = list(path.parts)
    if "frames" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("frames")
    parts[index] = "masks"
    mask = Path(*parts)
    return next((c for c in (mask, mask.with_suffix(".png")) if c.exists()), None)
