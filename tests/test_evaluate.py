import pytest
import torch
import torch.nn.functional as F

from mmlens import evaluate


def test_retrieval_recall_perfect_embedding_gives_one():
    emb = F.normalize(torch.randn(50, 16, generator=torch.Generator().manual_seed(0)), dim=-1)
    recalls = evaluate.retrieval_recall(emb, emb.clone(), ks=(1, 5, 10))
    assert set(recalls) == {f"{d}@{k}" for d in ("text_to_image", "image_to_text") for k in (1, 5, 10)}
    assert all(v == 1.0 for v in recalls.values())


def test_retrieval_recall_random_embedding_is_near_k_over_n():
    g = torch.Generator().manual_seed(0)
    n = 2000
    recalls = evaluate.retrieval_recall(torch.randn(n, 32, generator=g), torch.randn(n, 32, generator=g), ks=(1, 10, 100))
    for direction in ("text_to_image", "image_to_text"):
        assert recalls[f"{direction}@1"] < 0.004
        assert 0.002 < recalls[f"{direction}@10"] < 0.01
        assert 0.035 < recalls[f"{direction}@100"] < 0.065


def test_retrieval_recall_counts_each_direction_separately():
    # image 0 is closest to text 1, so image->text@1 misses image 0; text 0 still finds image 0 first
    image_emb = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    text_emb = torch.tensor([[0.6, 0.0, 0.8], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])
    r = evaluate.retrieval_recall(image_emb, text_emb, ks=(1, 2))
    # image 0: texts scored 0.6 (true), 0.8, 0 -> rank 1; image 1: 0, 0.6 (true), 0 -> rank 0; image 2: rank 0
    assert r["image_to_text@1"] == pytest.approx(2 / 3)
    assert r["image_to_text@2"] == 1.0
    # text 0: images 0.6 (true), 0, 0.8 -> rank 1; text 1: 0.8, 0.6 (true), 0 -> rank 1; text 2: rank 0
    assert r["text_to_image@1"] == pytest.approx(1 / 3)
    assert r["text_to_image@2"] == 1.0


def test_retrieval_recall_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        evaluate.retrieval_recall(torch.randn(4, 8), torch.randn(5, 8))
    with pytest.raises(ValueError, match="k must be"):
        evaluate.retrieval_recall(torch.randn(4, 8), torch.randn(4, 8), ks=(0,))


class OneHotModel(torch.nn.Module):
    """Images are (N, 3, H, W) whose channel means say the class; texts are one-hot by a class word."""

    classes = ("red", "green", "blue")

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def encode_image(self, images, normalize=False):
        return F.normalize(images.mean(dim=(2, 3)), dim=-1)  # (N, 3)

    def encode_text(self, tokens, normalize=False):
        return F.one_hot(tokens[:, 0], 3).float()  # (N, 3)


def one_hot_tokenizer(texts):
    texts = [texts] if isinstance(texts, str) else texts
    return torch.tensor([[next(i for i, c in enumerate(OneHotModel.classes) if c in t)] for t in texts])


def colour_images(labels):
    return torch.stack([torch.eye(3)[i].view(3, 1, 1).expand(3, 4, 4) for i in labels])  # (N, 3, 4, 4)


def test_zero_shot_accuracy_and_confusion_on_a_known_model():
    labels = [0, 1, 2, 2, 1]
    images = colour_images(labels)
    out = evaluate.zero_shot_predict(OneHotModel(), one_hot_tokenizer, None, images, labels, OneHotModel.classes, ["a {} object"])
    assert out["accuracy"] == 1.0
    assert out["predictions"].tolist() == labels
    assert out["confusion"].tolist() == [[1, 0, 0], [0, 2, 0], [0, 0, 2]]
    # now claim wrong labels for two images: accuracy and confusion follow
    wrong = ["red", "red", "blue", "green", "green"]
    out = evaluate.zero_shot_predict(OneHotModel(), one_hot_tokenizer, None, images, wrong, OneHotModel.classes, ["{}"])
    assert out["accuracy"] == pytest.approx(3 / 5)
    assert out["confusion"][0].tolist() == [1, 1, 0]  # true red: one predicted red, one predicted green
    assert out["confusion"][1].tolist() == [0, 1, 1]
    acc = evaluate.zero_shot_accuracy(OneHotModel(), one_hot_tokenizer, None, images, wrong, OneHotModel.classes, ["{}"])
    assert acc == pytest.approx(3 / 5)


def test_zero_shot_rejects_bad_inputs():
    images = colour_images([0, 1])
    with pytest.raises(ValueError, match="purple"):
        evaluate.zero_shot_accuracy(OneHotModel(), one_hot_tokenizer, None, images, ["red", "purple"], OneHotModel.classes, ["{}"])
    with pytest.raises(ValueError, match="placeholder"):
        evaluate.zero_shot_accuracy(OneHotModel(), one_hot_tokenizer, None, images, [0, 1], OneHotModel.classes, ["a photo"])
    with pytest.raises(ValueError, match="preprocess"):
        evaluate.zero_shot_accuracy(OneHotModel(), one_hot_tokenizer, None, [object()], [0], OneHotModel.classes, ["{}"])


def test_fix_article():
    assert evaluate.fix_article("a orange object") == "an orange object"
    assert evaluate.fix_article("a photo of a red object") == "a photo of a red object"


def test_attribute_test_set_labels_match_scenes():
    images, labels, class_names = evaluate.make_attribute_test_set("colour", 10, seed=3)
    assert images.shape == (10, 64, 64, 3) and images.dtype.name == "uint8"
    assert set(labels) <= set(class_names) and len(labels) == 10
    with pytest.raises(ValueError, match="attribute"):
        evaluate.make_attribute_test_set("texture", 10)
