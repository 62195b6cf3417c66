"""The 2-D colour map of the domain-colouring views: a map position → an OKLab colour → sRGB and CSS.

Hue follows the direction from the map's centre, colourfulness the distance (Ottosson 2020, "A perceptual
color space for image processing"), so neighbouring positions get neighbouring colours.
"""

from __future__ import annotations

import math

import numpy as np

from dafx_explorer.errors import DataError

CENTRE_LIGHTNESS, CORNER_LIGHTNESS = 0.86, 0.62
"""OKLab lightness (0–1) at the map's centre and at its corners."""
CORNER_CHROMA = 0.16
"""OKLab chroma at the corners (0 at the centre)."""


def position_colours(uv) -> np.ndarray:
    """2-D colour map: sRGB colours (N, 3) in [0, 1] of positions ``uv`` (N, 2) in [0, 1]².

    Domain colouring in the OKLab colour space (Ottosson 2020): the hue is the direction of
    the position from the centre (0.5, 0.5); colourfulness grows and lightness falls with the
    distance from it. The centre is a light grey, the four corners are saturated colours of
    four hues a quarter-turn apart. The map is continuous (at the centre the chroma is 0, so
    the undefined hue does not matter); colours outside the sRGB gamut are clipped.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(uv)):
        raise DataError("colour-map positions must be finite")
    offset = 2.0 * np.clip(uv, 0.0, 1.0) - 1.0
    radius = np.linalg.norm(offset, axis=1) / math.sqrt(2.0)
    hue = np.arctan2(offset[:, 1], offset[:, 0])
    lightness = CENTRE_LIGHTNESS + (CORNER_LIGHTNESS - CENTRE_LIGHTNESS) * radius
    chroma = CORNER_CHROMA * radius
    return _oklab_to_srgb(lightness, chroma * np.cos(hue), chroma * np.sin(hue))


def _oklab_to_srgb(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OKLab → gamma-encoded sRGB in [0, 1] (clipped), per Ottosson's reference matrices."""
    l_ = lightness + 0.3963377774 * a + 0.2158037573 * b
    m_ = lightness - 0.1055613458 * a - 0.0638541728 * b
    s_ = lightness - 0.0894841775 * a - 1.2914855480 * b
    lms = np.stack([l_, m_, s_], axis=1) ** 3
    to_linear = np.array([[4.0767416621, -3.3077115913, 0.2309699292],
                          [-1.2684380046, 2.6097574011, -0.3413193965],
                          [-0.0041960863, -0.7034186147, 1.7076147010]])
    linear = np.clip(lms @ to_linear.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def css_colours(rgb) -> np.ndarray:
    """CSS hex colours (``#rrggbb``) of sRGB colours (N, 3) in [0, 1]."""
    codes = np.rint(np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0) * 255).astype(np.int64)
    return np.char.mod("#%06x", (codes[:, 0] << 16) | (codes[:, 1] << 8) | codes[:, 2])
