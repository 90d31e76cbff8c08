"""An optional oracle: forward and backward against ``torch.nn.functional`` (skipped without torch).

PyTorch is channels-first, so arrays are converted at the boundary: x NHWC → NCHW,
W (f…, n_C_prev // g, n_C) → (n_C, n_C_prev // g, f…); for conv_transpose, minicnn's
W (f…, n_C_out // g, n_C_in) → PyTorch's (n_C_in, n_C_out // g, f…).
"""
from __future__ import annotations

import numpy as np
import pytest

import minicnn.functional as F
from minicnn import Tensor

from conftest import rand

torch = pytest.importorskip("torch")
tF = torch.nn.functional


def to_torch(a):
    """NHWC-style array → torch tensor with the channel axis moved to position 1."""
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 1))).requires_grad_()


def w_to_torch(W, nd):
    """(f…, in, out) → (out, in, f…)."""
    axes = (nd + 1, nd) + tuple(range(nd))
    return torch.from_numpy(np.ascontiguousarray(W.transpose(axes))).requires_grad_()


def w_from_torch(Wt, nd):
    axes = tuple(range(2, nd + 2)) + (1, 0)
    return Wt.transpose(axes)


def wt_to_torch(W, nd):
    """conv_transpose: minicnn (f…, out/g, in) → torch (in, out/g, f…)."""
    axes = (nd + 1, nd) + tuple(range(nd))
    return torch.from_numpy(np.ascontiguousarray(W.transpose(axes))).requires_grad_()


CASES = [  # nd, x_shape, W_shape, stride, padding, dilation, groups
    (2, (2, 7, 6, 4), (3, 3, 4, 5), 1, 1, 1, 1),
    (2, (2, 8, 7, 4), (3, 2, 2, 6), (2, 1), (1, 0), (1, 2), 2),
    (2, (2, 9, 9, 6), (3, 3, 1, 6), 2, 1, 1, 6),
    (2, (2, 9, 9, 3), (5, 5, 1, 6), 1, 2, 2, 3),
    (2, (2, 6, 6, 8), (1, 1, 8, 3), 1, 0, 1, 1),
    (1, (2, 11, 3), (4, 3, 5), 2, 1, 2, 1),
    (3, (2, 5, 4, 6, 2), (3, 2, 3, 2, 3), (1, 2, 1), 1, 1, 1),
]


@pytest.mark.parametrize("nd,x_shape,W_shape,stride,padding,dilation,groups", CASES)
def test_conv_agrees_with_torch(nd, x_shape, W_shape, stride, padding, dilation, groups):
    x, W, b = rand(*x_shape), rand(*W_shape, seed=1), rand(W_shape[-1], seed=2)
    xm, Wm, bm = (Tensor(a, requires_grad=True) for a in (x, W, b))
    Z = [F.conv1d, F.conv2d, F.conv3d][nd - 1](xm, Wm, bm, stride, padding, dilation, groups)
    dZ = rand(*Z.shape, seed=3)
    Z.backward(dZ)

    xt, Wt = to_torch(x), w_to_torch(W, nd)
    bt = torch.from_numpy(b).requires_grad_()
    Zt = [tF.conv1d, tF.conv2d, tF.conv3d][nd - 1](xt, Wt, bt, stride, padding, dilation, groups)
    Zt.backward(torch.from_numpy(np.ascontiguousarray(np.moveaxis(dZ, -1, 1))))

    np.testing.assert_allclose(Z.numpy(), np.moveaxis(Zt.detach().numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(xm.grad, np.moveaxis(xt.grad.numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(Wm.grad, w_from_torch(Wt.grad.numpy(), nd), atol=1e-10)
    np.testing.assert_allclose(bm.grad, bt.grad.numpy(), atol=1e-10)


T_CASES = [  # nd, y_shape, W_shape (f…, out/g, in), stride, padding, output_padding, dilation, groups
    (2, (2, 4, 5, 6), (2, 2, 3, 6), 2, 0, 0, 1, 1),
    (2, (2, 4, 5, 4), (3, 3, 3, 4), 2, 1, 1, 1, 2),
    (2, (2, 5, 5, 3), (3, 3, 4, 3), 1, 1, 0, 2, 1),
    (1, (2, 6, 2), (4, 3, 2), 3, 1, 2, 1, 1),
    (3, (1, 3, 4, 3, 2), (2, 3, 2, 3, 2), (2, 1, 2), 0, (1, 0, 0), 1, 1),
]


@pytest.mark.parametrize("nd,y_shape,W_shape,stride,padding,output_padding,dilation,groups",
                         T_CASES)
def test_conv_transpose_agrees_with_torch(nd, y_shape, W_shape, stride, padding, output_padding,
                                          dilation, groups):
    y, W = rand(*y_shape), rand(*W_shape, seed=1)
    b = rand(W_shape[-2] * groups, seed=2)
    ym, Wm, bm = (Tensor(a, requires_grad=True) for a in (y, W, b))
    fn = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][nd - 1]
    out = fn(ym, Wm, bm, stride, padding, output_padding, dilation, groups)
    d_out = rand(*out.shape, seed=3)
    out.backward(d_out)

    yt, Wt = to_torch(y), wt_to_torch(W, nd)
    bt = torch.from_numpy(b).requires_grad_()
    tfn = [tF.conv_transpose1d, tF.conv_transpose2d, tF.conv_transpose3d][nd - 1]
    outt = tfn(yt, Wt, bt, stride, padding, output_padding, groups, dilation)
    outt.backward(torch.from_numpy(np.ascontiguousarray(np.moveaxis(d_out, -1, 1))))

    np.testing.assert_allclose(out.numpy(), np.moveaxis(outt.detach().numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(ym.grad, np.moveaxis(yt.grad.numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(Wm.grad, w_from_torch(Wt.grad.numpy(), nd), atol=1e-10)
    np.testing.assert_allclose(bm.grad, bt.grad.numpy(), atol=1e-10)
