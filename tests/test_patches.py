import pytest
import torch

from mmlens.patches import patch_grid_shape, patchify, unpatchify


def test_patchify_shape_and_order():
    images = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    patches = patchify(images, 2)
    assert patches.shape == (2, 6, 12)
    # patch 1 is row 0, column 1: pixels x in {2, 3}, y in {0, 1}, channel-first
    expected = images[0, :, 0:2, 2:4].reshape(-1)
    assert torch.equal(patches[0, 1], expected)


def test_unpatchify_inverts_patchify():
    images = torch.rand(3, 3, 32, 48)
    assert torch.equal(unpatchify(patchify(images, 16), 16, 3, 32, 48), images)


def test_linear_on_patches_equals_strided_conv():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 16, 16)
    conv = torch.nn.Conv2d(3, 5, kernel_size=8, stride=8)
    linear = torch.nn.Linear(3 * 8 * 8, 5)
    with torch.no_grad():
        linear.weight.copy_(conv.weight.reshape(5, -1))
        linear.bias.copy_(conv.bias)
        assert torch.allclose(linear(patchify(images, 8)), conv(images).flatten(2).transpose(1, 2), atol=1e-5)


@pytest.mark.parametrize("bad, match", [(torch.rand(3, 8, 8), "shape \\(B, C, H, W\\)"),
                                        (torch.rand(1, 3, 10, 8), "not divisible by patch_size=4")])
def test_patchify_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        patchify(bad, 4)


def test_patch_size_must_be_positive_int():
    with pytest.raises(ValueError, match="patch_size"):
        patchify(torch.rand(1, 3, 8, 8), 0)


def test_patch_grid_shape():
    assert patch_grid_shape(224, 32) == (7, 7)
    assert patch_grid_shape((224, 160), 16) == (14, 10)
    with pytest.raises(ValueError):
        patch_grid_shape(224, 30)
