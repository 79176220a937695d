"""Answers about the file itself, made only from the report's `forensics` record.

`report.forensics` is `opendfa.forensics.ForensicsReport.to_dict()` of the analysed file
(metadata, C2PA provenance, JPEG structure, ELA and noise-map summaries) or None (a video, an
older report, or checks that could not run). Each sentence here states a field of that record;
what the field means in general (metadata can be forged, most photos carry no Content
Credentials, most shared photos were re-compressed, ELA is bright on edges in any photo) is
said as general knowledge, never as a finding. Nothing here is a verdict.

Each function takes the report and returns (text, facts); `grounded` wraps them into answers.
"""

from __future__ import annotations

from typing import Any

from opendfa.evidence.report import Report
from opendfa.evidence.words import join_words

SOFTWARE_KIND = {"generator": "an image generator's name", "editor": "an image editor's name"}
PROVENANCE_LEAD = {
    "trusted": "The file carries valid Content Credentials (C2PA) from a trusted signer",
    "valid_untrusted": "The file carries intact Content Credentials (C2PA)",
    "invalid": "The file carries Content Credentials (C2PA) that do not validate",
}
METADATA_FACTS = (
    "format",
    "camera_make",
    "camera_model",
    "software",
    "creator_tool",
    "software_kind",
    "date_original",
    "date_modified",
    "digital_source_type",
    "ai_declared",
    "gps_present",
    "thumbnail_mismatch",
    "thumbnail_difference",
)
ELA_CAUTION = (
    "As FotoForensics cautions, ELA is not a one-button answer: in any photo edges, fine "
    "texture and high-contrast detail change most when re-saved, flat surfaces least, and "
    "resizing or re-saving shifts the whole map. Compare like with like (similar edges, "
    "similar textures, one cheek with the other); a region that stands out from similar "
    "surfaces is a reason to look closer, not proof, and whole-image numbers like these "
    "cannot point to an edited area on their own."
)


def not_run(report: Report) -> tuple[str, dict]:
    """Why the report has no file-forensics record, from what the report holds."""
    checks = "metadata, Content Credentials, JPEG compression, ELA and noise maps"
    if report.input.kind == "video":
        return (
            f"The file checks ({checks}) were not run for this input: they are made for image "
            "files, and this is a video.",
            {"forensics": None, "kind": "video"},
        )
    failed = [w for w in report.warnings if w.startswith("file forensics could not run")]
    why = (
        f" ({failed[0]})"
        if failed
        else " (the report was made without them, e.g. by an older OpenDFA version)"
    )
    return (
        f"The file checks ({checks}) were not run for this input{why}, so there is nothing to "
        "say about its metadata, provenance or compression.",
        {"forensics": None},
    )


def metadata(record: dict) -> tuple[str, dict]:
    data = record["metadata"]
    blocks = [name for name in ("EXIF", "XMP", "IPTC") if data[f"has_{name.lower()}"]]
    form = data["format"] or "format unknown"
    parts = []
    if blocks:
        parts.append(f"The file ({form}) carries {join_words(blocks)} metadata.")
        camera = " ".join(v for v in (data["camera_make"], data["camera_model"]) if v)
        parts.append(f"Camera: {camera}." if camera else "It names no camera make or model.")
    else:
        parts.append(
            f"The file ({form}) carries no EXIF, XMP or IPTC metadata (stripped, or never "
            "written), so it makes no claim about camera, date or location."
        )
    tags = [
        f"{label} {data[key]!r}"
        for label, key in (("software tag", "software"), ("creator tool", "creator_tool"))
        if data[key]
    ]
    if tags:
        kind = SOFTWARE_KIND.get(data["software_kind"] or "")
        parts.append(f"Written with: {join_words(tags)}" + (f" ({kind})." if kind else "."))
    elif blocks:
        parts.append("No software or editor tag.")
    dates = [
        f"{label} {data[key]}"
        for label, key in (("taken", "date_original"), ("modified", "date_modified"))
        if data[key]
    ]
    if dates:
        parts.append("Dates: " + ", ".join(dates) + ".")
    parts.append(_source_type(data))
    if data["generator_hints"]:
        parts.append("Image-generator traces: " + "; ".join(data["generator_hints"]) + ".")
    if data["has_exif"]:
        parts.append(
            "GPS location: present (the coordinates are not read or shown)."
            if data["gps_present"]
            else "No GPS location."
        )
        parts.append(_thumbnail(data))
    people = [
        f"{label} {data[key]}"
        for label, key in (("creator", "creator"), ("credit", "credit"))
        if data[key]
    ]
    if people:
        parts.append("Named: " + "; ".join(people) + ".")
    if data["warnings"]:
        parts.append(f"Reading it gave {len(data['warnings'])} warning(s): {data['warnings'][0]}.")
    parts.append(
        "Metadata is a claim by whoever wrote the file, easily stripped or forged: it neither "
        "proves nor rules out manipulation."
    )
    return " ".join(parts), {"metadata": {key: data[key] for key in METADATA_FACTS}}


