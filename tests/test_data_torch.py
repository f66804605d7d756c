"""mmlens.data.dataset (torch Dataset and collate) and mmlens.data.photos."""
import pytest
import torch
from torch.utils.data import DataLoader

from mmlens.data import (
    SceneDataset,
    WordTokenizer,
    caption_is_true,
    collate_scenes,
    load_sample_photos,
    make_scenes,
    render_image,
)


def test_dataset_items_and_determinism():
    ds = SceneDataset(20, seed=3, split="val", n_objects=(1, 3))
    assert len(ds) == 20
    item = ds[5]
    assert item["image"].shape == (3, 64, 64) and item["image"].dtype == torch.float32
    assert 0.0 <= item["image"].min() and item["image"].max() <= 1.0
    assert item["tokens"].shape == (32,) and item["tokens"].dtype == torch.long
    assert item["index"] == 5 and caption_is_true(item["caption"], item["scene"])
    assert item["scene"] == make_scenes(6, seed=3, n_objects=(1, 3), split="val")[5]
    expected = torch.from_numpy(render_image(item["scene"], 64)).permute(2, 0, 1).float() / 255
    assert torch.equal(item["image"], expected)
    again = SceneDataset(20, seed=3, split="val", n_objects=(1, 3))[5]
    assert again["caption"] == item["caption"] and torch.equal(again["tokens"], item["tokens"])
    assert ds[-1]["index"] == 19
    with pytest.raises(IndexError):
        ds[20]


def test_collate_and_dataloader():
    ds = SceneDataset(10, seed=0, resolution=32, caption_kind="relation", n_objects=(2, 3))
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_scenes)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["tokens"].shape == (4, 32)
    assert batch["index"].tolist() == [0, 1, 2, 3]
    assert len(batch["caption"]) == 4 and len(batch["scene"]) == 4
    assert all(any(r in c for r in ("left", "right", "above", "below")) for c in batch["caption"])
    assert WordTokenizer().decode(batch["tokens"][0]) == batch["caption"][0]


def test_dataset_with_open_clip_tokenizer_and_transform():
    import open_clip
    from torchvision import transforms

    ds = SceneDataset(4, resolution=224, tokenizer=open_clip.get_tokenizer("ViT-B-32"), transform=transforms.ToTensor())
    item = ds[0]
    assert item["image"].shape == (3, 224, 224) and item["tokens"].shape == (77,)


@pytest.mark.parametrize(
    "kwargs, value",
    [({"split": "dev"}, "'dev'"), ({"resolution": 8}, "8"), ({"n_objects": 9}, "9"), ({"caption_kind": "poem"}, "'poem'"),
     ({"caption_kind": "relation", "n_objects": (1, 3)}, "relation")],
)
def test_dataset_bad_arguments(kwargs, value):
    with pytest.raises(ValueError) as info:
        SceneDataset(5, **kwargs)
    assert value in str(info.value)


def test_load_sample_photos_offline():
    photos = load_sample_photos()
    assert set(photos) == {"astronaut", "coffee", "chelsea", "rocket"}
    assert all(p.mode == "RGB" and min(p.size) >= 256 for p in photos.values())
    with pytest.raises(ValueError, match="'dog'"):
        load_sample_photos(("dog",))
