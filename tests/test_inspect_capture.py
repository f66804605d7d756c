"""Activation capture: names, shapes, exactness of attention patterns, no side effects."""
import math

import open_clip
import pytest
import torch
import torch.nn.functional as F

from mmlens.inspect.capture import ActivationCache, capture, count_hooks, hook_names, run_with_cache

torch.set_num_threads(2)

TINY = dict(
    embed_dim=32,
    vision_cfg=dict(image_size=64, patch_size=8, width=128, layers=4, head_width=32),
    text_cfg=dict(context_length=12, vocab_size=60, width=64, heads=4, layers=2),
)


def make_tiny():
    torch.manual_seed(0)
    return open_clip.model.CLIP(**TINY).eval()


def make_tokens(n, context_length=12, vocab=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(n, context_length, dtype=torch.long)
    for i in range(n):
        length = 3 + i % 5
        tokens[i, 0] = vocab - 2
        tokens[i, 1 : length - 1] = torch.randint(1, vocab - 2, (length - 2,), generator=g)
        tokens[i, length - 1] = vocab - 1  # end-of-text: the largest id, found by argmax pooling
    return tokens


@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


@pytest.fixture(scope="module")
def inputs():
    torch.manual_seed(1)
    return torch.randn(3, 3, 64, 64), make_tokens(3)


def manual_pattern(block, resid_pre, attn_mask=None):
    """softmax(Q K^T / sqrt(d) + mask) from a block's input and its in_proj weights, written out again."""
    x = block.ln_1(resid_pre)  # (B, T, C)
    B, T, C = x.shape
    H = block.attn.num_heads
    q, k, _ = F.linear(x, block.attn.in_proj_weight, block.attn.in_proj_bias).split(C, dim=-1)
    q = q.view(B, T, H, C // H).transpose(1, 2)
    k = k.view(B, T, H, C // H).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(C // H)
    if attn_mask is not None:
        scores = scores + attn_mask
    return scores.softmax(-1)


def test_names_and_shapes(tiny, inputs):
    images, tokens = inputs
    output, cache = run_with_cache(tiny, images=images, tokens=tokens)
    assert isinstance(cache, ActivationCache)
    assert set(cache.keys()) == set(hook_names(tiny))
    assert cache.n_layers == {"vision": 4, "text": 2}
    assert cache.grid == (8, 8)
    assert cache["vision.blocks.0.attn.pattern"].shape == (3, 4, 65, 65)
    assert cache["vision.blocks.3.resid_post"].shape == (3, 65, 128)
    assert cache["vision.blocks.1.mlp.post"].shape == (3, 65, 512)
    assert cache["text.blocks.1.attn.pattern"].shape == (3, 4, 12, 12)
    assert cache["text.ln_final"].shape == (3, 12, 64)
    assert cache["vision.image_emb"].shape == (3, 32)
    assert output.logits_per_image.shape == (3, 3)


def test_patterns_rows_sum_to_one_and_text_is_causal(tiny, inputs):
    images, tokens = inputs
    _, cache = run_with_cache(tiny, images=images, tokens=tokens)
    for tower in ("vision", "text"):
        for i in range(cache.n_layers[tower]):
            A = cache["pattern", i, tower]
            torch.testing.assert_close(A.sum(-1), torch.ones(A.shape[:-1]), atol=1e-5, rtol=0)
            assert (A >= 0).all()
    upper = torch.ones(12, 12, dtype=torch.bool).triu(1)
    assert cache["pattern", 0, "text"][..., upper].abs().max() == 0
    assert cache["pattern", 0, "vision"][..., :12, :12][..., upper].abs().max() > 0


@pytest.mark.parametrize("grad", [False, True])
def test_patterns_equal_manual_recomputation(tiny, inputs, grad):
    images, tokens = inputs
    _, cache = run_with_cache(tiny, images=images, tokens=tokens, grad=grad)
    with torch.no_grad():
        for i, block in enumerate(tiny.visual.transformer.resblocks):
            expected = manual_pattern(block, cache["resid_pre", i])
            torch.testing.assert_close(cache["pattern", i].detach(), expected, atol=1e-5, rtol=1e-4)
        for i, block in enumerate(tiny.transformer.resblocks):
            expected = manual_pattern(block, cache["resid_pre", i, "text"], tiny.attn_mask)
            torch.testing.assert_close(cache["pattern", i, "text"].detach(), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("grad", [False, True])
def test_outputs_unchanged_and_residual_stream_adds_up(tiny, inputs, grad):
    images, tokens = inputs
    output, cache = run_with_cache(tiny, images=images, tokens=tokens, grad=grad)
    with torch.no_grad():
        image_emb = tiny.encode_image(images, normalize=True)
        text_emb = tiny.encode_text(tokens, normalize=True)
        torch.testing.assert_close(output.image_emb.detach(), image_emb, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(output.text_emb, text_emb, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(cache["vision.image_emb"].detach(), tiny.encode_image(images), atol=1e-5, rtol=1e-4)
        logits = tiny.logit_scale.exp() * image_emb @ text_emb.T
        torch.testing.assert_close(output.logits_per_image.detach(), logits, atol=1e-4, rtol=1e-4)
        for tower in ("vision", "text"):
            for i in range(cache.n_layers[tower]):
                c = lambda s: cache[s, i, tower].detach()  # noqa: E731
                torch.testing.assert_close(c("resid_mid"), c("resid_pre") + c("attn_out"), atol=1e-5, rtol=1e-4)
                torch.testing.assert_close(c("resid_post"), c("resid_mid") + c("mlp_out"), atol=1e-5, rtol=1e-4)
                if i > 0:
                    assert torch.equal(c("resid_pre"), cache["resid_post", i - 1, tower].detach())
        torch.testing.assert_close(cache["vision.ln_post"].detach(), tiny.visual.ln_post(cache["resid_post", -1].detach()))


def test_shorthand_and_negative_indices(tiny, inputs):
    images, tokens = inputs
    _, cache = run_with_cache(tiny, images=images, tokens=tokens)
    assert cache["pattern", -1] is cache["vision.blocks.3.attn.pattern"]
    assert cache["vision.blocks.-1.resid_post"] is cache["vision.blocks.3.resid_post"]
    assert cache["resid_post", -2, "text"] is cache["text.blocks.0.resid_post"]
    assert cache["image_emb"] is cache["vision.image_emb"]
    assert ("pattern", -1, "text") in cache and ("pattern", 7) not in cache
    assert cache.stack("pattern").shape == (4, 3, 4, 65, 65)
    with pytest.raises(KeyError, match="out of range"):
        cache["pattern", 4]
    with pytest.raises(KeyError, match="unknown shorthand"):
        cache["nonsense", 0]


def test_names_filter_captures_only_what_is_asked(tiny, inputs):
    images, tokens = inputs
    _, cache = run_with_cache(tiny, images=images, names=["vision.blocks.-1.attn.pattern", "vision.blocks.0.resid_post"])
    assert set(cache.keys()) == {"vision.blocks.3.attn.pattern", "vision.blocks.0.resid_post"}
    _, cache = run_with_cache(tiny, images=images, tokens=tokens, names=lambda n: n.startswith("text."))
    assert cache.keys() and all(k.startswith("text.") for k in cache.keys())
    with pytest.raises(ValueError, match="unknown activation name"):
        run_with_cache(tiny, images=images, names=["vision.blocks.0.nope"])


def test_no_side_effects_even_on_error(tiny, inputs):
    images, tokens = inputs
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    assert count_hooks(tiny) == 0
    run_with_cache(tiny, images=images, tokens=tokens)
    run_with_cache(tiny, images=images, tokens=tokens, grad=True)
    assert count_hooks(tiny) == 0
    with pytest.raises(RuntimeError):  # 48x48 images: the positional embedding does not fit, mid-forward
        run_with_cache(tiny, images=torch.randn(1, 3, 48, 48))
    assert count_hooks(tiny) == 0
    with pytest.raises(ZeroDivisionError):
        with capture(tiny) as cache:
            tiny.encode_image(images[:1])
            assert len(cache) > 0 and count_hooks(tiny) > 0
            1 / 0
    assert count_hooks(tiny) == 0
    after = tiny.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.grad is not None for p in tiny.parameters())


def test_capture_context_manager_records_a_forward(tiny, inputs):
    images, _ = inputs
    with torch.no_grad(), capture(tiny, names=lambda n: n.endswith("attn.pattern")) as cache:
        tiny.encode_image(images)
    assert set(cache.keys()) == {f"vision.blocks.{i}.attn.pattern" for i in range(4)}


def test_gradients_reach_patterns_in_grad_mode(tiny, inputs):
    images, tokens = inputs
    output, cache = run_with_cache(tiny, images=images, tokens=tokens, grad=True)
    grads = torch.autograd.grad(output.logits_per_image.diagonal().sum(), [cache["pattern", i] for i in range(4)])
    assert all(g.shape == (3, 4, 65, 65) and g.abs().sum() > 0 for g in grads)
    _, cache = run_with_cache(tiny, images=images)
    assert not cache["pattern", 0].requires_grad


def test_bad_inputs_raise_clear_errors(tiny):
    with pytest.raises(ValueError, match="images=.*tokens="):
        run_with_cache(tiny)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        run_with_cache(tiny, images=torch.randn(3, 64, 64))
    with pytest.raises(TypeError, match="CLIP"):
        run_with_cache(torch.nn.Linear(2, 2), images=torch.randn(1, 3, 64, 64))
    torch.manual_seed(0)
    resnet = open_clip.model.CLIP(32, dict(image_size=64, layers=(1, 1, 1, 1), width=16), TINY["text_cfg"])
    with pytest.raises(ValueError, match="not a Vision Transformer"):
        run_with_cache(resnet, images=torch.randn(1, 3, 64, 64))


def test_from_scratch_model_gives_the_same_cache(tiny, inputs):
    from mmlens.models import from_open_clip

    images, tokens = inputs
    ours = from_open_clip(tiny).eval()
    _, theirs_cache = run_with_cache(tiny, images=images, tokens=tokens)
    _, ours_cache = run_with_cache(ours, images=images, tokens=tokens)
    assert set(ours_cache.keys()) == set(theirs_cache.keys())
    for name in theirs_cache.keys():
        torch.testing.assert_close(ours_cache[name], theirs_cache[name], atol=1e-4, rtol=1e-4)
    output, grad_cache = run_with_cache(ours, images=images, tokens=tokens, grad=True)
    (g,) = torch.autograd.grad(output.logits_per_image.diagonal().sum(), [grad_cache["pattern", -1]])
    assert g.abs().sum() > 0
    assert count_hooks(ours) == 0


def test_real_architecture_vit_b_32():
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    images = torch.randn(1, 3, 224, 224)
    tokens = open_clip.get_tokenizer("ViT-B-32")(["a photo of a cat"])
    before = {k: v.clone() for k, v in model.state_dict().items() if "resblocks.11" in k}
    output, cache = run_with_cache(model, images=images, tokens=tokens)
    assert cache["pattern", -1].shape == (1, 12, 50, 50)
    assert cache["pattern", -1, "text"].shape == (1, 8, 77, 77)
    assert cache.grid == (7, 7)
    block = model.visual.transformer.resblocks[-1]
    with torch.no_grad():
        torch.testing.assert_close(cache["pattern", -1], manual_pattern(block, cache["resid_pre", -1]), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(output.image_emb, model.encode_image(images, normalize=True), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(cache["pattern", 5].sum(-1), torch.ones(1, 12, 50), atol=1e-5, rtol=0)
    assert count_hooks(model) == 0
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
