"""Detection and landmarks on real photos: counts, anatomy, orientation, bad inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from opendfa.faces import Face
from opendfa.media import load_image

# Face counts checked by eye on the overlays of these photos.
GROUP_COUNTS = {
    "sample1.jpg": 3,
    "sample2.jpg": 3,
    "sample3.jpg": 3,
    "sample4.jpg": 4,
    "sample5.jpg": 5,
    "sample6.jpg": 4,
}


def assert_plausible_anatomy(face: Face) -> None:
    right_eye, left_eye, nose, mouth_right, mouth_left = face.keypoints
    eye_y = (right_eye[1] + left_eye[1]) / 2
    mouth_y = (mouth_right[1] + mouth_left[1]) / 2
    assert eye_y < nose[1] < mouth_y, "eyes above nose above mouth"
    # Subject's left is the image's right for a face looking at the camera.
    assert left_eye[0] > right_eye[0]
    assert mouth_left[0] > mouth_right[0]
    x0, y0, x1, y1 = face.box
    margin = 0.1 * face.width
    for x, y in face.keypoints:
        assert x0 - margin <= x <= x1 + margin and y0 - margin <= y <= y1 + margin


def test_astronaut_has_one_face_with_correct_anatomy(astronaut_face):
    assert astronaut_face.landmarks.shape == (478, 3)
    assert astronaut_face.score > 0.8
    assert astronaut_face.rotation == 0
    assert_plausible_anatomy(astronaut_face)
    # The face is in the upper middle of the 512 px photo.
    assert 150 < astronaut_face.box[0] < 200 and 240 < astronaut_face.box[2] < 300


def test_grace_hopper_has_one_face(face_detector, hopper_path):
    faces = face_detector.detect(load_image(hopper_path).rgb)
    assert len(faces) == 1
    assert_plausible_anatomy(faces[0])


def test_group_photos_find_every_face_sorted_by_size(face_detector, group_photos):
    for name, path in group_photos.items():
        faces = face_detector.detect(load_image(path).rgb)
        assert len(faces) == GROUP_COUNTS[name], name
        areas = [face.area for face in faces]
        assert areas == sorted(areas, reverse=True), name
        for face in faces:
            right_eye, left_eye, nose, *_ = face.keypoints
            assert (right_eye[1] + left_eye[1]) / 2 < nose[1] + 0.05 * face.height, name


@pytest.mark.parametrize(
    ("face_px", "canvas_px", "min_face_px"), [(45, 1920, 40.0), (26, 1280, 24.0)]
)
def test_small_face_in_a_large_image_is_found(astronaut_rgb, face_px, canvas_px, min_face_px):
    """A face a few percent of the image wide is found by the tiled scan."""
    from opendfa.faces import FaceDetector, FaceDetectorConfig

    side = round(face_px / 0.2)  # the astronaut's face is about a fifth of the photo
    small = np.asarray(Image.fromarray(astronaut_rgb).resize((side, side), Image.BILINEAR))
    canvas = np.full((canvas_px * 2 // 3, canvas_px, 3), 128, dtype=np.uint8)
    x0, y0 = canvas_px // 2 + 37, canvas_px // 4
    canvas[y0 : y0 + side, x0 : x0 + side] = small
    with FaceDetector(FaceDetectorConfig(min_face_px=min_face_px)) as detector:
        faces = detector.detect(canvas)
    assert len(faces) == 1
    assert faces[0].width < 1.6 * face_px
    assert x0 <= faces[0].box[0] and faces[0].box[2] <= x0 + side


def test_photo_without_a_face_gives_an_empty_list(face_detector):
    from skimage import data

    assert face_detector.detect(data.coffee()) == []
    assert face_detector.detect(np.zeros((1, 1, 3), dtype=np.uint8)) == []
    assert face_detector.detect(np.full((300, 300, 3), 200, dtype=np.uint8)) == []


def test_exif_rotated_photo_gives_the_same_landmarks(face_detector, astronaut_rgb, astronaut_face):
    stored = Image.fromarray(astronaut_rgb).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif)
    loaded = load_image(buffer.getvalue())
    assert loaded.exif_orientation == 6
    assert loaded.rgb.shape == astronaut_rgb.shape
    faces = face_detector.detect(loaded.rgb)
    assert len(faces) == 1
    error = np.linalg.norm(faces[0].keypoints - astronaut_face.keypoints, axis=1).max()
    assert error < 0.05 * astronaut_face.interocular


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_rotated_face_is_found_and_mapped_back(face_detector, astronaut_rgb, quarter_turns):
    """A photo turned on its side: the face is found and its points are in the turned image."""
    turned = np.ascontiguousarray(np.rot90(astronaut_rgb, k=quarter_turns))
    faces = face_detector.detect(turned)
    assert len(faces) == 1
    face = faces[0]
    assert face.rotation in (0, 90, 180, 270)
    # The eyes must land on the turned position of the upright eyes.
    upright = face_detector.detect(astronaut_rgb)[0].keypoints
    expected = _rot90_points(upright, quarter_turns, astronaut_rgb.shape[1], astronaut_rgb.shape[0])
    error = np.linalg.norm(face.keypoints[:2] - expected[:2], axis=1).max()
    assert error < 0.15 * face.interocular


def _rot90_points(points: np.ndarray, k: int, width: int, height: int) -> np.ndarray:
    """Where points go under np.rot90(image, k) (anticlockwise quarter turns)."""
    out = points.copy()
    for _ in range(k % 4):
        x, y = out[:, 0].copy(), out[:, 1].copy()
        out[:, 0], out[:, 1] = y, width - x
        width, height = height, width
    return out


def test_detector_rejects_non_rgb_arrays(face_detector):
    with pytest.raises(ValueError, match="RGB uint8"):
        face_detector.detect(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        face_detector.detect(np.zeros((10, 10, 3), dtype=np.float32))


def test_close_up_filling_the_frame_is_found(face_detector, astronaut_rgb, astronaut_face):
    """Face crops, as DF40 and FF++ frames are often cut, are found."""
    x0, y0, x1, y1 = (round(v) for v in astronaut_face.box)
    pad = (x1 - x0) // 3
    close_up = np.ascontiguousarray(astronaut_rgb[y0 - pad : y1 + pad, x0 - pad : x1 + pad])
    close_up = np.asarray(Image.fromarray(close_up).resize((400, 400), Image.BICUBIC))
    faces = face_detector.detect(close_up)
    assert len(faces) == 1 and faces[0].width > 200
    assert_plausible_anatomy(faces[0])


def test_tight_face_crops_are_found(face_detector):
    """Tight 128 px face crops (LFW-style), which the full-range model alone mostly misses."""
    from skimage.data import lfw_subset

    faces = lfw_subset()[:20]
    found = 0
    for grey in faces:
        rgb = np.repeat((grey * 255).astype(np.uint8)[:, :, None], 3, axis=2)
        big = np.asarray(Image.fromarray(rgb).resize((128, 128), Image.BICUBIC))
        found += len(face_detector.detect(big)) == 1
    assert found >= 12


def test_face_graphs_prepare_in_the_background_and_keep_the_drawing_deferred():
    import subprocess
    import sys

    script = (
        "import sys, threading\n"
        "from opendfa.faces.detect import FaceDetector\n"
        "from skimage import data\n"
        "with FaceDetector() as faces:\n"
        "    thread = faces.prepare_in_background()\n"
        "    assert isinstance(thread, threading.Thread), thread\n"
        "    found = faces.detect(data.astronaut())\n"
        "assert not thread.is_alive() and len(found) == 1\n"
        "assert 'matplotlib' not in sys.modules  # drawing helpers still deferred\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_warm_up_in_the_background_changes_no_face_and_prints_nothing():
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from skimage import data\n"
        "from opendfa.faces.detect import FaceDetector\n"
        "image = data.astronaut()\n"
        "with FaceDetector() as cold:\n"
        "    expected = cold.detect(image)\n"
        "with FaceDetector() as warm:\n"
        "    thread = warm.prepare_in_background()\n"
        "    thread.join()\n"
        "    assert not warm._not_run_yet  # every graph has run once\n"
        "    found = warm.detect(image)\n"
        "assert len(found) == len(expected) == 1\n"
        "assert np.allclose(found[0].landmarks, expected[0].landmarks, atol=1e-4)\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENDFA_VERBOSE_NATIVE"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok" and done.stderr == ""


def test_calls_stay_silenced_until_one_has_found_a_face(astronaut_rgb):
    """MediaPipe's mesh starts its landmark model on the first face it sees, and logs from
    its own threads: a call is only let speak once a call has found a face."""
    from opendfa.faces import FaceDetector

    with FaceDetector() as detector:
        detector.warm_up()
        assert not detector._served  # a blank warm-up starts no landmark model
        assert detector.detect(np.zeros((64, 64, 3), np.uint8)) == []
        assert not detector._served
        assert len(detector.detect(astronaut_rgb)) == 1
        assert detector._served
    assert not detector._served  # closed: new graphs would log again
