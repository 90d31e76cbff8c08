"""Blocks: shapes, the shortcut rules, float32 on the hot path, gradients, the identities
that teach (cost ratio of depthwise-separable convs, inverted residual skip, SE gates)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
import minicnn.nn as nn
from minicnn import Tensor, gradcheck
from minicnn.nn.blocks import (BasicBlock, Bottleneck, ConvBNAct, ConvolutionalBlock,
                               DepthwiseSeparableConv, IdentityBlock, InceptionModule,
                               InvertedResidual, MBConv, SqueezeExcitation, StochasticDepth,
                               make_divisible)

from conftest import rand


def _x(*shape, seed=0, dtype=np.float32):
    return Tensor(rand(*shape, seed=seed, dtype=dtype))


def _forward_backward(block, x):
    """Forward, then backward of sum(y); returns y. Checks float32 is kept throughout."""
    x.requires_grad = True
    y = block(x)
    (y * y).sum().backward()
    assert y.dtype == np.float32
    assert x.grad is not None and x.grad.dtype == np.float32 and x.grad.shape == x.shape
    for name, p in block.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.dtype == np.float32 and p.grad.shape == p.shape, name
    return y


# ------------------------------------------------------------------ residual blocks
@given(st.integers(1, 2), st.integers(3, 6), st.sampled_from([1, 2]), st.integers(2, 5),
       st.integers(2, 5))
def test_basic_block_shapes_and_shortcut(m, n, stride, n_in, n_out):
    block = BasicBlock(n_in, n_out, stride)
    y = block(_x(m, n, n, n_in))
    n_out_side = -(-n // stride)                       # ceil(n / s)
    assert y.shape == (m, n_out_side, n_out_side, n_out)
    assert (block.downsample is None) == (stride == 1 and n_in == n_out)
    assert y.numpy().min() >= 0                        # ends with ReLU


def test_basic_block_is_relu_of_input_when_main_path_is_zero():
    block = BasicBlock(4, 4)
    block.bn2.gamma.data[...] = 0                      # main path contributes β = 0
    x = _x(2, 5, 5, 4)
    np.testing.assert_array_equal(block(x).numpy(), np.maximum(x.numpy(), 0))


def test_zero_init_residual_starts_as_identity():
    block = Bottleneck(16, (4, 4, 16), zero_init_residual=True)
    x = _x(2, 4, 4, 16)
    np.testing.assert_array_equal(block(x).numpy(), np.maximum(x.numpy(), 0))


@pytest.mark.parametrize("stride_on", ["conv1", "conv2"])
def test_bottleneck_stride_placement(stride_on):
    block = Bottleneck(8, (4, 4, 16), stride=2, stride_on=stride_on)
    assert (block.conv1.stride, block.conv2.stride) == ((2, 1) if stride_on == "conv1"
                                                        else (1, 2))
    assert block.downsample is not None and block(_x(2, 6, 6, 8)).shape == (2, 3, 3, 16)


def test_bottleneck_without_projection_needs_matching_shapes():
    with pytest.raises(ValueError, match="F3 = 8"):
        Bottleneck(4, (2, 2, 8), projection=False)
    with pytest.raises(ValueError, match="filters"):
        Bottleneck(4, (2, 8))


def test_course_blocks_have_keras_semantics():
    idb = IdentityBlock(6, 2, [2, 3, 6])
    assert idb.downsample is None and idb.conv2.padding == "same"
    assert idb.conv1.b is not None and np.all(idb.conv1.b.numpy() == 0)
    assert idb.bn1.eps == 1e-3 and idb.bn1.momentum == pytest.approx(0.01)
    cb = ConvolutionalBlock(3, 2, [2, 4, 6], s=2)
    assert cb.conv1.stride == 2 and cb.downsample[0].stride == 2
    assert cb(_x(2, 4, 4, 3)).shape == (2, 2, 2, 6)
    # f = 2 "same": the extra row/column goes at the bottom/right, so the shape is kept
    assert idb(_x(2, 5, 5, 6)).shape == (2, 5, 5, 6)
    with pytest.raises(ValueError, match="F3"):
        IdentityBlock(5, 3, [2, 2, 6])


def test_residual_blocks_float32_and_gradients(device):
    x = _x(2, 6, 6, 4).to(device)
    for block in (BasicBlock(4, 8, 2), Bottleneck(4, (2, 2, 8)), IdentityBlock(4, 3, [2, 2, 4]),
                  ConvolutionalBlock(4, 3, [2, 3, 6])):
        block.to(device)
        x.grad = None
        y = _forward_backward(block, x)
        assert y.device == device


def test_residual_blocks_gradcheck():
    for block, n_C in ((BasicBlock(3, 4, 2), 3), (IdentityBlock(3, 2, [2, 2, 3]), 3),
                       (ConvolutionalBlock(3, 3, [2, 2, 4], s=2), 3)):
        block.double()
        x = Tensor(rand(2, 4, 4, n_C), requires_grad=True)
        W = block.conv1.W
        gradcheck(lambda x, W: block(x), x, W)


# ------------------------------------------------------------------ inception
@given(st.integers(1, 2), st.integers(3, 7), st.lists(st.integers(1, 4), min_size=7,
                                                      max_size=7))
def test_inception_module_concatenates_four_branches(m, n, ch):
    n_in, *cfg = ch
    block = InceptionModule(n_in, *cfg)
    block.eval()
    x = _x(m, n, n, n_in)
    y = block(x)
    ch1, _, ch3, _, ch5, pool = cfg
    assert y.shape == (m, n, n, ch1 + ch3 + ch5 + pool) and block.out_channels == y.shape[-1]
    parts = [b(x).numpy() for b in (block.branch1, block.branch2, block.branch3, block.branch4)]
    np.testing.assert_array_equal(y.numpy(), np.concatenate(parts, axis=-1))
    assert block.branch3[1][0].kernel_size == (5, 5)


def test_inception_module_gradcheck():
    block = InceptionModule(3, 2, 2, 3, 1, 2, 2).double()
    x = Tensor(rand(2, 4, 4, 3), requires_grad=True)
    gradcheck(block, x)


# ------------------------------------------------------------------ mobile blocks
@given(st.integers(1, 64), st.sampled_from([3, 5, 7]))
def test_depthwise_separable_cost_ratio_counts_multiplications(n_C, f):
    n_C_prev, n = 8, 9
    block = DepthwiseSeparableConv(n_C_prev, n_C, f=f)
    assert block.cost_ratio() == pytest.approx(1 / n_C + 1 / f ** 2)
    # the ratio of the conv layers' own FLOP counts is exactly 1/n_C + 1/f²
    dw, pw = block.depthwise[0], block.pointwise[0]
    standard = nn.Conv2d(n_C_prev, n_C, f, padding=(f - 1) // 2, bias=False)
    x_shape, y_mid, y_shape = (1, n, n, n_C_prev), (1, n, n, n_C_prev), (1, n, n, n_C)
    separable = dw.flops(x_shape, y_mid) + pw.flops(y_mid, y_shape)
    assert separable / standard.flops(x_shape, y_shape) == pytest.approx(block.cost_ratio())
    assert dw.W.shape == (f, f, 1, n_C_prev) and dw.groups == n_C_prev
    assert pw.W.shape == (1, 1, n_C_prev, n_C)


def test_depthwise_separable_block_in_summary():
    model = nn.Sequential(ConvBNAct(3, 8, 3, 2), DepthwiseSeparableConv(8, 64))
    s = nn.summary(model, (8, 8, 3), print_fn=None)
    text = str(s)
    assert "1/64 + 1/9 = 0.127" in text
    row = next(r for r in s.rows if r.type == "DepthwiseSeparableConv")
    assert row.notes["cost vs conv"].endswith("0.127")


def test_depthwise_separable_equals_its_two_convs():
    block = DepthwiseSeparableConv(4, 6, stride=2, f=3)
    block.eval()
    x = _x(2, 6, 6, 4)
    dw, pw = block.depthwise, block.pointwise
    a = F.relu(dw[1](F.conv2d(x, dw[0].W, None, stride=2, padding=1, groups=4)))
    a = F.relu(pw[1](F.conv2d(a, pw[0].W, None)))
    np.testing.assert_allclose(block(x).numpy(), a.numpy(), rtol=1e-6)


@pytest.mark.parametrize("stride,n_in,n_out,skip", [(1, 8, 8, True), (2, 8, 8, False),
                                                    (1, 8, 12, False)])
def test_inverted_residual_skip_only_when_shapes_match(stride, n_in, n_out, skip):
    block = InvertedResidual(n_in, n_out, stride, expand_ratio=6)
    assert block.use_res_connect is skip
    project_bn = block.conv[-1]
    project_bn.gamma.data[...] = 0                     # the linear projection outputs 0
    block.eval()
    x = _x(2, 6, 6, n_in)
    y = block(x)
    assert y.shape == (2, 6 // stride, 6 // stride, n_out)
    if skip:
        np.testing.assert_array_equal(y.numpy(), x.numpy())
    else:
        np.testing.assert_array_equal(y.numpy(), 0)


def test_inverted_residual_layout_and_linear_bottleneck():
    block = InvertedResidual(8, 16, 2, expand_ratio=6)
    assert [type(m).__name__ for m in block.conv] == ["ConvBNAct", "ConvBNAct", "Conv2d",
                                                      "BatchNorm2d"]
    assert block.conv[0][0].W.shape == (1, 1, 8, 48)           # expand
    assert block.conv[1][0].W.shape == (3, 3, 1, 48)           # depthwise
    assert isinstance(block.conv[1][2], nn.ReLU6)
    assert block.conv[2].W.shape == (1, 1, 48, 16)             # linear projection
    no_expand = InvertedResidual(8, 8, 1, expand_ratio=1)
    assert len(no_expand.conv) == 3
    # the projection is linear: outputs can be negative (no ReLU6 after it)
    block.eval()
    assert block(_x(2, 6, 6, 8)).numpy().min() < 0


def test_squeeze_excitation_matches_numpy():
    se = SqueezeExcitation(6, 2, act="relu")
    x = _x(2, 3, 4, 6)
    s = x.numpy().mean(axis=(1, 2))
    W1, b1 = se.fc1.W.numpy()[0, 0], se.fc1.b.numpy()
    W2, b2 = se.fc2.W.numpy()[0, 0], se.fc2.b.numpy()
    gate = 1 / (1 + np.exp(-(np.maximum(s @ W1 + b1, 0) @ W2 + b2)))
    np.testing.assert_allclose(se(x).numpy(), x.numpy() * gate[:, None, None, :], rtol=1e-5,
                               atol=1e-6)
    assert np.all((gate > 0) & (gate < 1))


def test_mbconv_layout_se_and_skip():
    block = MBConv(16, 16, f=5, stride=1, expand_ratio=6, se_ratio=0.25)
    assert [type(m).__name__ for m in block.block] == ["ConvBNAct", "ConvBNAct",
                                                       "SqueezeExcitation", "ConvBNAct"]
    assert block.block[2].squeeze_channels == 4 and block.block[1][0].W.shape == (5, 5, 1, 96)
    assert block.use_res_connect
    lite = MBConv(16, 24, 3, 2, 6, se_ratio=None, act="relu6")
    assert len(lite.block) == 3 and not lite.use_res_connect


def test_mbconv_stochastic_depth_drops_whole_examples():
    block = MBConv(4, 4, 3, 1, 2, drop_path=0.5)
    x = _x(64, 3, 3, 4)
    block.eval()
    z = (block(x) - x).numpy()                         # the residual branch alone (eval)
    assert np.abs(z).max() > 0
    block.train()
    minicnn.manual_seed(1)
    # train mode changes BN to batch statistics: compare with the branch in train mode
    y = block(x).numpy() - x.numpy()
    kept = np.abs(y).reshape(64, -1).max(axis=1) > 0
    assert 10 < kept.sum() < 54                        # about half the examples dropped
    assert np.all(y[~kept] == 0)


def test_stochastic_depth_scales_kept_examples():
    sd = StochasticDepth(0.25)
    x = Tensor(np.ones((400, 2, 2, 1), np.float32), requires_grad=True)
    y = sd(x)
    values = np.unique(y.numpy())
    np.testing.assert_allclose(values, [0, 1 / 0.75], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.numpy())
    sd.eval()
    assert sd(x) is x
    with pytest.raises(ValueError, match="drop probability"):
        StochasticDepth(1.0)


def test_mobile_blocks_float32_gradients(device):
    x = _x(2, 6, 6, 8).to(device)
    for block in (DepthwiseSeparableConv(8, 12, 2), InvertedResidual(8, 8, 1, 6),
                  SqueezeExcitation(8, 2), MBConv(8, 8, 3, 1, 4, drop_path=0.2),
                  MBConv(8, 16, 5, 2, 6, se_ratio=None, act="relu6", padding="same")):
        block.to(device)
        x.grad = None
        y = _forward_backward(block, x)
        assert y.device == device


def test_mobile_blocks_gradcheck():
    for block in (InvertedResidual(3, 3, 1, 2), MBConv(3, 3, 3, 1, 2),
                  DepthwiseSeparableConv(3, 4, 2), SqueezeExcitation(3, 2)):
        block.double()
        x = Tensor(rand(2, 4, 4, 3), requires_grad=True)
        gradcheck(block, x)


def test_make_divisible():
    assert [make_divisible(v) for v in (32, 33, 12, 3, 100 * 0.35)] == [32, 32, 16, 8, 32]
    assert make_divisible(1280 * 1.4) == 1792


def test_padding_conventions_differ_only_in_alignment():
    """'same' (Keras) and 'symmetric' (PyTorch) give equal shapes and different windows
    for a stride-2 3×3 conv on an even input."""
    a = ConvBNAct(2, 3, 3, 2, padding="same")
    b = ConvBNAct(2, 3, 3, 2, padding="symmetric")
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = _x(1, 6, 6, 2)
    ya, yb = a(x), b(x)
    assert ya.shape == yb.shape == (1, 3, 3, 3)
    assert not np.allclose(ya.numpy(), yb.numpy())
    with pytest.raises(ValueError, match="padding"):
        ConvBNAct(2, 3, 3, padding="valid-ish")
