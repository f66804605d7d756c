"""Vectorised rendering: analytic inside-tests per shape, an object-id map, masks, boxes, an image.

Each shape is a test on unit-radius local coordinates (u right, v down, the shape fits in the unit
circle), evaluated on the pixel centres of the object's window. The resulting stencil is cached per
(shape, radius in pixels, sub-pixel phase), so drawing an object is a lookup and three masked writes
(id map, image, mask): pixels and masks agree exactly (without antialiasing).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mmlens.data.world import Scene

MIN_RESOLUTION = 32  # below this the small shapes are a few pixels and no longer recognisable
MAX_RESOLUTION = 2048
ANTIALIAS_FACTOR = 4

_SQUARE_HALF = 0.70  # half-side; corners at radius 0.99
_CROSS_HALF_WIDTH, _CROSS_ARM = 0.30, 0.95  # arm corner at radius 0.997
_STAR_INNER = 0.5  # inner/outer radius of the five-pointed star (fatter than a pentagram: legible when small)
_STAR_SECTOR = 2 * math.pi / 5
_HEART_SCALE, _HEART_SHIFT = 1.25, 0.25  # the implicit heart fits in radius 1.25 about (0, 0.25)


def _circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 1.0


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (np.abs(u) <= _SQUARE_HALF) & (np.abs(v) <= _SQUARE_HALF)


def _triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # equilateral, apex up, circumradius 1: three half-planes at distance 0.5 from the centre
    a = 0.8660254037844386 * u
    return (v <= 0.5) & (a - 0.5 * v <= 0.5) & (-a - 0.5 * v <= 0.5)


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # fold the angle into one half-sector: phi = 0 at an outer point, phi = 36 deg at an inner point
    rho = np.sqrt(u * u + v * v)
    theta = np.arctan2(u, -v)  # 0 points up
    phi = np.abs(np.mod(theta + _STAR_SECTOR / 2, _STAR_SECTOR) - _STAR_SECTOR / 2)
    px, py = rho * np.cos(phi), rho * np.sin(phi)
    # inside iff on the origin's side of the edge from (1, 0) to the inner point
    ix, iy = _STAR_INNER * math.cos(_STAR_SECTOR / 2), _STAR_INNER * math.sin(_STAR_SECTOR / 2)
    return (ix - 1.0) * py - iy * (px - 1.0) >= 0.0


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    return ((au <= _CROSS_HALF_WIDTH) & (av <= _CROSS_ARM)) | ((av <= _CROSS_HALF_WIDTH) & (au <= _CROSS_ARM))


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    x = u * _HEART_SCALE
    y = -v * _HEART_SCALE + _HEART_SHIFT  # the classic curve is y-up
    q = x * x + y * y - 1.0
    return q * q * q - x * x * y * y * y <= 0.0


INSIDE_TESTS = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
    "cross": _cross,
    "heart": _heart,
}


SUBPIXEL = 8  # object centres are snapped to 1/8 pixel when drawn, so shape stencils can be cached


@lru_cache(maxsize=8192)
def _stencil(shape: str, r_px: float, fx: int, fy: int) -> tuple[np.ndarray, int, int]:
    """Mask of ``shape`` with radius ``r_px`` pixels centred at sub-pixel phase (fx, fy) / SUBPIXEL.

    Returns the mask cropped to its tight box, (h, w) bool, and the box's top-left offset from the
    centre's integer pixel. The mask is the analytic inside-test evaluated at pixel centres.
    """
    R = int(math.ceil(r_px)) + 1
    d = np.arange(-R, R + 1) + 0.5  # pixel centres relative to the integer pixel
    u = ((d - fx / SUBPIXEL) / r_px)[None, :]  # (1, w)
    v = ((d - fy / SUBPIXEL) / r_px)[:, None]  # (h, 1)
    m = INSIDE_TESTS[shape](u, v)  # (h, w) bool
    cols, rows = np.flatnonzero(m.any(0)), np.flatnonzero(m.any(1))
    if cols.size == 0:  # sub-pixel shape: keep the centre pixel so every object is visible
        m[R, R] = True
        cols = rows = np.array([R])
    m = np.ascontiguousarray(m[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    m.flags.writeable = False
    return m, int(cols[0]) - R, int(rows[0]) - R


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` as an int or raise a ValueError naming it."""
    if not isinstance(resolution, (int, np.integer)) or isinstance(resolution, bool):
        raise ValueError(f"resolution={resolution!r} must be an int (pixels per side)")
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(
            f"resolution={resolution} is out of range; use {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels "
            f"(small shapes are unrecognisable below {MIN_RESOLUTION})"
        )
    return int(resolution)


