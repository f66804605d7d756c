"""Saliency maps: rollout, relevancy, Grad-CAM, similarity maps, and their figures."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import open_clip  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mmlens.inspect.capture import count_hooks, run_with_cache  # noqa: E402
from mmlens.inspect.maps import (  # noqa: E402
    METHODS,
    attention_map,
    attention_maps,
    attention_rollout,
    chefer_relevancy,
    cls_to_patches,
    gradcam_map,
    make_map,
    relevancy_map,
    rollout_map,
    similarity_map,
    upsample_map,
)
from mmlens.viz.attention import plot_attention_overlay, plot_head_grid, show_heatmaps  # noqa: E402

torch.set_num_threads(2)

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=48, patch_size=8, width=64, layers=4, head_width=16),
    text_cfg=dict(context_length=12, vocab_size=60, width=64, heads=4, layers=2),
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return open_clip.model.CLIP(**TINY).eval()


@pytest.fixture(scope="module")
def inputs():
    torch.manual_seed(1)
    tokens = torch.zeros(3, 12, dtype=torch.long)
    tokens[:, 0] = 58
    tokens[:, 1:4] = torch.randint(1, 58, (3, 3))
    tokens[:, 4] = 59  # end-of-text, the largest id
    return torch.randn(3, 3, 48, 48), tokens


# -- pure functions ------------------------------------------------------------------------------


def test_rollout_of_identity_attention_is_identity():
    eye = torch.eye(10).expand(2, 3, 10, 10)  # (B, H, T, T)
    torch.testing.assert_close(attention_rollout([eye] * 4), torch.eye(10).expand(2, 10, 10))
    torch.testing.assert_close(attention_rollout(torch.stack([eye] * 4), residual=False), torch.eye(10).expand(2, 10, 10))


def test_rollout_matches_the_formula():
    torch.manual_seed(0)
    patterns = [torch.rand(2, 3, 5, 5).softmax(-1) for _ in range(3)]
    eye = torch.eye(5)
    expected = None
    for A in patterns:
        a = 0.5 * A.mean(1) + 0.5 * eye  # rows of A sum to 1, so (A + I) / 2 is already renormalised
        expected = a if expected is None else a @ expected
    result = attention_rollout(patterns)
    torch.testing.assert_close(result, expected)
    torch.testing.assert_close(result.sum(-1), torch.ones(2, 5))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(patterns, head_fusion="median")


def test_cls_to_patches_reads_row_zero_in_reading_order():
    m = torch.zeros(1, 7, 7)
    m[0, 0, 1:] = torch.arange(6.0)
    out = cls_to_patches(m, (2, 3))
    assert torch.equal(out, torch.arange(6.0).reshape(1, 2, 3))
    with pytest.raises(ValueError, match="square grid"):
        cls_to_patches(m)
    with pytest.raises(ValueError, match="holds 4 patches"):
        cls_to_patches(m, (2, 2))


def test_chefer_relevancy_formula():
    torch.manual_seed(0)
    A = [torch.rand(1, 2, 4, 4).softmax(-1) for _ in range(2)]
    G = [torch.randn(1, 2, 4, 4) for _ in range(2)]
    R = torch.eye(4)[None]
    for a, g in zip(A, G):
        R = R + (g * a).clamp(min=0).mean(1) @ R
    torch.testing.assert_close(chefer_relevancy(A, G), R)
    zero = [torch.zeros_like(g) for g in G]
    torch.testing.assert_close(chefer_relevancy(A, zero), torch.eye(4)[None])


def test_upsample_map():
    m = torch.arange(4.0).reshape(2, 2)
    up = upsample_map(m, 8, mode="nearest")
    assert up.shape == (8, 8) and torch.equal(up[:4, :4], torch.zeros(4, 4)) and torch.equal(up[4:, 4:], torch.full((4, 4), 3.0))
    assert upsample_map(torch.ones(3, 2, 2), (6, 4)).shape == (3, 6, 4)
    torch.testing.assert_close(upsample_map(torch.full((2, 2), 0.7), 16), torch.full((16, 16), 0.7))
    with pytest.raises(ValueError, match="grid_h"):
        upsample_map(torch.ones(2, 2, 2, 2), 8)


# -- maps from a model ---------------------------------------------------------------------------


def test_every_method_gives_one_grid_map_per_image(tiny, inputs):
    images, tokens = inputs
    for method in METHODS:
        maps = make_map(method, tiny, images, tokens)
        assert maps.shape == (3, 6, 6), method
        assert torch.isfinite(maps).all() and not maps.requires_grad
    assert count_hooks(tiny) == 0
    assert all(p.grad is None for p in tiny.parameters())
    with pytest.raises(ValueError, match="unknown method"):
        make_map("saliency", tiny, images, tokens)
    with pytest.raises(ValueError, match="pass tokens"):
        gradcam_map(tiny, images, None)
    with pytest.raises(ValueError, match="2 texts for 3 images"):
        relevancy_map(tiny, images, tokens[:2])


def test_attention_map_and_maps_read_the_cls_row(tiny, inputs):
    images, _ = inputs
    _, cache = run_with_cache(tiny, images=images)
    A = cache["pattern", 2]  # (B, H, T, T)
    torch.testing.assert_close(attention_map(tiny, images, layer=2), A.mean(1)[:, 0, 1:].reshape(3, 6, 6))
    torch.testing.assert_close(attention_map(tiny, images, layer=-2, head=1), A[:, 1, 0, 1:].reshape(3, 6, 6))
    every = attention_maps(tiny, images)
    assert every.shape == (3, 4, 4, 6, 6)
    torch.testing.assert_close(every[:, 2, 1], A[:, 1, 0, 1:].reshape(3, 6, 6))
    with pytest.raises(ValueError, match="layer=4"):
        attention_map(tiny, images, layer=4)


def test_rollout_map_uses_every_layer(tiny, inputs):
    images, _ = inputs
    _, cache = run_with_cache(tiny, images=images)
    expected = attention_rollout([cache["pattern", i] for i in range(4)])[:, 0, 1:].reshape(3, 6, 6)
    torch.testing.assert_close(rollout_map(tiny, images), expected)
    late = attention_rollout([cache["pattern", i] for i in range(2, 4)])[:, 0, 1:].reshape(3, 6, 6)
    torch.testing.assert_close(rollout_map(tiny, images, start_layer=2), late)


def test_gradcam_matches_a_manual_computation(tiny, inputs):
    images, tokens = inputs
    maps = gradcam_map(tiny, images, tokens, layer=-1)
    assert (maps >= 0).all() and maps.sum() > 0
    # manual: hook the input of the last block, differentiate the cosine of the first pair
    saved = {}
    handle = tiny.visual.transformer.resblocks[-1].register_forward_pre_hook(lambda m, a: saved.__setitem__("x", a[0]))
    try:
        image_emb = F.normalize(tiny.encode_image(images[:1]), dim=-1)
    finally:
        handle.remove()
    with torch.no_grad():
        text_emb = F.normalize(tiny.encode_text(tokens[:1]), dim=-1)
    (g,) = torch.autograd.grad((image_emb * text_emb).sum(), [saved["x"]])
    x, g = saved["x"][0, 1:].detach(), g[0, 1:]
    cam = F.relu((x * g.mean(0)).sum(-1)).reshape(6, 6)
    torch.testing.assert_close(maps[0], cam, atol=1e-6, rtol=1e-4)


def test_relevancy_matches_the_from_scratch_models_own_attention(tiny, inputs):
    """Independent path: mmlens.models returns attention weights that are part of its graph."""
    from mmlens.models import from_open_clip

    images, tokens = inputs
    ours = from_open_clip(tiny).eval()
    image_emb, weights = ours.visual.forward_with_attention(images)
    with torch.no_grad():
        text_emb = F.normalize(ours.encode_text(tokens), dim=-1)
    cos = (F.normalize(image_emb, dim=-1) * text_emb).sum()
    grads = torch.autograd.grad(cos, weights)
    expected = chefer_relevancy([w.detach() for w in weights], grads)[:, 0, 1:].reshape(3, 6, 6)
    torch.testing.assert_close(relevancy_map(tiny, images, tokens), expected, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(relevancy_map(ours, images, tokens), expected, atol=1e-6, rtol=1e-4)


def test_gradient_maps_of_a_batch_equal_maps_of_single_images(tiny, inputs):
    images, tokens = inputs
    for fn in (gradcam_map, relevancy_map, similarity_map):
        batch = fn(tiny, images, tokens)
        alone = fn(tiny, images[2:], tokens[2:])
        torch.testing.assert_close(batch[2:], alone, atol=1e-6, rtol=1e-4)
    one_text = relevancy_map(tiny, images, tokens[:1])  # one text broadcast to every image
    torch.testing.assert_close(one_text[1:2], relevancy_map(tiny, images[1:2], tokens[:1]), atol=1e-6, rtol=1e-4)


def test_similarity_map_matches_open_clip_patch_tokens(tiny, inputs):
    images, tokens = inputs
    tiny.visual.output_tokens = True  # open_clip's own path to the patch tokens after ln_post
    try:
        with torch.no_grad():
            _, patch_tokens = tiny.visual(images)  # (B, P, width)
    finally:
        tiny.visual.output_tokens = False
    with torch.no_grad():
        patch_emb = F.normalize(patch_tokens @ tiny.visual.proj, dim=-1)
        text_emb = tiny.encode_text(tokens, normalize=True)
    expected = (patch_emb * text_emb[:, None]).sum(-1).reshape(3, 6, 6)
    torch.testing.assert_close(similarity_map(tiny, images, tokens), expected, atol=1e-5, rtol=1e-4)


def test_maps_on_vit_b_32():
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    images = torch.randn(1, 3, 224, 224)
    tokens = open_clip.get_tokenizer("ViT-B-32")(["a photo of a dog"])
    maps = relevancy_map(model, images, tokens)  # gradients through open_clip's attention
    assert maps.shape == (1, 7, 7) and torch.isfinite(maps).all() and maps.sum() > 0
    assert count_hooks(model) == 0


# -- figures -------------------------------------------------------------------------------------


def test_figures_draw(tiny, inputs):
    images, tokens = inputs
    maps = attention_maps(tiny, images)  # (B, L, H, gh, gw)
    fig = plot_head_grid(maps[0], image=images[0])
    assert len(fig.axes) == 16
    _, cache = run_with_cache(tiny, images=images[:1])
    fig2 = plot_head_grid(cache)  # patterns straight from a cache
    assert len(fig2.axes) == 16
    fig3 = plot_head_grid(cache.stack("pattern")[:, 0])  # [layer, head, pos, pos] recognised as patterns
    torch.testing.assert_close(
        torch.as_tensor(fig3.axes[5].images[0].get_array()), maps[0, 1, 1].double(), atol=1e-6, rtol=0
    )
    _, ax = plt.subplots()
    assert plot_attention_overlay(images[0], rollout_map(tiny, images[:1])[0], ax=ax, title="rollout") is ax
    assert len(ax.images) == 2 and ax.images[1].get_array().shape == (48, 48)
    fig4 = show_heatmaps(cache.stack("pattern")[:2, 0], xlabel="Keys", ylabel="Queries", titles=[f"head {h}" for h in range(4)])
    assert len(fig4.axes) == 2 * 4 + 1  # the grid and one shared colour bar
    with pytest.raises(ValueError, match="titles"):
        show_heatmaps(torch.rand(1, 2, 3, 3), "k", "q", titles=["one"])
    with pytest.raises(ValueError, match="2-D map"):
        plot_attention_overlay(images[0], maps[0])
    plt.close("all")
