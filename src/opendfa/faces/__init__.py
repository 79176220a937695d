"""Face detection, 478-point landmarks, alignment, region masks and video tracks."""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "KEYPOINT_NAMES": "opendfa.faces.mesh",
    "REGION_NAMES": "opendfa.faces.regions",
    "AlignedFace": "opendfa.faces.align",
    "Alignment": "opendfa.faces.align",
    "FaceDetectorConfig": "opendfa.faces.detect",
    "Face": "opendfa.faces.types",
    "FaceDetector": "opendfa.faces.detect",
    "RegionMasks": "opendfa.faces.regions",
    "align_face": "opendfa.faces.align",
    "alignment_for": "opendfa.faces.align",
    "box_iou": "opendfa.faces.types",
    "region_masks": "opendfa.faces.regions",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
