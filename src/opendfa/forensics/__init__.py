"""The forensic toolbox: checks that need no trained model.

Each check is its own module with its own record: `metadata` (EXIF, XMP, IPTC), `provenance`
(C2PA Content Credentials), `jpeg` (quantization tables, quality, double compression), `maps`
(error-level and noise-residual maps) and the opt-in `copy_move`. `run_forensics` runs them
on one file and returns a `ForensicsReport`; its `signals()` are plain-language findings.

None of these is a verdict: metadata can be stripped or forged, most genuine photos carry no
Content Credentials, and every camera-phone picture has been re-compressed by some app. They
are facts about the file to weigh next to the detector.
"""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "CopyMoveRecord": "opendfa.forensics.copy_move",
    "ForensicMaps": "opendfa.forensics.maps",
    "ForensicsReport": "opendfa.forensics.toolbox",
    "JpegRecord": "opendfa.forensics.jpeg",
    "MetadataRecord": "opendfa.forensics.metadata",
    "ProvenanceRecord": "opendfa.forensics.provenance",
    "analyze_jpeg": "opendfa.forensics.jpeg",
    "detect_copy_move": "opendfa.forensics.copy_move",
    "forensic_maps": "opendfa.forensics.maps",
    "read_metadata": "opendfa.forensics.metadata",
    "read_provenance": "opendfa.forensics.provenance",
    "run_forensics": "opendfa.forensics.toolbox",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
