"""Checkers for *From pixels and words to vectors*."""
from __future__ import annotations

from typing import Callable

import torch

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.patches import patchify


def check_patchify(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> Verdict:
    """Check a reader's ``fn(images, patch_size) -> (B, N, C*p*p)`` against :func:`mmlens.patches.patchify`."""
    gen = torch.Generator().manual_seed(0)
    for shape, p in [((2, 3, 8, 8), 4), ((1, 3, 12, 8), 4), ((2, 1, 6, 6), 3)]:
        images = torch.rand(shape, generator=gen)
        out, failure = run_reader_function(fn, images.clone(), p)
        if failure is not None:
            return failure
        expected = patchify(images, p)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(expected.shape):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return Verdict(False, f"for images of shape {shape} and patch_size={p} expected shape "
                                  f"{tuple(expected.shape)}, got {got}")
        if not torch.allclose(out, expected):
            return Verdict(False, f"shape is right but the values differ for images {shape}, patch_size={p}: "
                                  "are patches in row-major order and flattened channel-first?")
    return Verdict(True, "your patchify matches mmlens.patches.patchify on 3 image shapes")


def check_linear_to_conv(fn: Callable[[torch.nn.Linear, int, int], torch.nn.Conv2d]) -> Verdict:
    """Check ``fn(linear, channels, patch_size) -> Conv2d`` that computes the same patch embeddings."""
    gen = torch.Generator().manual_seed(1)
    channels, p, d_model = 3, 4, 5
    linear = torch.nn.Linear(channels * p * p, d_model)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(linear.weight.shape, generator=gen))
        linear.bias.copy_(torch.randn(linear.bias.shape, generator=gen))
    conv, failure = run_reader_function(fn, linear, channels, p)
    if failure is not None:
        return failure
    if not isinstance(conv, torch.nn.Conv2d):
        return Verdict(False, f"expected an nn.Conv2d, got {type(conv).__name__}")
    images = torch.rand(2, channels, 8, 12, generator=gen)
    with torch.no_grad():
        expected = linear(patchify(images, p))  # (B, N, D)
        try:
            got = conv(images).flatten(2).transpose(1, 2)  # (B, D, gh, gw) -> (B, N, D)
        except Exception as err:
            return Verdict(False, f"running your Conv2d on (2, 3, 8, 12) images raised {type(err).__name__}: {err}")
    if got.shape != expected.shape:
        return Verdict(False, f"your convolution gives patch embeddings of shape {tuple(got.shape)}, "
                              f"expected {tuple(expected.shape)}: kernel_size and stride should both be {p}")
    if not torch.allclose(got, expected, atol=1e-5):
        return Verdict(False, "shapes match but values differ: reshape linear.weight to (D, C, p, p) and copy the bias")
    return Verdict(True, "your Conv2d computes exactly the linear patch embedding")
