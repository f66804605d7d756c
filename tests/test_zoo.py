import json
import shutil
import time

import numpy as np
import pytest
import torch
from PIL import Image

import mmlens
from mmlens import evaluate, zoo


@pytest.fixture(autouse=True)
def _no_env_model(monkeypatch):
    monkeypatch.delenv("MMLENS_MODEL", raising=False)


def test_list_models_names_the_embedded_models():
    assert mmlens.list_models() == ["tiny-clip", "tiny-siglip"]


@pytest.mark.parametrize("name", ["tiny-clip", "tiny-siglip"])
def test_load_embedded_model_interface(name):
    model, preprocess, tokenizer = mmlens.load_model(name)
    assert not model.training
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 100, 3), dtype=np.uint8))
    x = preprocess(image)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    tokens = tokenizer(["a red circle", "a small blue square to the left of a star"])
    assert tokens.shape == (2, 32) and tokens.dtype == torch.long
    assert tokenizer("a red circle").shape == (1, 32)
    # <end> has the largest id, so open_clip's argmax pooling reads the end-of-text position
    assert tokens[0].argmax().item() == 4 and tokens.max().item() == model.token_embedding.num_embeddings - 1
    with torch.no_grad():
        image_emb = model.encode_image(x[None], normalize=True)
        text_emb = model.encode_text(tokens, normalize=True)
    assert image_emb.shape == (1, 64) and text_emb.shape == (2, 64)
    assert torch.allclose(image_emb.norm(dim=-1), torch.ones(1), atol=1e-5)
    assert model.logit_scale.exp().item() > 1
    assert isinstance(model, __import__("open_clip").CLIP)
    assert (model.logit_bias is not None) == (name == "tiny-siglip")


def test_preprocess_of_a_rendered_scene_matches_training_normalisation():
    from mmlens import data

    _, preprocess, _ = mmlens.load_model("tiny-clip")
    scene = data.make_scene(0, n_objects=2)
    image = data.render_scene(scene, 64).image
    expected = (torch.from_numpy(image).permute(2, 0, 1).float() / 255 - 0.5) / 0.5
    assert torch.allclose(preprocess(Image.fromarray(image)), expected, atol=1e-6)


def test_env_var_sets_the_default_model(monkeypatch):
    model, _, _ = mmlens.load_model()
    assert model.logit_bias is None  # tiny-clip
    monkeypatch.setenv("MMLENS_MODEL", "tiny-siglip")
    model, _, _ = mmlens.load_model()
    assert model.logit_bias is not None


def test_arch_alone_gives_random_weights():
    trained, _, _ = mmlens.load_model("tiny-clip")
    model, preprocess, tokenizer = mmlens.load_model("mmlens-tiny-clip")
    assert type(tokenizer).__name__ == "WordTokenizer"
    w0 = trained.visual.conv1.weight
    w1 = model.visual.conv1.weight
    assert w0.shape == w1.shape and not torch.allclose(w0, w1)


def test_open_clip_arch_random_init_uses_its_own_tokenizer_and_transform():
    model, preprocess, tokenizer = mmlens.load_model("ViT-S-32")
    x = preprocess(Image.new("RGB", (50, 40), "red"))
    assert x.shape == (3, 224, 224)
    tokens = tokenizer(["a photo of a cat"])
    assert tokens.shape == (1, 77)
    with torch.no_grad():
        assert model.encode_text(tokens).shape == (1, 384)


def test_unknown_name_names_the_alternatives():
    with pytest.raises(zoo.ModelLoadError, match="tiny-clip.*tiny-siglip"):
        mmlens.load_model("not-a-model")
    with pytest.raises(zoo.ModelLoadError, match="laion2b_s34b_b79k"):
        mmlens.load_model("ViT-B-32:not-a-tag")
    with pytest.raises(zoo.ModelLoadError):
        mmlens.load_model("")


def test_offline_download_fails_fast_with_a_clear_message(monkeypatch):
    import socket

    import open_clip.pretrained

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable (mocked)")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", no_network)
    start = time.perf_counter()
    with pytest.raises(zoo.ModelLoadError) as info:
        mmlens.load_model("ViT-B-32:laion2b_s34b_b79k")
    assert time.perf_counter() - start < 20  # a clear error, not a minute of retries
    message = str(info.value)
    assert "ViT-B-32:laion2b_s34b_b79k" in message and "network" in message
    assert "tiny-clip" in message and "tiny-siglip" in message
    assert info.value.__cause__ is not None


@pytest.fixture
def weights_copy(tmp_path):
    for f in zoo.WEIGHTS_DIR.iterdir():
        if f.suffix in (".json", ".safetensors"):
            shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_sha256_check_catches_a_changed_file(weights_copy):
    model, _, _ = mmlens.load_model("tiny-clip", weights_dir=weights_copy)  # the intact copy loads
    path = weights_copy / "tiny-clip.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-10] ^= 0xFF  # flip one byte inside the tensor data
    path.write_bytes(bytes(raw))
    with pytest.raises(zoo.ModelLoadError, match="sha256"):
        mmlens.load_model("tiny-clip", weights_dir=weights_copy)


def test_missing_weights_file_is_a_clear_error(weights_copy):
    (weights_copy / "tiny-siglip.safetensors").unlink()
    with pytest.raises(zoo.ModelLoadError, match="missing.*python -m mmlens.train tiny-siglip"):
        mmlens.load_model("tiny-siglip", weights_dir=weights_copy)


def test_shipped_weights_are_safetensors_listed_in_the_manifest():
    manifest = json.loads((zoo.WEIGHTS_DIR / "manifest.json").read_text())
    files = sorted(f.name for f in zoo.WEIGHTS_DIR.iterdir() if f.is_file())
    assert all(f.endswith((".safetensors", ".json")) for f in files), files  # nothing to unpickle
    total = 0
    for name in mmlens.list_models():
        entry = manifest[f"{name}.safetensors"]
        assert entry["sha256"] == zoo.sha256_file(zoo.WEIGHTS_DIR / f"{name}.safetensors")
        total += entry["bytes"]
        metrics = zoo.load_metrics(name)
        assert metrics["model"] == name and set(metrics["zero_shot_accuracy"]) == {"colour", "shape", "size"}
    assert total <= 20 * 2**20


@pytest.mark.parametrize("name", ["tiny-clip", "tiny-siglip"])
@pytest.mark.parametrize("attribute", ["colour", "shape", "size"])
def test_shipped_models_classify_every_attribute_zero_shot(name, attribute):
    # The shipped metrics say 0.996 to 1.0 on 1,000 test scenes; 200 other scenes must stay close.
    model, _, tokenizer = mmlens.load_model(name)
    out = evaluate.attribute_zero_shot(model, tokenizer, attribute, n=200, seed=1)
    assert out["accuracy"] >= 0.97
