"""Who is in a video, read from the naming conventions of the public datasets.

Identity strings are shared by every importer so that a DF40 fake made from FF++ video 000
and the FF++ original 000 carry the same person:

- FF++ YouTube sequences `000`..`999` -> `ffpp:000` (FF++ has a few people under two numbers,
  e.g. 043/343; nothing here merges them).
- FF++ actor sequences (DeepFakeDetection) `01__walking_...` -> `ffpp-actors:01`.
- Celeb-DF `id0_0000` -> `celebdf:id0`; YouTube-real `00170` -> `celebdf-youtube:00170`.

Pair names put the target first: FF++ `000_003` and DFD `01_02__scene__HASH` mean target video
000 (its background, body and motion are kept) with source 003 (the donor face for a swap, the
driver for a reenactment); Celeb-DF `id0_id16_0000` is target video `Celeb-real/id0_0000` with
the face of id16. `Sample.identity` is the person who appears: the source for a face swap, the
target for a reenactment or an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS, FACE_SWAP

_FF_SINGLE = re.compile(r"^(\d{3})$")
_FF_PAIR = re.compile(r"^(\d{3})_(\d{3})$")
_DFD_REAL = re.compile(r"^(\d{2})__")
_DFD_PAIR = re.compile(r"^(\d{2})_(\d{2})__")
_CELEB_SINGLE = re.compile(r"^(id\d+)_(\d+)$")
_CELEB_PAIR = re.compile(r"^(id\d+)_(id\d+)_(\d+)$")
_CELEB_YOUTUBE = re.compile(r"^(\d{5})$")


@dataclass(frozen=True)
class People:
    """The target (canvas) of a video and, for a pair name, its source (donor or driver)."""

    target: str
    source: str | None = None
    original: str | None = None  # the real video the fake was made from, when the name says


def parse_people(name: str, family: str | None = None) -> People | None:
    """People named by a FF++ / DFD / Celeb-DF video name, or None for any other name.

    `family` ("ffpp" or "celebdf") accepts only that dataset's names, so that e.g. a CelebA
    image called `001.png` is not taken for FF++ video 001.
    """
    people = _parse(name)
    if people is None or family is None:
        return people
    return people if people.target.split(":")[0].split("-")[0] == family else None


def _parse(name: str) -> People | None:
    if match := _FF_PAIR.match(name):
        a, b = match.groups()
        return People(f"ffpp:{a}", f"ffpp:{b}", original=a)
    if match := _FF_SINGLE.match(name):
        return People(f"ffpp:{match.group(1)}")
    if match := _DFD_PAIR.match(name):
        a, b = match.groups()
        return People(f"ffpp-actors:{a}", f"ffpp-actors:{b}")
    if match := _DFD_REAL.match(name):
        return People(f"ffpp-actors:{match.group(1)}")
    if match := _CELEB_PAIR.match(name):
        a, b, n = match.groups()
        return People(f"celebdf:{a}", f"celebdf:{b}", original=f"{a}_{n}")
    if match := _CELEB_SINGLE.match(name):
        return People(f"celebdf:{match.group(1)}")
    if match := _CELEB_YOUTUBE.match(name):
        return People(f"celebdf-youtube:{match.group(1)}")
    return None


def roles(
    people: People | None, category: str, fallback: str
) -> tuple[str, str | None, str | None]:
    """(identity, source_identity, target_identity) for a sample of `category`.

    Entire-face synthesis shows nobody real, so it always gets `fallback` (a name unique to
    the generated image or folder); so does any name `parse_people` could not read.
    """
    if people is None or category == ENTIRE_FACE_SYNTHESIS:
        return fallback, None, None
    if people.source is None:
        return people.target, None, None
    shown = people.source if category == FACE_SWAP else people.target
    return shown, people.source, people.target
