"""Resampling a backward map with one of several libraries: the traces a warp leaves differ.

Every warp of the forge ends in `remap(image, map_x, map_y, name)`: for each output pixel,
sample `image` at (map_x, map_y) (pixel indices, OpenCV's convention), mirrored at the border.

* OpenCV `cv2.remap` (`RESAMPLING`: nearest, linear, cubic, Lanczos): float32 maps rounded to
  1/32 px, fixed-point weights; cubic is Keys' convolution (a = -0.75);
* scikit-image `transform.warp` with the map as its inverse coordinate map
  (`skimage_order1` .. `skimage_order3`: bilinear, quadratic and cubic B-spline): the image as
  floats in [0, 1], exact coordinates, clipped and rounded half to even back to uint8;
* SciPy `ndimage.map_coordinates` (`scipy_spline4`, `scipy_spline5`): quartic and quintic
  B-splines in float64, written straight into uint8 (rounded half up, clipped).

Only resamplers that leave different pixels are offered. scikit-image's coordinate-map warp
*is* `scipy.ndimage.map_coordinates`, and its order 0 rounds coordinates as OpenCV's nearest
does: on a noise image under a smooth map, `skimage_order0` equals `nearest`, and SciPy's
orders 1 and 3 equal `skimage_order1` and `skimage_order3`, in every pixel (0 of 30,000
values differ), so those names are not separate choices; each name here differs from every
other in most pixels of such an image.

`RESAMPLING` stays the OpenCV flag table that resizes (`cv2.resize`, `cv2.warpAffine`) use;
`WARP_RESAMPLING` names every choice a warp may draw.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

RESAMPLING = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
SKIMAGE_ORDERS = {f"skimage_order{order}": order for order in (1, 2, 3)}
SCIPY_SPLINES = {f"scipy_spline{order}": order for order in (4, 5)}
WARP_RESAMPLING = (*RESAMPLING, *SKIMAGE_ORDERS, *SCIPY_SPLINES)
LIBRARIES = ("opencv", "skimage", "scipy")


def resampling_flag(name: str) -> int:
    """The OpenCV interpolation flag for a filter name in `RESAMPLING`."""
    try:
        return RESAMPLING[name]
    except KeyError:
        raise ValueError(
            f"unknown resampling filter {name!r}; expected one of {', '.join(RESAMPLING)}"
        ) from None


def resampling_library(name: str) -> str:
    """Which library a `WARP_RESAMPLING` name resamples with: opencv, skimage or scipy."""
    if name in RESAMPLING:
        return "opencv"
    if name in SKIMAGE_ORDERS:
        return "skimage"
    if name in SCIPY_SPLINES:
        return "scipy"
    raise ValueError(
        f"unknown resampling filter {name!r}; expected one of {', '.join(WARP_RESAMPLING)}"
    )


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, name: str) -> np.ndarray:
    """`image` (uint8, (H, W) or (H, W, C)) sampled at the map, with the named resampler."""
    library = resampling_library(name)
    if library == "opencv":
        return cv2.remap(
            image,
            map_x.astype(np.float32),
            map_y.astype(np.float32),
            RESAMPLING[name],
            borderMode=cv2.BORDER_REFLECT,
        )
    coords = np.stack([map_y, map_x]).astype(np.float64)  # (row, column) order
    channel = _skimage_channel if library == "skimage" else _scipy_channel
    order = SKIMAGE_ORDERS.get(name, SCIPY_SPLINES.get(name))
    if image.ndim == 2:
        return channel(image, coords, order)
    return np.stack([channel(image[..., c], coords, order) for c in range(image.shape[2])], -1)


def _skimage_channel(plane: np.ndarray, coords: np.ndarray, order: int) -> np.ndarray:
    from skimage.transform import warp
    from skimage.util import img_as_ubyte

    with warnings.catch_warnings():
        # order 2 warns that its behaviour changed once; it is used as it is now.
        warnings.filterwarnings("ignore", message="Bi-quadratic", category=UserWarning)
        out = warp(plane, coords, order=order, mode="symmetric")
    return img_as_ubyte(np.clip(out, 0.0, 1.0))


def _scipy_channel(plane: np.ndarray, coords: np.ndarray, order: int) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    return map_coordinates(plane, coords, order=order, mode="reflect", output=np.uint8)
