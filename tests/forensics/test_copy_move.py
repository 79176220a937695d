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


def test_the_report_line_says_what_was_found_and_never_a_verdict(photos):
    from opendfa.forensics.copy_move import copy_move_line

    assert copy_move_line(None).startswith("not run (opt-in")
    rgb = photos["chelsea"].copy()
    untouched = copy_move_line(detect_copy_move(rgb).to_dict())
    assert untouched.startswith("no region found twice (") and "keypoints" in untouched
    rgb[150:210, 240:300] = rgb[20:80, 20:80]
    found = copy_move_line(detect_copy_move(rgb).to_dict())
    assert found.startswith("1 region(s) appear twice: offset 2") and "look at the boxes" in found
    tiny = copy_move_line(detect_copy_move(np.zeros((8, 8, 3), np.uint8)).to_dict())
    assert tiny == "could not be made: image too small for copy-move detection"
