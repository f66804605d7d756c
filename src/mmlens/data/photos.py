"""A few real photographs (bundled with scikit-image, so offline) for contrast with the synthetic world."""
from __future__ import annotations

PHOTO_NAMES: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket")


def load_sample_photos(names: tuple[str, ...] = PHOTO_NAMES) -> dict:
    """Load photos from scikit-image's bundled data as RGB PIL images.

    Args:
        names: any of "astronaut", "coffee", "chelsea" (a cat), "rocket".

    Returns:
        dict name -> PIL.Image (RGB).
    """
    from PIL import Image
    from skimage import data

    out = {}
    for name in names:
        if name not in PHOTO_NAMES:
            raise ValueError(f"unknown photo {name!r}; use some of {PHOTO_NAMES}")
        out[name] = Image.fromarray(getattr(data, name)()).convert("RGB")
    return out
