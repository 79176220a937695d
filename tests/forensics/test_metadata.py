"""EXIF, XMP and IPTC read from files written here (piexif, Pillow, a hand-made APP13) and
from real files that installed packages ship."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from forensic_fixtures import AI_SOURCE, ROOT, jpeg_bytes
from PIL import Image, PngImagePlugin

from opendfa.forensics.metadata import read_metadata

piexif = pytest.importorskip("piexif")

XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about=""
  xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
  xmlns:xmp="http://ns.adobe.com/xap/1.0/"
  xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/"
  {source}
  xmp:CreatorTool="Image Maker 3" photoshop:Credit="Newsroom Desk">
<dc:creator><rdf:Seq><rdf:li>Jane Roe</rdf:li></rdf:Seq></dc:creator>
{element}
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def _xmp(source: str | None = AI_SOURCE, as_element: bool = False) -> bytes:
    attribute = f'Iptc4xmpExt:DigitalSourceType="{source}"' if source and not as_element else ""
    element = (
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{source}"/>' if source and as_element else ""
    )
    return XMP.format(source=attribute, element=element).encode()


def _exif(thumbnail: bytes | None = None, gps: bool = True) -> bytes:
    tags = {
        "0th": {
            piexif.ImageIFD.Make: b"Canon",
            piexif.ImageIFD.Model: b"Canon EOS 5D",
            piexif.ImageIFD.Software: b"Adobe Photoshop 25.0 (Windows)",
            piexif.ImageIFD.DateTime: b"2024:05:06 07:08:09",
        },
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 12:00:00"},
        "GPS": {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            **(
                {
                    piexif.GPSIFD.GPSLatitudeRef: b"N",
                    piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (2, 1)),
                }
                if gps
                else {}
            ),
        },
    }
    if thumbnail is not None:
        tags["1st"] = {}
        tags["thumbnail"] = thumbnail
    return piexif.dump(tags)


def _thumbnail(rgb: np.ndarray) -> bytes:
    small = Image.fromarray(rgb)
    small.thumbnail((160, 160))
    return jpeg_bytes(np.asarray(small), 75)


def test_camera_software_dates_and_gps_flag_are_read(photos):
    record = read_metadata(jpeg_bytes(photos["chelsea"], 90, exif=_exif()))
    assert record.has_exif and record.format == "JPEG"
    assert (record.camera_make, record.camera_model) == ("Canon", "Canon EOS 5D")
    assert record.software == "Adobe Photoshop 25.0 (Windows)"
    assert record.software_kind == "editor"
    assert record.date_original == "2024:05:01 12:00:00"
    assert record.date_modified == "2024:05:06 07:08:09"
    assert record.gps_present is True
    assert "48" not in json.dumps(record.to_dict())  # coordinates never leave the file


def test_a_gps_block_without_coordinates_is_not_a_location(photos):
    assert (
        read_metadata(jpeg_bytes(photos["chelsea"], 90, exif=_exif(gps=False))).gps_present is False
    )


@pytest.mark.parametrize("as_element", [False, True])
def test_xmp_declaring_ai_generated_media_is_recognised(photos, as_element):
    record = read_metadata(jpeg_bytes(photos["chelsea"], 90, xmp=_xmp(as_element=as_element)))
    assert record.has_xmp
    assert record.digital_source_type == "trainedAlgorithmicMedia"
    assert record.ai_declared and record.generative_ai_declared
    assert record.creator_tool == "Image Maker 3"
    assert record.credit == "Newsroom Desk"
    assert record.creator == "Jane Roe"


@pytest.mark.parametrize(
    ("term", "ai", "generative"),
    [
        ("compositeWithTrainedAlgorithmicMedia", True, True),
        ("compositeSynthetic", True, False),
        ("algorithmicMedia", True, False),
        ("digitalCapture", False, False),
    ],
)
def test_only_algorithmic_source_types_count_as_declared_ai(photos, term, ai, generative):
    source = f"http://cv.iptc.org/newscodes/digitalsourcetype/{term}"
    record = read_metadata(jpeg_bytes(photos["chelsea"], 90, xmp=_xmp(source)))
    assert record.digital_source_type == term
    assert (record.ai_declared, record.generative_ai_declared) == (ai, generative)


def test_a_thumbnail_of_another_picture_is_a_mismatch(photos):
    same = read_metadata(
        jpeg_bytes(photos["chelsea"], 90, exif=_exif(_thumbnail(photos["chelsea"])))
    )
    other = read_metadata(
        jpeg_bytes(photos["chelsea"], 90, exif=_exif(_thumbnail(photos["astronaut"])))
    )
    assert same.thumbnail and other.thumbnail
    assert same.thumbnail_mismatch is False and same.thumbnail_difference < 0.05
    assert other.thumbnail_mismatch is True and other.thumbnail_difference > 0.3


def test_iptc_iim_credit_and_byline_are_read(photos):
    data = jpeg_bytes(photos["chelsea"], 90)
    record = read_metadata(data[:2] + _app13({80: b"Max Mustermann", 110: b"Agency X"}) + data[2:])
    assert record.has_iptc
    assert (record.creator, record.credit) == ("Max Mustermann", "Agency X")


def test_png_generator_chunks_and_xmp_are_read(photos):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a portrait, Steps: 20, Sampler: Euler a")
    info.add_itxt("XML:com.adobe.xmp", _xmp().decode())
    buffer = io.BytesIO()
    Image.fromarray(photos["chelsea"]).save(buffer, "PNG", pnginfo=info)
    record = read_metadata(buffer.getvalue())
    assert record.format == "PNG"
    assert record.generator_hints == (
        "PNG text chunk 'parameters' (Stable Diffusion web UI parameters)",
    )
    assert record.digital_source_type == "trainedAlgorithmicMedia"


def test_a_real_photoshop_file_from_scikit_image():
    import skimage

    path = Path(skimage.__file__).parent / "data" / "hubble_deep_field.jpg"
    record = read_metadata(path.read_bytes())
    assert record.software == "Adobe Photoshop CS5 Macintosh"
    assert record.software_kind == "editor"
    assert record.has_xmp and record.creator_tool == "Adobe Photoshop CS5 Macintosh"
    assert record.camera_make is None


def test_real_camera_photos_when_fetched():
    photos = sorted((ROOT / ".cache" / "test-photos").glob("sample*.jpg"))
    if not photos:
        pytest.skip("run scripts/fetch_test_photos.sh for the camera photos")
    record = read_metadata(photos[0].read_bytes())
    assert record.camera_make and record.camera_model  # e.g. SONY ILCE-7M2
    assert record.date_original is not None


def test_malformed_inputs_give_warnings_not_exceptions(photos):
    good = jpeg_bytes(photos["chelsea"], 90, exif=_exif(_thumbnail(photos["chelsea"])))
    truncated = read_metadata(good[: len(good) // 3])
    assert truncated.camera_make == "Canon"  # the header survived
    assert any("thumbnail" in w for w in truncated.warnings)

    corrupt = bytearray(good)
    start = corrupt.find(b"Exif\x00\x00")
    corrupt[start + 6 : start + 40] = b"\xff" * 34
    broken = read_metadata(bytes(corrupt))
    assert not broken.has_exif and broken.warnings

    bad_xmp = read_metadata(jpeg_bytes(photos["chelsea"], 90, xmp=b"<x:xmpmeta><unclosed>"))
    assert bad_xmp.has_xmp and any("XMP" in w for w in bad_xmp.warnings)

    garbage = read_metadata(b"\x00garbage")
    assert garbage.warnings == ("metadata not read: not a recognised image format",)

    tiny = read_metadata(jpeg_bytes(np.zeros((1, 1, 3), np.uint8), 90))
    assert tiny.format == "JPEG" and not tiny.has_exif


def test_billion_laughs_in_xmp_is_refused_not_expanded(photos):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>&b;</x:xmpmeta>"
    )
    record = read_metadata(jpeg_bytes(photos["chelsea"], 90, xmp=bomb))
    assert any("XMP" in w for w in record.warnings)


def _app13(datasets: dict[int, bytes]) -> bytes:
    """A JPEG APP13 segment: Photoshop image resource 0x0404 holding IPTC IIM record 2."""
    iim = b"".join(
        b"\x1c\x02" + bytes([tag]) + struct.pack(">H", len(v)) + v for tag, v in datasets.items()
    )
    if len(iim) % 2:
        iim += b"\x00"
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
