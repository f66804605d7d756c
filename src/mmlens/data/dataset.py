"""A torch Dataset over the synthetic world: image tensor, caption tokens and metadata per item."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from mmlens.data.captions import CAPTION_KINDS, make_caption
from mmlens.data.render import check_resolution, render_image
from mmlens.data.tokenizer import WordTokenizer
from mmlens.data.world import WorldConfig, check_split, make_scene, scene_rng


class SceneDataset(Dataset):
    """``n`` scenes of one split, rendered on the fly; item ``i`` depends only on (seed, split, i).

    Args:
        n: number of items.
        seed: non-negative int seed.
        split: "train", "val" or "test".
        n_objects: exact count or inclusive (min, max) range.
        resolution: image side in pixels.
        tokenizer: callable texts -> LongTensor (N, L) (default :class:`WordTokenizer`; open_clip's works).
        transform: if given, applied to the PIL image instead of the default float tensor conversion.
        caption_kind: fixed caption kind, or None for a random kind per item.
        world: the world's knobs.

    Items are dicts: ``image`` float (3, H, W) in [0, 1], ``tokens`` LongTensor (L,), ``caption`` str,
    ``scene`` Scene, ``index`` int.
    """

    def __init__(
        self,
        n: int,
        seed: int = 0,
        split: str = "train",
        n_objects: int | tuple[int, int] = (1, 3),
        resolution: int = 64,
        tokenizer: Callable | None = None,
        transform: Callable | None = None,
        caption_kind: str | None = None,
        world: WorldConfig | None = None,
    ) -> None:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n={n!r} must be a non-negative int")
        check_split(split)
        if caption_kind is not None and caption_kind not in CAPTION_KINDS:
            raise ValueError(f"unknown caption_kind {caption_kind!r}; use one of {CAPTION_KINDS} or None")
        self.n, self.seed, self.split = int(n), seed, split
        self.n_objects = n_objects
        self.resolution = check_resolution(resolution)
        self.tokenizer = tokenizer or WordTokenizer()
        self.transform = transform
        self.caption_kind = caption_kind
        self.world = world or WorldConfig()
        if caption_kind in ("objects", "relation"):
            lo = n_objects if isinstance(n_objects, int) else n_objects[0]
            if lo < 2:
                raise ValueError(f"caption_kind={caption_kind!r} needs n_objects >= 2, got {n_objects!r}")
        make_scene(scene_rng(seed, split, 0), n_objects, split, self.world)  # validate arguments early

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        if not -self.n <= index < self.n:
            raise IndexError(f"index {index} out of range for SceneDataset of length {self.n}")
        index = index % self.n
        rng = scene_rng(self.seed, self.split, index)
        scene = make_scene(rng, self.n_objects, self.split, self.world)
        caption = make_caption(scene, rng, self.caption_kind)
        image = render_image(scene, self.resolution)  # (H, W, 3) uint8
        if self.transform is not None:
            from PIL import Image

            image_t = self.transform(Image.fromarray(image))
        else:
            image_t = torch.from_numpy(image).permute(2, 0, 1).float().div_(255)  # (3, H, W)
        tokens = self.tokenizer([caption])[0]  # (L,)
        return {"image": image_t, "tokens": tokens, "caption": caption, "scene": scene, "index": index}


def collate_scenes(batch: list[dict]) -> dict:
    """Stack ``image`` (B, 3, H, W), ``tokens`` (B, L) and ``index`` (B,); keep captions and scenes as lists."""
    if not batch:
        raise ValueError("collate_scenes got an empty batch")
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "tokens": torch.stack([b["tokens"] for b in batch]),
        "index": torch.tensor([b["index"] for b in batch], dtype=torch.long),
        "caption": [b["caption"] for b in batch],
        "scene": [b["scene"] for b in batch],
    }