@dataclass
class RenderedScene:
    """A rendered scene.

    Attributes:
        image: uint8 (H, W, 3).
        masks: bool (K, H, W), one per object, in scene order.
        boxes: float (K, 4) tight pixel boxes (x0, y0, x1, y1), x1/y1 exclusive.
        id_map: int16 (H, W): -1 background, k for object k.
        scene: the scene that was rendered.
    """

    image: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    id_map: np.ndarray
    scene: Scene

    def pil(self):
        """The image as a PIL image."""
        from PIL import Image

        return Image.fromarray(self.image)


def _draw(scene: Scene, resolution: int, image: np.ndarray | None, masks: np.ndarray | None, boxes: np.ndarray | None) -> np.ndarray:
    """Fill the id map (returned) and, if given, the image, masks and boxes, one object window at a time."""
    id_map = np.full((resolution, resolution), -1, dtype=np.int16)
    for k, obj in enumerate(scene.objects):
        cx, cy = obj.x * resolution, obj.y * resolution
        ix, iy = math.floor(cx), math.floor(cy)
        fx, fy = round((cx - ix) * SUBPIXEL), round((cy - iy) * SUBPIXEL)
        r_px = round(obj.radius * resolution * 64) / 64
        m, dx, dy = _stencil(obj.shape, r_px, fx, fy)  # (h, w)
        x0, y0 = ix + dx, iy + dy
        x1, y1 = x0 + m.shape[1], y0 + m.shape[0]
        if x0 < 0 or y0 < 0 or x1 > resolution or y1 > resolution:  # object crosses the border: clip
            m = m[max(-y0, 0) : m.shape[0] - max(y1 - resolution, 0), max(-x0, 0) : m.shape[1] - max(x1 - resolution, 0)]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, resolution), min(y1, resolution)
        np.copyto(id_map[y0:y1, x0:x1], k, where=m)
        if image is not None:
            np.copyto(image[y0:y1, x0:x1], _fill(obj.fill), where=m[:, :, None])
        if masks is not None:
            masks[k, y0:y1, x0:x1] = m
        if boxes is not None:
            boxes[k] = (x0, y0, x1, y1)
    return id_map


@lru_cache(maxsize=4096)
def _fill(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.array(rgb, dtype=np.uint8)


@lru_cache(maxsize=64)
def _background(colour: tuple[int, int, int], resolution: int) -> np.ndarray:
    image = np.empty((resolution, resolution, 3), dtype=np.uint8)
    image[:] = colour
    image.flags.writeable = False
    return image


def _blank(scene: Scene, resolution: int) -> np.ndarray:
    return _background(scene.background, resolution).copy()


def render_scene(scene: Scene, resolution: int = 64, antialias: bool = False) -> RenderedScene:
    """Render a scene to an image with per-object masks, boxes and an id map.

    Args:
        scene: the scene.
        resolution: pixels per side (32 to 2048; 64 default, 224 for CLIP-sized inputs).
        antialias: supersample the image 4x4 (masks and id map stay hard, so edge pixels blend colours).

    Returns:
        A :class:`RenderedScene`.
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene must be a Scene, got {type(scene).__name__}; build one with make_scene")
    resolution = check_resolution(resolution)
    k = len(scene.objects)
    masks = np.zeros((k, resolution, resolution), dtype=bool)
    boxes = np.zeros((k, 4), dtype=np.float64)
    if antialias:
        id_map = _draw(scene, resolution, None, masks, boxes)
        hi = resolution * ANTIALIAS_FACTOR
        fine = _blank(scene, hi)
        _draw(scene, hi, fine, None, None)
        fine = fine.reshape(resolution, ANTIALIAS_FACTOR, resolution, ANTIALIAS_FACTOR, 3).mean((1, 3))
        image = np.rint(fine).astype(np.uint8)
    else:
        image = _blank(scene, resolution)
        id_map = _draw(scene, resolution, image, masks, boxes)
    return RenderedScene(image=image, masks=masks, boxes=boxes, id_map=id_map, scene=scene)


def render_image(scene: Scene, resolution: int = 64) -> np.ndarray:
    """Just the uint8 (H, W, 3) image (skips masks and boxes; fastest path for datasets)."""
    resolution = check_resolution(resolution)
    image = _blank(scene, resolution)
    _draw(scene, resolution, image, None, None)
    return image
