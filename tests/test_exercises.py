import torch

from mmlens.exercises import check_linear_to_conv, check_patchify
from mmlens.patches import patchify


def test_check_patchify_accepts_reference_and_rejects_wrong_answers():
    assert check_patchify(patchify)
    unfinished = check_patchify(lambda images, p: (_ for _ in ()).throw(NotImplementedError))
    assert not unfinished and "NotImplementedError" in repr(unfinished)
    # right shape, wrong order: column-major patches
    wrong = check_patchify(lambda x, p: patchify(x.transpose(2, 3), p))
    assert not wrong and "values differ" in repr(wrong)
    assert not check_patchify(lambda x, p: x.flatten(1))


def test_check_linear_to_conv():
    def solution(linear, channels, p):
        conv = torch.nn.Conv2d(channels, linear.out_features, p, stride=p)
        with torch.no_grad():
            conv.weight.copy_(linear.weight.reshape(linear.out_features, channels, p, p))
            conv.bias.copy_(linear.bias)
        return conv

    assert check_linear_to_conv(solution)

    def no_bias(linear, channels, p):
        conv = solution(linear, channels, p)
        with torch.no_grad():
            conv.bias.zero_()
        return conv

    assert not check_linear_to_conv(no_bias)
    assert not check_linear_to_conv(lambda *a: torch.nn.Linear(2, 2))
