"""Named index sets of MediaPipe's 478-point face mesh (left/right are the subject's).

Indices 468-472 are the subject's right iris and 473-477 the left iris (refined mesh).
"""

from __future__ import annotations

NUM_LANDMARKS = 478

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
# Eyebrow outlines: upper arc from outer to inner end, then lower arc back.
LEFT_EYEBROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
RIGHT_EYEBROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LIPS_OUTER = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)  # fmt: skip
LIPS_INNER = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)  # fmt: skip
# Points spanning the nose from the bridge to the alae; the region is their convex hull.
NOSE = (
    168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 129, 358, 64, 294, 48, 278,
    115, 344, 131, 360, 134, 363, 51, 281, 45, 275, 122, 351, 193, 417, 209, 429, 49, 279,
)  # fmt: skip

LEFT_IRIS_CENTER = 473
RIGHT_IRIS_CENTER = 468
NOSE_TIP = 1
MOUTH_RIGHT_CORNER = 61
MOUTH_LEFT_CORNER = 291
LOWER_LIP_BOTTOM = 17
RIGHT_EYE_LOWER = 145
LEFT_EYE_LOWER = 374
RIGHT_BROW_TOP = 105
LEFT_BROW_TOP = 334
MIDLINE_TOP = 168
FOREHEAD_TOP = 10
MIDLINE_BOTTOM = 152

# Five keypoints in InsightFace order (image-left first for a frontal face).
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left")
KEYPOINT_INDICES = (
    RIGHT_IRIS_CENTER,
    LEFT_IRIS_CENTER,
    NOSE_TIP,
    MOUTH_RIGHT_CORNER,
    MOUTH_LEFT_CORNER,
)