def provenance(record: dict) -> tuple[str, dict]:
    data = record["provenance"]
    state = data["state"]
    facts: dict[str, Any] = {
        "c2pa_state": state,
        "signer": data["signer"],
        "ai_declared": data["ai_declared"],
        "actions": [a["action"] for a in data["actions"]],
    }
    if state == "absent":
        text = (
            "No Content Credentials (no C2PA manifest) in this file: its provenance is unknown, "
            "which is not evidence of manipulation. Most genuine photos carry none, and many "
            "sites strip them when a picture is shared."
        )
        if data["reason"]:
            text += f" ({data['reason']}.)"
        return text + _metadata_declaration(record), facts
    if state == "unavailable":
        return (
            f"Content Credentials (C2PA) were not checked: {data['reason']}. Nothing can be "
            "said here about the file's provenance." + _metadata_declaration(record),
            facts,
        )
    parts = [PROVENANCE_LEAD[state] + _signed_by(data) + "."]
    if state == "trusted":
        parts.append(
            "The manifest is intact, its signature verifies and the certificate chains to a "
            "trust anchor."
        )
    elif state == "valid_untrusted":
        parts.append(
            "The manifest is intact and its signature verifies, but the signer is not on a "
            "trust list: anyone can make such a certificate, so who signed it is a claim."
        )
    elif data["signature_valid"]:
        parts.append(
            f"The claim's signature verifies but the file no longer matches it "
            f"({data['reason']}): the file was changed after it was signed."
        )
    else:
        parts.append(
            f"The manifest or its signature is broken ({data['reason']}): the file or its "
            "credentials were changed after signing, or damaged."
        )
    if state == "invalid":
        parts.append(
            "Invalid credentials vouch for nothing about this version of the file; a change "
            "after signing can be a plain re-save as well as an edit."
        )
    details = []
    if data["claim_generator"]:
        details.append(f"made with {data['claim_generator']}")
    if data["signed_at"]:
        details.append(f"signed at {data['signed_at']}")
    if data["ingredients"]:
        details.append(
            f"{len(data['ingredients'])} ingredient(s) named: " + ", ".join(data["ingredients"][:5])
        )
    if details:
        parts.append("The manifest says: " + "; ".join(details) + ".")
    parts.append(_c2pa_actions(data))
    return " ".join(p for p in parts if p) + _metadata_declaration(record), facts


