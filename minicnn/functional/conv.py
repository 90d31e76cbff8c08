"""Convolutions, channels-last: conv1d/2d/3d and their adjoints conv_transpose1d/2d/3d.

Forward, in the course's notation (2-D; 1-D drops an axis, 3-D adds n_D):

    Z[i, h, w, c] = b[c] + Σ_{k_h, k_w, c'} a_prev_pad[i, h·s + k_h·d, w·s + k_w·d, c']
                                            · W[k_h, k_w, c', c]
                  = (im2col(a_prev) @ W)[i, h, w, c] + b[c]                    one GEMM

Backward, with dZ = ∂J/∂Z:

    db      = Σ_{i, h, w} dZ[i, h, w, :]
    dW      = im2col(a_prev)ᵀ @ dZ                                          one GEMM
    dA_prev = col2im(dZ @ Wᵀ) = conv_transpose(dZ, W)      the transposed convolution of dZ

With stride 1, conv_transpose(dZ, W) is also the "full" convolution of dZ (padded by
d(f − 1) − p) with W flipped in space and its two channel axes swapped, the textbook
formula; the engine takes whichever of the two moves less memory.

``conv_transpose(y, W)`` is the adjoint of ``conv(·, W)``,
⟨conv(x, W), y⟩ = ⟨x, conv_transpose(y, W)⟩ for every x and y, so it takes the *same* W, of
shape (f_H, f_W, n_C_out, n_C_in), and maps n_C_in channels back to n_C_out. Its forward is
the conv's dA_prev, and its backward the conv's forward (dy = conv(dOut, W)) and dW
(dW = im2col(dOut)ᵀ @ y).

Groups: with ``groups = g`` the channels split into g groups convolved separately (n_C_prev and
n_C divisible by g, W of shape (f_H, f_W, n_C_prev / g, n_C)): one GEMM per group.
``groups = n_C_prev`` is a *depthwise* convolution (MobileNet): each output channel sees one
input channel, and it runs as a sum over kernel offsets of shifted x ⊙ W[offset] (one einsum
over the windows view), no im2col.
A 1×1 stride-1 convolution is a plain matrix product, with no copy:
Z = a_prev.reshape(-1, n_C_prev) @ W.reshape(n_C_prev, n_C).

==============  ====================================  ===================================
array           conv2d                                conv1d / conv3d
==============  ====================================  ===================================
a_prev (x)      (m, n_H_prev, n_W_prev, n_C_prev)     (m, n_L, n_C) / (m, n_D, n_H, n_W, n_C)
W               (f_H, f_W, n_C_prev / groups, n_C)    (f, n_C_prev / g, n_C) / (f_D, f_H, f_W, …)
b               (n_C,) or None                        (n_C,) or None
Z               (m, n_H, n_W, n_C)                    (m, n_L', n_C) / (m, n_D', n_H', n_W', n_C)
==============  ====================================  ===================================

Output size per spatial axis (p_b, p_a: padding before/after, d: dilation):

    n = floor((n_prev + p_b + p_a − d·(f − 1) − 1) / s) + 1     (p_b = p_a = p, d = 1: the course)
    conv_transpose: n_out = (n_in − 1)·s − p_b − p_a + d·(f − 1) + output_padding + 1

``padding``: an int, a tuple (one int or (p_b, p_a) per axis), ``"valid"`` (0) or ``"same"``
(n = ceil(n_prev / s); an odd extra row/column of padding goes at the bottom/right, as in Keras;
for conv_transpose "same" gives n_out = n_in·s).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..autograd import Function, is_grad_enabled
from ._conv_engine import conv_gemm, conv_transpose_gemm, depthwise_backward, depthwise_forward
from ._reduce import add_bias, column_sum
from .im2col import (AXIS_NAMES, Windows, as_ints, col2im, conv_geometry,  # noqa: F401
                     im2col, resolve_padding)

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "im2col", "col2im", "conv_output_size"]

_KERNEL_NAMES = {1: "f", 2: "f_H, f_W", 3: "f_D, f_H, f_W"}
#: A conv whose whole column matrix takes at most this many bytes keeps it from the forward
#: pass for dW (one im2col instead of two; PyTorch's old THNN convolution kept its
#: ``finput`` the same way). Small layers only, so the memory a network holds between
#: forward and backward grows by at most this much per layer. 0 turns it off.
KEEP_COLS_BYTES = int(os.environ.get("MINICNN_KEEP_COLS_BYTES", 8 << 20))


def conv_output_size(n_prev, f, s=1, p=0, d=1):
    """n = floor((n_prev + 2p − d(f − 1) − 1) / s) + 1; ``p`` may be a (p_b, p_a) pair."""
    pb, pa = (p, p) if isinstance(p, (int, np.integer)) else p
    return (n_prev + pb + pa - d * (f - 1) - 1) // s + 1


# ---------------------------------------------------------------- checks
def _check(op, nd, x, W, b, groups, x_name="x", in_axis=-2):
    """Shapes, groups and dtypes of a conv (``in_axis`` = -2) or conv_transpose (-1) call."""
    names = ", ".join(AXIS_NAMES[nd])
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: {x_name} must have shape (m, {names}, n_C), rank {nd + 2}, "
                         f"got shape {tuple(x.shape)}")
    w_shape = ("(f…, n_C_prev // groups, n_C)" if in_axis == -2
               else "(f…, n_C_out // groups, n_C_in)").replace("f…", _KERNEL_NAMES[nd])
    if W.ndim != nd + 2:
        raise ValueError(f"{op}: W must have shape {w_shape}, rank {nd + 2}, "
                         f"got shape {tuple(W.shape)}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    n_in, n_C_other = x.shape[-1], W.shape[in_axis]
    n_out = W.shape[-1] if in_axis == -2 else W.shape[-2] * groups
    label = "n_C_prev" if in_axis == -2 else "n_C_in"
    if n_in % groups:
        raise ValueError(f"{op}: {label} = {n_in} channels of {x_name} are not divisible by "
                         f"groups = {groups}")
    if in_axis == -2:
        if n_out % groups:
            raise ValueError(f"{op}: n_C = {n_out} output channels (W.shape[-1]) are not "
                             f"divisible by groups = {groups}")
        if n_C_other != n_in // groups:
            raise ValueError(f"{op}: W must have shape {w_shape}: W.shape[-2] should be "
                             f"{n_in} // {groups} = {n_in // groups}, got W of shape "
                             f"{tuple(W.shape)} for {x_name} of shape {tuple(x.shape)}")
    elif n_C_other != n_in:
        raise ValueError(f"{op}: W must have shape {w_shape}: W.shape[-1] should be the "
                         f"{n_in} channels of {x_name}, got W of shape {tuple(W.shape)}")
    if b is not None and tuple(b.shape) != (n_out,):
        raise ValueError(f"{op}: b must have shape ({n_out},) (one bias per output channel), "
                         f"got shape {tuple(b.shape)}")
    for name, a in (("W", W), ("b", b)):
        if a is not None and a.dtype != x.dtype:
            raise TypeError(f"{op}: {x_name} has dtype {x.dtype} but {name} has dtype {a.dtype}; "
                            f"convert one, e.g. {x_name}.astype('{a.dtype}')")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{op}: expected floating-point arrays, got dtype {x.dtype}")


def transpose_geometry(n_y, kernel_size, stride, padding, output_padding, dilation, op):
    """The geometry of the conv that ``conv_transpose`` is the adjoint of: its input size
    n = (n_y − 1)·s − p_b − p_a + d·(f − 1) + output_padding + 1 (n_y·s for "same")."""
    nd = len(n_y)
    f = as_ints(kernel_size, nd, "kernel_size", op)
    s = as_ints(stride, nd, "stride", op)
    d = as_ints(dilation, nd, "dilation", op)
    op_pad = as_ints(output_padding, nd, "output_padding", op, minimum=0)
    if any(o >= s_ for o, s_ in zip(op_pad, s)):
        raise ValueError(f"{op}: output_padding must be smaller than stride, got "
                         f"output_padding={output_padding!r}, stride={stride!r}")
    if isinstance(padding, str) and padding.lower() == "same":
        if any(op_pad):
            raise ValueError(f"{op}: output_padding must be 0 with padding='same' (the output "
                             f"size is then n·s), got {output_padding!r}")
        n = tuple(n_ * s_ for n_, s_ in zip(n_y, s))
    else:
        pads = resolve_padding(padding, n_y, f, s, d, op)
        n = tuple((n_ - 1) * s_ - pb - pa + d_ * (f_ - 1) + o + 1
                  for n_, f_, s_, d_, (pb, pa), o in zip(n_y, f, s, d, pads, op_pad))
        for name, n_, (pb, pa) in zip(AXIS_NAMES[nd], n, pads):
            if n_ < 1:
                raise ValueError(f"{op}: padding {pb} + {pa} along {name} is larger than the "
                                 f"transposed convolution's output (size {n_ + pb + pa} before "
                                 "removing the padding)")
        padding = pads
    return conv_geometry(n, f, s, padding, d, op)


# ------------------------------------------------------------------- ops
class ConvNd(Function):
    """Z = conv(a_prev, W) + b: im2col + one GEMM (depthwise: multiply-add per offset).

    Forward:  Z = im2col(a_prev) @ W + b
    Backward: dA_prev = conv_transpose(dZ, W) = col2im(dZ @ Wᵀ),  dW = im2col(a_prev)ᵀ @ dZ,
              db = Σ dZ over (m, n_H, n_W).
    Only the gradients that are needed are computed: a frozen W costs no dW GEMM, and an
    input that needs no gradient (the pixels of a first layer) costs no dA_prev. A small
    im2col (at most ``KEEP_COLS_BYTES``) is kept from the forward pass for dW.
    """

    def __init__(self, nd, stride=1, padding=0, dilation=1, groups=1, op="conv2d"):
        self.nd, self.stride, self.padding, self.dilation = nd, stride, padding, dilation
        self.groups, self.op = groups, op

    def forward(self, x, W, b=None):
        _check(self.op, self.nd, x, W, b, self.groups)
        self.g = g = conv_geometry(x.shape[1:-1], W.shape[:self.nd], self.stride, self.padding,
                                   self.dilation, self.op)
        self.depthwise = self.groups == x.shape[-1] and self.groups > 1
        self.x, self.W, self.cols = x, W, None
        if self.depthwise:
            return depthwise_forward(x, W, g, b)
        if self._keep_cols(x, W):
            # Small columns are kept for dW: the backward then skips a second im2col.
            self.cols = Windows.of(x, g).take((slice(None),), fresh=True).reshape(
                -1, W[..., 0].size)
            Z = (self.cols @ W.reshape(self.cols.shape[1], -1)).reshape(
                (x.shape[0],) + g.n_out + W.shape[-1:])
        else:
            Z, _ = conv_gemm(x, W, g, self.groups)
        if b is not None:
            add_bias(Z, b)
        return Z

    def label(self) -> str:
        """``ConvNd 1×1``, ``ConvNd 3×3``, ``ConvNd 3×3 depthwise``…: its kind, for profiles."""
        g = getattr(self, "g", None)
        if g is None:                           # not run yet
            return "ConvNd"
        return f"ConvNd {'×'.join(map(str, g.f))}" + (" depthwise" if self.depthwise else "")

    def _keep_cols(self, x, W) -> bool:
        """Keep the column matrix for the backward: W needs a gradient, one group, columns
        that are copied (not 1×1) and take at most ``KEEP_COLS_BYTES``, on the CPU."""
        rows = x.shape[0] * math.prod(self.g.n_out)
        return (self.groups == 1 and not self.g.pointwise and isinstance(x, np.ndarray)
                and self.needs_input_grad[1] and is_grad_enabled()
                and rows * W[..., 0].size * x.itemsize <= KEEP_COLS_BYTES)

    def backward(self, dZ):
        need_x, need_W, need_b = self.needs_input_grad
        if self.depthwise:                      # db too, in the same pass over dZ
            return depthwise_backward(self.x, self.W, dZ, self.g, need_x, need_W, need_b)
        dx = dW = db = None
        if need_x:
            dx = conv_transpose_gemm(dZ, self.W, self.g, self.x.shape, self.groups)
        if need_W and self.cols is not None:
            dW = (self.cols.T @ dZ.reshape(-1, dZ.shape[-1])).reshape(self.W.shape)
            self.cols = None
        elif need_W:
            dW = conv_gemm(self.x, self.W, self.g, self.groups, want_Z=False, dZ=dZ)[1]
        if need_b:
            db = column_sum(dZ.reshape(-1, dZ.shape[-1]))
        return dx, dW, db


class ConvTransposeNd(Function):
    """out = conv_transpose(y, W) + b, the adjoint of conv(·, W): col2im(y @ Wᵀ) + b.

    Forward:  out = col2im(y @ Wᵀ) + b        (stride 1: a conv of the padded y with the
              kernel flipped in space, its channel axes swapped)
    Backward: dy = conv(dOut, W) = im2col(dOut) @ W,  dW = im2col(dOut)ᵀ @ y,
              db = Σ dOut over (m, n_H, n_W). dy and dW share one im2col.
    """

    def __init__(self, nd, stride=1, padding=0, output_padding=0, dilation=1, groups=1,
                 op="conv_transpose2d"):
        self.nd, self.stride, self.padding, self.dilation = nd, stride, padding, dilation
        self.output_padding, self.groups, self.op = output_padding, groups, op

    def forward(self, y, W, b=None):
        _check(self.op, self.nd, y, W, b, self.groups, x_name="y", in_axis=-1)
        self.g = transpose_geometry(y.shape[1:-1], W.shape[:self.nd], self.stride, self.padding,
                                    self.output_padding, self.dilation, self.op)
        out_shape = (y.shape[0],) + self.g.n_in + (W.shape[-2] * self.groups,)
        self.y, self.W = y, W
        out = conv_transpose_gemm(y, W, self.g, out_shape, self.groups)
        if b is not None:
            add_bias(out, b)
        return out

    def backward(self, dout):
        need_y, need_W, need_b = self.needs_input_grad
        dy = dW = db = None
        if need_y or need_W:
            dy, dW = conv_gemm(dout, self.W, self.g, self.groups, want_Z=need_y,
                               dZ=self.y if need_W else None)
        if need_b:
            db = column_sum(dout.reshape(-1, dout.shape[-1]))
        return dy, dW, db


# --------------------------------------------------------------- wrappers
def conv1d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution: Z[i, l, c] = b[c] + Σ_{k, c'} x_pad[i, l·s + k·d, c'] · W[k, c', c].

    Backward: dx = conv_transpose1d(dZ, W), dW = im2col(x)ᵀ @ dZ, db = Σ_{i,l} dZ.
    Shapes: x (m, n_L, n_C_prev), W (f, n_C_prev // groups, n_C), b (n_C,) or None,
    Z (m, n_L', n_C) with n_L' = floor((n_L + p_b + p_a − d(f − 1) − 1) / s) + 1.
    See the module docstring for padding, groups and the formulas in full.
    """
    return ConvNd(1, stride, padding, dilation, groups, "conv1d")(x, W, b)


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution, the course's conv_forward:

        Z[i, h, w, c] = b[c] + Σ_{k_h, k_w, c'} a_prev_pad[i, h·s + k_h·d, w·s + k_w·d, c']
                                                · W[k_h, k_w, c', c]

    Backward: dA_prev = conv_transpose2d(dZ, W) = col2im(dZ @ Wᵀ),
    dW = im2col(a_prev)ᵀ @ dZ, db = Σ_{i,h,w} dZ[i, h, w, :].

    ======  ====================================
    x       (m, n_H_prev, n_W_prev, n_C_prev)
    W       (f_H, f_W, n_C_prev // groups, n_C)
    b       (n_C,) or None
    Z       (m, n_H, n_W, n_C)
    ======  ====================================

    n_H = floor((n_H_prev + p_b + p_a − d(f_H − 1) − 1) / s) + 1, and likewise n_W.
    ``padding``: int, tuple, "valid" or "same" (Keras: odd extra at bottom/right);
    ``stride``, ``dilation``: int or (s_H, s_W); ``groups = n_C_prev`` is depthwise.
    """
    return ConvNd(2, stride, padding, dilation, groups, "conv2d")(x, W, b)


def conv3d(x, W, b=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution:
    Z[i, t, h, w, c] = b[c] + Σ_{k_D, k_H, k_W, c'} x_pad[i, t·s + k_D·d, h·s + k_H·d,
                                                         w·s + k_W·d, c'] · W[k_D, k_H, k_W, c', c].

    Backward: dx = conv_transpose3d(dZ, W), dW = im2col(x)ᵀ @ dZ, db = Σ_{i,t,h,w} dZ.
    Shapes: x (m, n_D, n_H, n_W, n_C_prev), W (f_D, f_H, f_W, n_C_prev // groups, n_C),
    b (n_C,) or None, Z (m, n_D', n_H', n_W', n_C), each
    n' = floor((n + p_b + p_a − d(f − 1) − 1) / s) + 1.
    """
    return ConvNd(3, stride, padding, dilation, groups, "conv3d")(x, W, b)


def conv_transpose1d(y, W, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """The adjoint of conv1d(·, W): out = col2im(y @ Wᵀ) + b.

    Backward: dy = conv1d(dOut, W), dW = im2col(dOut)ᵀ @ y, db = Σ dOut.
    Shapes: y (m, n_L, n_C_in), W (f, n_C_out // groups, n_C_in), b (n_C_out,) or None,
    out (m, n_L', n_C_out) with
    n_L' = (n_L − 1)·s − p_b − p_a + d(f − 1) + output_padding + 1 ("same": n_L·s).
    """
    return ConvTransposeNd(1, stride, padding, output_padding, dilation, groups,
                           "conv_transpose1d")(y, W, b)


def conv_transpose2d(y, W, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """The transposed convolution, the adjoint of conv2d(·, W) (U-Net's up-convolution):

        out = col2im(y @ Wᵀ) + b,  i.e.
        out_pad[i, h·s + k_h·d, w·s + k_w·d, c'] += Σ_c y[i, h, w, c] · W[k_h, k_w, c', c]

    and ⟨conv2d(x, W), y⟩ = ⟨x, conv_transpose2d(y, W)⟩ (b = None).
    Backward: dy = conv2d(dOut, W), dW = im2col(dOut)ᵀ @ y, db = Σ_{i,h,w} dOut.

    ======  ============================================
    y       (m, n_H, n_W, n_C_in)
    W       (f_H, f_W, n_C_out // groups, n_C_in)  (the conv's shape)
    b       (n_C_out,) or None
    out     (m, n_H', n_W', n_C_out)
    ======  ============================================

    n_H' = (n_H − 1)·s − p_b − p_a + d(f_H − 1) + output_padding + 1 (likewise n_W');
    "same" gives n_H' = n_H·s. output_padding (< stride) picks among the input sizes that
    the strided conv maps to the same n_H.
    """
    return ConvTransposeNd(2, stride, padding, output_padding, dilation, groups,
                           "conv_transpose2d")(y, W, b)


def conv_transpose3d(y, W, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """The adjoint of conv3d(·, W): out = col2im(y @ Wᵀ) + b.

    Backward: dy = conv3d(dOut, W), dW = im2col(dOut)ᵀ @ y, db = Σ dOut.
    Shapes: y (m, n_D, n_H, n_W, n_C_in), W (f_D, f_H, f_W, n_C_out // groups, n_C_in),
    b (n_C_out,) or None, out (m, n_D', n_H', n_W', n_C_out) with each
    n' = (n − 1)·s − p_b − p_a + d(f − 1) + output_padding + 1 ("same": n·s).
    """
    return ConvTransposeNd(3, stride, padding, output_padding, dilation, groups,
                           "conv_transpose3d")(y, W, b)
