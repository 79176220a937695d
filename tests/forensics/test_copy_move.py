"""Copy-move detection on a real photo with a region copied inside it."""

from __future__ import annotations

import numpy as np

from opendfa.forensics.copy_move import detect_copy_move


def test_a_copied_region_is_found_with_its_offset(photos):
    rgb = photos["chelsea"].copy()
    assert rgb.shape[:2] == (225, 338)
    rgb[150:210, 240:300] = rgb[20:80, 20:80]  # offset (+220, +130)
    record = detect_copy_move(rgb)
    assert record.detected
    region = max(record.regions, key=lambda r: r.pairs)
    assert abs(region.offset[0] - 220) <= 3 and abs(region.offset[1] - 130) <= 3
    x0, y0, x1, y1 = region.target_box
    assert x0 >= 235 and x1 <= 305 and y0 >= 145 and y1 <= 215


def test_the_untouched_photo_has_no_copied_region(photos):
    record = detect_copy_move(photos["chelsea"])
    assert not record.detected and record.keypoints > 500


def test_flat_and_tiny_images_give_records(photos):
    assert not detect_copy_move(np.full((200, 200, 3), 90, np.uint8)).detected
    tiny = detect_copy_move(np.zeros((8, 8, 3), np.uint8))
    assert not tiny.detected and tiny.warnings