def compression(record: dict) -> tuple[str, dict]:
    data = record["jpeg"]
    facts = {
        key: data[key]
        for key in ("is_jpeg", "quality", "standard_tables", "double_compressed", "first_quality")
    }
    if not data["is_jpeg"]:
        form = record["metadata"]["format"] or "format unknown"
        return (
            f"This file is not a JPEG ({form}), so it has no JPEG quality and the JPEG "
            "re-compression test does not apply.",
            facts,
        )
    if data["quality"] is None:
        why = f": {data['warnings'][0]}" if data["warnings"] else ""
        return f"It is a JPEG, but its quantization tables could not be read{why}.", facts
    quality = data["quality"]
    if data["standard_tables"]:
        parts = [
            f"JPEG quality ≈ {quality}: its tables are exactly libjpeg's for quality {quality} "
            "(the encoder behind Pillow, OpenCV and many apps)."
        ]
    else:
        parts = [
            f"JPEG quality ≈ {quality}, the nearest libjpeg equivalent of its own tables (fit "
            f"error {data['quality_fit_rmse']:.1f}); cameras and editors such as Photoshop "
            "write their own tables."
        ]
    layout = [
        f"chroma subsampling {data['subsampling']}" if data["subsampling"] else "",
        {True: "progressive", False: "baseline"}.get(data["progressive"], ""),
    ]
    if any(layout):
        parts.append(", ".join(p for p in layout if p).capitalize() + ".")
    double = data["double_compressed"]
    if double:
        first = data["first_quality"]
        parts.append(
            f"Re-compression: yes. {data['double_votes']} of the tested DCT frequencies show "
            f"the periodic pattern an earlier JPEG save leaves (score {data['double_score']:.2f})"
            + (f"; the earlier save was at about quality {first}." if first else ".")
            + " So it was saved as a JPEG at least twice. Most photos shared online have been "
            "(by an editor, an app or a platform): this says the file was re-saved, not that "
            "its content was changed."
        )
    elif double is False:
        parts.append(
            f"No re-compression pattern found (score {data['double_score']:.2f}). The test "
            "sees only aligned re-compression: a crop by other than a multiple of 8 pixels or "
            "a resize between the saves hides it, and an earlier save at a higher quality "
            "leaves weak traces, so this does not prove the file was saved only once."
        )
    else:
        why = f": {data['warnings'][0]}" if data["warnings"] else ""
        parts.append(f"The re-compression test was not run{why}.")
    return " ".join(parts), facts


def maps(record: dict, images_here: bool) -> tuple[str, dict]:
    """The ELA and noise summaries; `images_here` says whether the report object still holds
    the maps themselves (a fresh analysis), so that `/report` can draw them."""
    summary = record["maps"]
    if summary is None:
        skipped = [w for w in record["warnings"] if "pixel checks" in w]
        why = f" ({skipped[0]})" if skipped else ""
        return f"No ELA or noise map was made for this file{why}.", {"maps": None}
    ela, noise = summary["ela"], summary["noise"]
    size = f"{summary['width']}x{summary['height']}"
    if summary["scale"] < 1:
        size += (
            f" (downscaled, scale {summary['scale']:.2f}; that weakens JPEG traces, so this "
            "ELA says less)"
        )
    parts = [
        f"Both maps were computed on the analysed image at {size}.",
        f"Error level analysis (how much each pixel changes when the image is re-saved as "
        f"JPEG at quality {summary['ela_quality']}): {_summary(ela)}.",
        f"Noise residual (the local level of what a 3x3 median filter removes): {_summary(noise)}.",
    ]
    if images_here:
        parts.append(
            "The maps themselves: in the chat, `/report FILE.html` writes the HTML report with "
            "both as images (`opendfa analyze PATH --report FILE.html` does the same)."
        )
    else:
        parts.append(
            "This report keeps only these numbers, not the map images: they are drawn when "
            "the original file is analysed (`opendfa analyze PATH --report FILE.html`)."
        )
    parts.append(ELA_CAUTION)
    return " ".join(parts), {"maps": summary, "images": images_here}


COPY_MOVE_CAUTION = (
    "A region found twice is a place to look, not proof: tiles, text, fences and symmetric "
    "objects repeat in genuine photos; and finding none rules out only cloning within this "
    "image, not pasting from another one or a face swap."
)


