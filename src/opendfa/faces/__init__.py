"""Face detection, 478-point landmarks, alignment, region masks and video tracks."""

from opendfa.faces.align import AlignedFace, Alignment, align_face, alignment_for
from opendfa.faces.detect import DetectorConfig, FaceDetector
from opendfa.faces.mesh import KEYPOINT_NAMES
from opendfa.faces.regions import REGION_NAMES, RegionMasks, region_masks
from opendfa.faces.types import Face, box_iou

__all__ = [
    "KEYPOINT_NAMES",
    "REGION_NAMES",
    "AlignedFace",
    "Alignment",
    "DetectorConfig",
    "Face",
    "FaceDetector",
    "RegionMasks",
    "align_face",
    "alignment_for",
    "box_iou",
    "region_masks",
]
