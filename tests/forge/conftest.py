"""Real face crops for forgery tests: the two bundled portraits and group-photo faces."""

from __future__ import annotations

import pytest

from opendfa.data.synth import face_crop
from opendfa.forge import FaceImage
from opendfa.media import load_image


@pytest.fixture(scope="session")
def portraits(face_detector, astronaut_path, hopper_path, group_photos) -> list[FaceImage]:
    """Five different people as face-centred crops, as `opendfa data synth` prepares them."""
    sources = [(astronaut_path, 0), (hopper_path, 0)]
    sources += [
        (group_photos["sample3.jpg"], 0),
        (group_photos["sample5.jpg"], 1),
        (group_photos["sample6.jpg"], 0),
    ]
    faces = []
    for number, (path, index) in enumerate(sources):
        rgb = load_image(path).rgb
        crop, face = face_crop(rgb, face_detector.detect(rgb)[index])
        faces.append(FaceImage(rgb=crop, face=face, identity=f"person{number}", path=str(path)))
    return faces