def copy_move(record: dict) -> tuple[str, dict]:
    """The opt-in clone check: not run, nothing found, or the regions that appear twice."""
    data = record.get("copy_move")
    if data is None:
        return (
            "The copy-move (clone) check was not run for this analysis: it is opt-in "
            "(`opendfa analyze PATH --copy-move`, or a server started with `--copy-move`).",
            {"copy_move": None},
        )
    facts = {
        "copy_move": {
            "detected": data["detected"],
            "regions": len(data["regions"]),
            "keypoints": data["keypoints"],
        }
    }
    if data["warnings"] and not data["keypoints"]:
        return f"The copy-move check could not be made: {data['warnings'][0]}.", facts
    if not data["detected"]:
        return (
            f"The copy-move check found no region that appears twice in the image "
            f"({data['keypoints']} keypoints compared, {data['matches']} distant matches, too "
            f"few sharing one offset). {COPY_MOVE_CAUTION}",
            facts,
        )
    found = [
        f"content around x {r['source_box'][0]}-{r['source_box'][2]}, y {r['source_box'][1]}-"
        f"{r['source_box'][3]} appears again shifted by {r['offset'][0]}, {r['offset'][1]} px "
        f"({r['pairs']} matched points)"
        for r in data["regions"][:3]
    ]
    more = f", and {len(data['regions']) - 3} more" if len(data["regions"]) > 3 else ""
    text = (
        f"The copy-move check found {len(data['regions'])} region(s) that appear twice: "
        + "; ".join(found)
        + f"{more}. The HTML report (`/report FILE.html`) draws the boxes. {COPY_MOVE_CAUTION}"
    )
    return text, facts


# ----------------------------------------------------------------------------- helpers


def _source_type(data: dict) -> str:
    from opendfa.forensics.metadata import GENERATIVE_SOURCE_TYPES

    term = data["digital_source_type"]
    if term and data["ai_declared"]:
        what = "AI-generated" if term in GENERATIVE_SOURCE_TYPES else "algorithmic or synthetic"
        return f"Its XMP metadata declares {what} media (IPTC digital source type {term})."
    if term:
        return f"Its XMP metadata declares the source as {term}, which is not an AI declaration."
    return (
        "It declares no IPTC digital source type, so the metadata makes no AI declaration "
        "(the field is rarely written, so its absence says little)."
    )


def _thumbnail(data: dict) -> str:
    if not data["thumbnail"]:
        return "No embedded EXIF thumbnail."
    difference = data["thumbnail_difference"]
    if data["thumbnail_mismatch"]:
        return (
            f"The embedded EXIF thumbnail shows a different picture (difference "
            f"{difference:.2f}): the image was changed (edited, cropped or replaced) after the "
            "thumbnail was written, as when an editor keeps the camera's thumbnail."
        )
    if data["thumbnail_mismatch"] is False:
        return f"The embedded EXIF thumbnail matches the image (difference {difference:.2f})."
    return "There is an embedded EXIF thumbnail, but it could not be compared with the image."


def _signed_by(data: dict) -> str:
    if not data["signer"]:
        return " (signer not named)"
    issuer = data["issuer"]
    return f" (signed by {data['signer']}" + (
        f", issued by {issuer})" if issuer and issuer != data["signer"] else ")"
    )


def _c2pa_actions(data: dict) -> str:
    from opendfa.forensics.metadata import GENERATIVE_SOURCE_TYPES

    actions = data["actions"]
    declared = [a for a in actions if a["ai_source"]]
    claims = "the invalid manifest claims" if data["state"] == "invalid" else "they declare"
    if declared:
        generative = any(a["digital_source_type"] in GENERATIVE_SOURCE_TYPES for a in declared)
        what = "AI-generated" if generative else "algorithmic or synthetic"
        listed = ", ".join(f"{a['action']} ({a['digital_source_type']})" for a in declared)
        return f"As {claims}, the content is {what}: {listed}."
    if actions:
        names = ", ".join(dict.fromkeys(a["action"] for a in actions))
        return f"Actions recorded: {names}; none declares an AI or synthetic source."
    if data["state"] != "invalid":
        return "The manifest records no actions, so it declares no AI source."
    return ""


def _metadata_declaration(record: dict) -> str:
    """The XMP source type, where it declares AI or synthetic media (a separate claim)."""
    data = record["metadata"]
    if not data["ai_declared"]:
        return ""
    return (
        f" Separately, the XMP metadata declares {data['digital_source_type']} "
        "(see what the metadata says)."
    )


def _summary(values: dict) -> str:
    return (
        f"mean {values['mean']:.2f}, 99th percentile {values['p99']:.2f}, "
        f"{100 * values['fraction_above']:.1f} % of pixels above {values['threshold']:.2f}"
    )
