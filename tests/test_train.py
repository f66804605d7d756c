import json

import numpy as np
import pytest
import torch

import mmlens
from mmlens import data, train, zoo


def test_recipes_exist_for_every_embedded_model():
    assert train.list_recipes() == sorted(mmlens.list_models())
    for name in train.list_recipes():
        assert train.load_recipe(name)["model"] == name
    with pytest.raises(ValueError, match="tiny-clip"):
        train.load_recipe("no-such-recipe")


def test_prompt_captions_are_true_and_varied():
    rng = np.random.default_rng(0)
    captions = set()
    for _ in range(300):
        scene = data.make_scene(rng, n_objects=1)
        caption = train.make_prompt_caption(scene.objects[0], rng)
        assert data.caption_is_true(caption, scene), caption
        captions.add(caption)
    assert len(captions) > 150
    assert any(c.startswith("an ") or " an " in c for c in captions)


def test_training_batch_is_reproducible_and_normalised():
    tok = zoo.make_tokenizer("mmlens-tiny-clip")
    cfg = train.load_recipe("tiny-clip")["data"]
    a = train.make_training_batch(np.random.default_rng(5), 16, tok, cfg)
    b = train.make_training_batch(np.random.default_rng(5), 16, tok, cfg)
    assert a["images"].shape == (16, 3, 64, 64) and a["tokens"].shape == (16, 32)
    assert torch.equal(a["images"], b["images"]) and a["captions"] == b["captions"]
    assert a["images"].min() >= -1 and a["images"].max() <= 1 and a["images"].max() == 1  # white background
    assert len(set(a["captions"])) > 8


def test_lr_schedule_warms_up_then_decays():
    lrs = [train.lr_at(s, 100, 1e-3, 10, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(x >= y for x, y in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.05)


def _check_run(out, name, metrics):
    weights = out / f"{name}.safetensors"
    assert weights.exists() and (out / f"{name}.metrics.json").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest[weights.name]["sha256"] == zoo.sha256_file(weights)
    written = json.loads((out / f"{name}.metrics.json").read_text())
    assert written["seed"] == metrics["seed"] and written["torch_version"] == torch.__version__
    assert set(written["zero_shot_accuracy"]) == {"colour", "shape", "size"}
    assert "text_to_image@1" in written["retrieval"] and written["train_time_s"] > 0
    curve = written["loss_curve"]["values"]
    assert np.mean(curve[-5:]) < np.mean(curve[:5])  # the loss went down
    model, _, _ = mmlens.load_model(name, weights_dir=out)  # what was written loads, checksum included
    assert model.logit_scale.numel() == 1


def test_train_clip_for_a_few_steps(tmp_path):
    metrics = train.train("tiny-clip", out=tmp_path, steps=30, batch_size=32, eval_n=10, threads=1, progress=False)
    assert metrics["steps"] == 30 and metrics["loss"] == "clip"
    _check_run(tmp_path, "tiny-clip", metrics)


def test_cli_trains_siglip(tmp_path, capsys):
    train.main(["tiny-siglip", "--out", str(tmp_path), "--steps", "20", "--batch-size", "32", "--eval-n", "10", "--seed", "3", "--threads", "1"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "tiny-siglip" and summary["steps"] == 20
    metrics = json.loads((tmp_path / "tiny-siglip.metrics.json").read_text())
    assert metrics["seed"] == 3 and metrics["logit_bias"] is not None
    _check_run(tmp_path, "tiny-siglip", metrics)
