"""Make the bundled demo forgery `assets/samples/swap_collins_on_hopper.jpg`, reproducibly.

    .venv/bin/python scripts/make_demo_fake.py

A face swap by OpenDFA's own engine (`opendfa.forge`, seed 7): Eileen Collins' face (source)
on Grace Hopper's portrait (target). Both photos are US-government works in the public domain, so
the result is too. Saved as JPEG quality 92, as a fake met in the wild would be compressed.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from opendfa.faces import FaceDetector
from opendfa.forge import FaceImage, create_forgery
from opendfa.media import load_image

SAMPLES = Path(__file__).resolve().parent.parent / "src" / "opendfa" / "assets" / "samples"
OUT = SAMPLES / "swap_collins_on_hopper.jpg"


def main() -> int:
    with FaceDetector() as detector:
        faces = {}
        for name in ("astronaut", "grace_hopper"):
            rgb = load_image(SAMPLES / f"{name}.jpg").rgb
            faces[name] = FaceImage(rgb=rgb, face=detector.detect(rgb)[0], identity=name)
    forgery = create_forgery("face_swap", faces["grace_hopper"], faces["astronaut"], seed=7)
    bgr = cv2.cvtColor(forgery.image, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(OUT), bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote {OUT} ({forgery.technique}, regions: {', '.join(forgery.regions)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
