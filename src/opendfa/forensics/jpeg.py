"""JPEG structure: quantization tables, estimated quality, sampling, and double compression.

Quality: libjpeg (and so Pillow and OpenCV) scales the standard tables of the JPEG
specification (Annex K) by `5000 / q` (q < 50) or `200 - 2q` percent. The quality is the q
whose scaled luma table is nearest the file's in least squares; `standard_tables` says whether
both tables are exactly those of that q (a libjpeg-family encoder) or not (cameras, Photoshop
and others write their own tables, and then the quality is only the nearest equivalent).

Double compression (aligned, as when a JPEG is opened, edited and saved again): the file's
luma is re-blocked on its own 8x8 grid and transformed back to DCT coefficients, which sit
on multiples of the last table's steps `Q2`. If the image was quantized before with coarser
or different steps `Q1`, the histogram of `coefficient / Q2` is periodic (empty or crowded
bins) instead of smooth. Following Lukáš & Fridrich (2003), the unquantized coefficients are
approximated by the DCT of the image shifted by 4 pixels (off the grid, where the earlier
quantization left no trace); for each low frequency and each candidate first step the
shifted coefficients are quantized by the first step, disturbed by the rounding noise of the
pixels between the two saves (Gaussian, `DQ_NOISE`), quantized by `Q2`, and the histogram is
compared with the observed one (L1). A frequency votes "double" when some first step other
than `Q2` explains the observed histogram clearly better than single compression (quantizing
by `Q2` alone) does; the image is flagged when enough frequencies vote, and the first quality
is the libjpeg quality whose table best fits the winning first steps. Only aligned
re-compression is seen (a crop by a non-multiple of 8 or a resize in between hides it), and
a first quality above the second leaves weak traces. Measured hit and false-alarm rates are
in benchmarks/RESULTS.md (benchmarks/forensics.py).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from PIL import Image

# The standard tables (JPEG spec Annex K), natural (row-major) order.
STANDARD_LUMA = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)
STANDARD_CHROMA = np.full((8, 8), 99, dtype=np.int64)
STANDARD_CHROMA[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

# Low frequencies (row, column) used for double-compression evidence: they carry enough
# non-zero coefficients, and their steps are small enough at common qualities to show the
# periodic pattern. The DC term is left out (its histogram is not Laplacian-like).
DQ_FREQUENCIES = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0))
DQ_MIN_NONZERO = 400  # non-zero coefficients a frequency needs to vote
# A frequency votes "double" when its best first step fits the observed histogram at least
# this much better than single compression, both relatively and in L1 distance (the second
# keeps first steps whose pattern hardly differs from single compression, and sampling noise,
# from voting).
DQ_VOTE_RATIO = 0.6
DQ_MIN_GAIN = 0.1
DQ_MIN_VOTES = 3  # ... and the image is flagged when at least this many frequencies do
DQ_NOISE = 0.4  # standard deviation of the coefficient noise between the two compressions
DQ_MAX_BLOCKS = 8_000  # blocks sampled (whole rows of blocks, evenly) for the histograms
DQ_BINS = 64
DQ_MAX_PIXELS = 50_000_000  # the luma is decoded whole: no larger (opendfa.media's cap)


@dataclass(frozen=True)
class JpegRecord:
    """What the JPEG structure says; fields are None where they do not apply or are unknown."""

    is_jpeg: bool
    quality: int | None = None  # libjpeg quality whose luma table is nearest the file's
    quality_fit_rmse: float | None = None  # 0 for a libjpeg table
    standard_tables: bool | None = None
    tables: int = 0
    subsampling: str | None = None  # 4:4:4 | 4:2:2 | 4:2:0 | other | grey
    progressive: bool | None = None
    double_compressed: bool | None = None
    double_score: float | None = None  # frequencies voting "double" / frequencies voting
    double_votes: int | None = None
    first_quality: int | None = None  # estimated quality of the earlier compression
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["warnings"] = list(self.warnings)
        return data


def scaled_table(base: np.ndarray, quality: int) -> np.ndarray:
    """libjpeg's `jpeg_quality_scaling` applied to a table (baseline: clamped to 1..255)."""
    quality = min(max(int(quality), 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


_LUMA_BY_QUALITY = np.stack([scaled_table(STANDARD_LUMA, q) for q in range(1, 101)])
_CHROMA_BY_QUALITY = np.stack([scaled_table(STANDARD_CHROMA, q) for q in range(1, 101)])


def estimate_quality(luma: np.ndarray) -> tuple[int, float]:
    """(quality, RMS error) of the libjpeg luma table nearest `luma` (8x8, natural order)."""
    errors = ((_LUMA_BY_QUALITY - luma[None]).astype(np.float64) ** 2).mean(axis=(1, 2))
    best = int(np.argmin(errors))
    return best + 1, float(np.sqrt(errors[best]))


def analyze_jpeg(data: bytes) -> JpegRecord:
    """The JPEG record of a file's bytes; a non-JPEG gives `is_jpeg=False`. Never raises."""
    if not data.startswith(b"\xff\xd8"):
        return JpegRecord(is_jpeg=False)
    notes: list[str] = []
    opened = _open_tables(data)
    if isinstance(opened, str):
        return JpegRecord(is_jpeg=True, warnings=(opened,))
    image, tables, luma_id = opened
    luma = tables[luma_id]
    quality, rmse = estimate_quality(luma)
    chroma = [t for k, t in tables.items() if k != luma_id]
    standard = bool(
        np.array_equal(luma, _LUMA_BY_QUALITY[quality - 1])
        and all(np.array_equal(t, _CHROMA_BY_QUALITY[quality - 1]) for t in chroma[:1])
    )
    double = _double_compression(image, data, luma, notes)
    return JpegRecord(
        is_jpeg=True,
        quality=quality,
        quality_fit_rmse=round(rmse, 3),
        standard_tables=standard,
        tables=len(tables),
        subsampling=_subsampling(image),
        progressive=bool(image.info.get("progressive") or image.info.get("progression")),
        double_compressed=None if double is None else double.flagged,
        double_score=None if double is None else round(double.score, 3),
        double_votes=None if double is None else double.votes,
        first_quality=None if double is None or not double.flagged else double.first_quality,
        warnings=tuple(notes),
    )


def jpeg_quality(data: bytes) -> int | None:
    """The estimated (last) JPEG quality of a file's bytes from its header alone; None for
    anything that is not a readable JPEG. Cheap: no pixel is decoded."""
    if not data.startswith(b"\xff\xd8"):
        return None
    opened = _open_tables(data)
    if isinstance(opened, str):
        return None
    _, tables, luma_id = opened
    return estimate_quality(tables[luma_id])[0]


def _open_tables(data: bytes) -> tuple[Image.Image, dict[int, np.ndarray], int] | str:
    """(image, its 8x8 quantization tables, the luma table's id), or why they cannot be read."""
    try:
        image = Image.open(io.BytesIO(data))
        raw_tables = dict(getattr(image, "quantization", None) or {})
    except Exception as err:
        return f"unreadable JPEG header: {_short(err)}"
    if image.format not in ("JPEG", "MPO") or not raw_tables:
        return "no quantization tables found"
    tables = {
        k: np.asarray(v, dtype=np.int64).reshape(8, 8)
        for k, v in raw_tables.items()
        if len(v) == 64
    }
    luma_id = _luma_table_id(image, tables)
    if luma_id is None:
        return "quantization tables are not 8x8"
    return image, tables, luma_id


@dataclass(frozen=True)
class DoubleCompression:
    """The double-compression test's outcome (see the module text)."""

    flagged: bool
    score: float  # votes / voters
    votes: int
    voters: int
    first_steps: dict[tuple[int, int], int]  # frequency -> best first step, voting ones
    first_quality: int | None


def detect_double_compression(luma_pixels: np.ndarray, q2: np.ndarray) -> DoubleCompression:
    """Test grey pixels (uint8, as decoded) against the last luma table `q2` (8x8)."""
    pixels = np.asarray(luma_pixels, dtype=np.uint8)
    aligned = _block_dct(pixels)
    shifted = _block_dct(pixels[4:, 4:])
    votes: dict[tuple[int, int], int] = {}
    voters = 0
    for index, (row, col) in enumerate(DQ_FREQUENCIES):
        step = int(q2[row, col])
        observed = np.floor(np.abs(aligned[:, index]) / step + 0.5).astype(np.int64)
        if np.count_nonzero(observed) < DQ_MIN_NONZERO:
            continue
        voters += 1
        first = _best_first_step(observed, np.abs(shifted[:, index]), step, row, col)
        if first is not None:
            votes[(row, col)] = first
    score = len(votes) / voters if voters else 0.0
    flagged = len(votes) >= DQ_MIN_VOTES and score >= 0.5
    return DoubleCompression(
        flagged=flagged,
        score=score,
        votes=len(votes),
        voters=voters,
        first_steps=votes,
        first_quality=_fit_quality(votes) if flagged else None,
    )


def _best_first_step(
    observed: np.ndarray, unquantized: np.ndarray, step: int, row: int, col: int
) -> int | None:
    """The first step whose simulated double quantization fits `observed` best, if it beats
    single compression by the vote margins; None otherwise.

    The first candidate is `step` itself, which is single compression (quantizing twice by
    the same step changes nothing); the others are every first step from 2 up to that of
    quality 30."""
    top = int(_LUMA_BY_QUALITY[29, row, col])
    candidates = [step] + [q for q in range(2, max(top, step + 2) + 1) if q != step]
    width = DQ_BINS + 1
    target = np.bincount(np.minimum(observed, DQ_BINS), minlength=width) / observed.size
    ordered = np.sort(unquantized)
    simulated = np.concatenate(
        [
            _twice(ordered, np.array(candidates[:1]), step, 0.0),  # single: no noise between
            _twice(ordered, np.array(candidates[1:]), step, DQ_NOISE),
        ]
    )
    distances = np.abs(simulated - target[None]).sum(axis=1)
    best = 1 + int(np.argmin(distances[1:]))
    gain = distances[0] - distances[best]
    if distances[best] < DQ_VOTE_RATIO * distances[0] and gain >= DQ_MIN_GAIN:
        return int(candidates[best])
    return None


def _twice(ordered: np.ndarray, firsts: np.ndarray, step: int, sigma: float) -> np.ndarray:
    """Histograms (one row per first step, bins 0..DQ_BINS, normalized) of the magnitudes
    `ordered` (sorted) quantized by `first`, disturbed by Gaussian noise of `sigma` (the
    rounding of pixels between the two compressions) and quantized again by `step`.

    Counted per first-quantization level, with one binary search over the level boundaries
    instead of quantizing every coefficient once per candidate; a level's noise spreads it
    over its nearest bin and the two beside it."""
    width = DQ_BINS + 1
    count = int(np.ceil(width * step / firsts.min())) + 1
    levels = np.arange(count)[None, :]
    edges = (levels + 0.5) * firsts[:, None]
    below = np.searchsorted(ordered, edges.ravel()).reshape(edges.shape)
    per_level = np.diff(below, axis=1, prepend=0).astype(np.float64)
    per_level[:, -1] += ordered.size - below[:, -1]  # all above lands in the last bin
    values = levels * firsts[:, None].astype(np.float64)
    # Rounding half up, as libjpeg quantizes (numpy's rint would round half to even).
    nearest = np.floor(values / step + 0.5)
    rows = np.arange(len(firsts))[:, None] * width
    size = len(firsts) * width
    counts = np.zeros(size)
    if sigma > 0:
        down = _normal_cdf(((nearest - 0.5) * step - values) / sigma)
        up = 1.0 - _normal_cdf(((nearest + 0.5) * step - values) / sigma)
        down[nearest == 0] = 0.0  # magnitudes: nothing below bin 0
        spread = ((-1, down), (0, 1.0 - down - up), (1, up))
    else:
        spread = ((0, np.ones_like(values)),)
    for shift, share in spread:
        bins = np.clip(nearest + shift, 0, DQ_BINS).astype(np.int64)
        counts += np.bincount(
            (bins + rows).ravel(), weights=(per_level * share).ravel(), minlength=size
        )
    return counts.reshape(len(firsts), width) / ordered.size


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF (Abramowitz & Stegun 7.1.26 for erf, error below 2e-7)."""
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


def _fit_quality(first_steps: dict[tuple[int, int], int]) -> int:
    """The libjpeg quality whose luma table best fits the estimated first steps (the middle
    one where several fit equally well)."""
    rows = np.array([f[0] for f in first_steps])
    cols = np.array([f[1] for f in first_steps])
    steps = np.array(list(first_steps.values()), dtype=np.float64)
    errors = np.abs(_LUMA_BY_QUALITY[:, rows, cols] - steps[None]).sum(axis=1)
    tied = np.flatnonzero(errors == errors.min())
    return int(tied[len(tied) // 2]) + 1


def _dct_basis() -> np.ndarray:
    """(64, frequencies): the orthonormal 2-D DCT-II basis images of DQ_FREQUENCIES, so that
    `blocks (N, 64) @ basis` gives those coefficients of every block."""
    n = np.arange(8)
    one_d = np.array(
        [(np.sqrt(1 / 8) if k == 0 else 0.5) * np.cos((2 * n + 1) * k * np.pi / 16) for k in n]
    )
    return np.stack(
        [np.outer(one_d[u], one_d[v]).ravel() for u, v in DQ_FREQUENCIES], axis=1
    ).astype(np.float32)


_BASIS = _dct_basis()


def _block_dct(pixels: np.ndarray) -> np.ndarray:
    """DQ_FREQUENCIES' DCT coefficients of the whole 8x8 blocks of uint8 pixels (at most
    DQ_MAX_BLOCKS, whole rows of blocks taken evenly): (blocks, frequencies). JPEG's level
    shift by 128 changes only the DC term, which is not among them."""
    rows, cols = pixels.shape[0] // 8, pixels.shape[1] // 8
    keep = max(1, min(rows, DQ_MAX_BLOCKS // max(cols, 1)))
    chosen = np.linspace(0, rows - 1, keep).astype(np.int64)
    lines = (chosen[:, None] * 8 + np.arange(8)).ravel()
    strips = pixels[lines, : cols * 8].reshape(keep, 8, cols, 8)
    blocks = strips.transpose(0, 2, 1, 3).reshape(-1, 64).astype(np.float32)
    # OpenCV's gemm, not numpy's matmul: OpenBLAS threads a (blocks x 64) @ (64 x 10) product
    # and on a busy 2-core machine that was 10-30 times slower than one thread.
    return cv2.gemm(blocks, _BASIS, 1.0, None, 0.0)


def _double_compression(
    image: Image.Image, data: bytes, luma: np.ndarray, notes: list[str]
) -> DoubleCompression | None:
    if image.mode not in ("L", "RGB"):
        notes.append(f"double compression not tested for {image.mode} JPEGs")
        return None
    if min(image.size) < 64:
        notes.append("image too small for the double-compression test")
        return None
    if image.size[0] * image.size[1] > DQ_MAX_PIXELS:
        notes.append("image too large for the double-compression test")
        return None
    try:
        grey = Image.open(io.BytesIO(data))
        grey.draft("L", grey.size)  # libjpeg's own Y channel: no colour round trip
        pixels = np.asarray(grey.convert("L"))
    except Exception as err:
        notes.append(f"could not decode luma for the double-compression test: {_short(err)}")
        return None
    return detect_double_compression(pixels, luma)


def _luma_table_id(image: Image.Image, tables: dict[int, np.ndarray]) -> int | None:
    """The table the first (Y) component uses; table 0 when the frame header says nothing."""
    layer = getattr(image, "layer", None)
    if layer:
        table_id = layer[0][3]
        if table_id in tables:
            return int(table_id)
    return 0 if 0 in tables else (min(tables) if tables else None)


def _subsampling(image: Image.Image) -> str | None:
    layer = getattr(image, "layer", None) or []
    if len(layer) == 1:
        return "grey"
    if len(layer) != 3:
        return None
    (_, h0, v0, _), (_, h1, v1, _), (_, h2, v2, _) = layer
    if (h1, v1) != (1, 1) or (h2, v2) != (1, 1):
        return "other"
    return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0"}.get((h0, v0), "other")


def _short(err: BaseException) -> str:
    return (" ".join(str(err).split()) or type(err).__name__)[:120]
