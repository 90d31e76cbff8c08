"""im2col and col2im: the windows of a convolution as the rows of a matrix, and back.

A convolution slides an f_H × f_W window over the zero-padded input ``x_pad``. The
window of output position (h, w) of example i starts at (h·s_H, w·s_W) and reads
every d-th pixel (d is the dilation). **im2col** copies every window into one row:

    cols[i, h, w, k_h, k_w, c] = x_pad[i, h·s_H + k_h·d_H, w·s_W + k_w·d_W, c]

and then a convolution is a single matrix product (one GEMM)::

    Z = cols.reshape(m·n_H'·n_W', f_H·f_W·n_C_prev) @ W.reshape(f_H·f_W·n_C_prev, n_C)

**col2im** is the adjoint (the transpose) of im2col: every column entry is *added*
back to the pixel it was copied from, so a pixel that sits in several windows gets
the sum of its copies (accumulate, never overwrite)::

    dx_pad[i, h·s_H + k_h·d_H, w·s_W + k_w·d_W, c] += dcols[i, h, w, k_h, k_w, c]

and ⟨im2col(x), cols⟩ = ⟨x, col2im(cols)⟩ for any x and cols.

How it is computed on the CPU. The windows are a strided *view* of x_pad (the same
memory, read with other strides), so im2col is one copy of that view into a
contiguous buffer (with one input channel, where a window row is only f_W values, the
buffer is filled transposed instead: one copy of the shifted image per kernel offset).
col2im goes through the same view one kernel offset
(k_h, k_w) at a time: for a fixed offset the windows do not overlap, so
``view[..., k_h, k_w, :] += dcols[..., k_h, k_w, :]`` is exact. That is f_H·f_W
strided adds, never ``np.add.at`` and never a loop over output pixels. On a GPU
(CuPy) two small kernels do the same, one thread per output element.

===========  =========================================  ===============================
array        2-D shape                                  N-D (1-D: n_L; 3-D: n_D, n_H, n_W)
===========  =========================================  ===============================
x            (m, n_H, n_W, n_C)                         (m, n_1 … n_N, n_C)
cols         (m, n_H', n_W', f_H, f_W, n_C)             (m, n_1' … n_N', f_1 … f_N, n_C)
===========  =========================================  ===============================

Output size, per spatial axis, with p_b / p_a the padding before / after:

    n' = floor((n + p_b + p_a − d·(f − 1) − 1) / s) + 1

``padding`` is an int (p_b = p_a = p), a tuple with one int or one (p_b, p_a) pair
per spatial axis, ``"valid"`` (no padding) or ``"same"``: n' = ceil(n / s), with the
total padding max((n' − 1)·s + d·(f − 1) + 1 − n, 0) split as p_b = total // 2 and
p_a = the rest, so an odd extra row or column goes at the bottom / right, as in Keras.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from . import _workspace
from ._im2col_cuda import cuda_kernels as _cuda_kernels
from ._workspace import workspace

__all__ = ["im2col", "col2im"]

_workspace.tune_malloc()

AXIS_NAMES = {1: ("n_L",), 2: ("n_H", "n_W"), 3: ("n_D", "n_H", "n_W")}


# ------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Geometry:
    """Where the windows of a convolution sit: all that im2col and col2im need.

    Per spatial axis: input size ``n_in``, kernel ``f``, stride ``s``, dilation ``d``,
    padding ``pads`` = (p_b, p_a) and output size ``n_out``.
    """
    n_in: tuple
    f: tuple
    s: tuple
    d: tuple
    pads: tuple
    n_out: tuple

    @property
    def nd(self) -> int:
        return len(self.f)

    @property
    def n_padded(self) -> tuple:
        return tuple(n + pb + pa for n, (pb, pa) in zip(self.n_in, self.pads))

    @property
    def has_padding(self) -> bool:
        return any(pb or pa for pb, pa in self.pads)

    @property
    def pointwise(self) -> bool:
        """A 1×1, stride-1, unpadded conv: the windows are the pixels themselves."""
        return all(f == 1 for f in self.f) and all(s == 1 for s in self.s) and not self.has_padding


def as_ints(value, nd: int, name: str, op: str, minimum: int = 1) -> tuple:
    """``value`` (an int, or a tuple of ``nd`` ints) as a tuple of ``nd`` ints ≥ ``minimum``."""
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    if is_int(value):
        out = (int(value),) * nd
    elif isinstance(value, (tuple, list)) and len(value) == nd and all(map(is_int, value)):
        out = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {nd} ints "
                         f"(one per spatial axis {', '.join(AXIS_NAMES[nd])}), got {value!r}")
    if any(v < minimum for v in out):
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return out


def resolve_padding(padding, n_in, f, s, d, op: str) -> tuple:
    """``padding`` (int, tuple, "valid" or "same") as ((p_b, p_a), ...) per spatial axis."""
    nd = len(f)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * nd
        if mode == "same":
            pads = []
            for n, f_, s_, d_ in zip(n_in, f, s, d):
                n_out = -(-n // s_)                                  # ceil(n / s)
                total = max((n_out - 1) * s_ + d_ * (f_ - 1) + 1 - n, 0)
                pads.append((total // 2, total - total // 2))        # odd extra: bottom/right
            return tuple(pads)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', "
                         f"got {padding!r}")
    items = (padding,) * nd if isinstance(padding, (int, np.integer)) else padding
    pads = None
    if isinstance(items, (tuple, list)) and len(items) == nd and not isinstance(padding, bool):
        pads = []
        for p in items:
            if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
                pads.append((int(p), int(p)))
            elif (isinstance(p, (tuple, list)) and len(p) == 2
                  and all(isinstance(q, (int, np.integer)) for q in p)):
                pads.append((int(p[0]), int(p[1])))
            else:
                pads = None
                break
    if pads is None:
        raise ValueError(f"{op}: padding must be an int, a tuple of {nd} ints or (before, after) "
                         f"pairs, 'valid' or 'same', got {padding!r}")
    if any(q < 0 for pair in pads for q in pair):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return tuple(pads)


def conv_geometry(n_in, kernel_size, stride=1, padding=0, dilation=1, op="conv") -> Geometry:
    """Check the hyper-parameters of a convolution of spatial input size ``n_in``."""
    nd = len(n_in)
    f = as_ints(kernel_size, nd, "kernel_size", op)
    s = as_ints(stride, nd, "stride", op)
    d = as_ints(dilation, nd, "dilation", op)
    pads = resolve_padding(padding, n_in, f, s, d, op)
    n_out = []
    for name, n, f_, s_, d_, (pb, pa) in zip(AXIS_NAMES[nd], n_in, f, s, d, pads):
        span = d_ * (f_ - 1) + 1
        if n + pb + pa < span:
            raise ValueError(
                f"{op}: the kernel is larger than the padded input along {name}: a window "
                f"spans d·(f − 1) + 1 = {span} (f = {f_}, dilation = {d_}) but the input has "
                f"{n} + {pb} + {pa} = {n + pb + pa} after padding; use a smaller kernel or "
                "more padding")
        n_out.append((n + pb + pa - span) // s_ + 1)
    return Geometry(tuple(n_in), f, s, d, pads, tuple(n_out))


# ---------------------------------------------------------------- the windows
def window_view(a, g: Geometry):
    """The windows of the padded array ``a`` (m, *n_padded, n_C) as a strided view
    of shape (m, *n_out, *f, n_C): no copy, only strides."""
    xp = get_array_module(a)
    st = a.strides
    shape = (a.shape[0],) + g.n_out + g.f + (a.shape[-1],)
    strides = ((st[0],) + tuple(st[1 + i] * g.s[i] for i in range(g.nd))
               + tuple(st[1 + i] * g.d[i] for i in range(g.nd)) + (st[-1],))
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _grouped(view, groups: int, nd: int):
    """(m, *n_out, *f, n_C) → (m, *n_out, groups, *f, n_C // groups): a view.

    With this layout the columns of group j are the contiguous rows of ``cols[..., j, :]``.
    """
    xp = get_array_module(view)
    view = view.reshape(view.shape[:-1] + (groups, view.shape[-1] // groups))
    return xp.moveaxis(view, -2, 1 + nd)


def pad_into(x, pads, name: str):
    """x with zeros around it, in the workspace ``name`` (x itself when there is no padding)."""
    if not any(pb or pa for pb, pa in pads):
        return x
    xp = get_array_module(x)
    shape = (x.shape[0],) + tuple(n + pb + pa for n, (pb, pa) in zip(x.shape[1:-1], pads)) \
        + (x.shape[-1],)
    a = workspace(name, shape, x.dtype, xp)
    a[interior(pads, x.shape)] = x
    for axis, (pb, pa) in enumerate(pads, start=1):     # the borders: the buffer is reused
        border = [slice(None)] * a.ndim
        border[axis] = slice(0, pb)
        a[tuple(border)] = 0
        border[axis] = slice(a.shape[axis] - pa, None)
        a[tuple(border)] = 0
    return a


def interior(pads, shape):
    """The index of the unpadded part of a padded array of ``shape``'s examples."""
    return ((slice(None),) + tuple(slice(pb, pb + n) for (pb, _), n in zip(pads, shape[1:-1]))
            + (slice(None),))


def row_blocks(m: int, n_out, row_bytes: int, budget: int, split_rows: bool = True) -> list:
    """Blocks of output positions of about ``budget`` bytes (``row_bytes`` per position).

    A block is a tuple of slices: several whole examples ``(slice(i, i + mb),)``, or,
    when one example is already too big (and ``split_rows``), some rows of one example
    ``(slice(i, i + 1), slice(h, h + rows))``. Either way ``Z[block]`` is contiguous.
    """
    per_image = row_bytes * math.prod(n_out)
    if per_image <= budget or not split_rows:
        mb = max(1, budget // max(per_image, 1))
        return [(slice(i, i + mb),) for i in range(0, m, mb)]
    rows = max(1, budget // (per_image // n_out[0]))
    return [(slice(i, i + 1), slice(h, h + rows))
            for i in range(m) for h in range(0, n_out[0], rows)]


class Windows:
    """The windows of one convolution input, walked in blocks of rows.

    ``Windows.of(x, g, groups)`` reads windows: ``take(block)`` is im2col of a block.
    ``Windows.zeros(shape, ...)`` collects them: ``add(block, cols)`` is col2im of a
    block and ``result()`` the collected array. Columns use the grouped layout
    (rows…, groups, *f, n_C // groups); with groups = 1 that is the same memory as
    (rows…, *f, n_C).

    A block (see :func:`row_blocks`) covers whole examples or rows of one example. Only
    the block's examples are padded, into a workspace, so im2col's extra memory is
    about one block and the padded pixels are still in the cache when the windows are
    copied out of them.
    """

    def __init__(self, a, g: Geometry, groups: int, collect: bool):
        self.a, self.g, self.groups, self.collect = a, g, groups, collect
        self.shape = tuple(a.shape)
        self.xp = get_array_module(a)
        self.kernels = _cuda_kernels(self.xp)
        self.cols_shape = (a.shape[0],) + g.n_out + (groups,) + g.f + (a.shape[-1] // groups,)
        self._examples = self._padded = self._view = None

    @classmethod
    def of(cls, x, g: Geometry, groups: int = 1) -> "Windows":
        return cls(x, g, groups, collect=False)

    @classmethod
    def zeros(cls, shape, dtype, xp, g: Geometry, groups: int = 1) -> "Windows":
        return cls(xp.empty(shape, dtype), g, groups, collect=True)

    def blocks(self) -> list:
        if self.xp is not np or self.g.pointwise:
            return [(slice(None),)]
        row_bytes = math.prod(self.g.f) * self.shape[-1] * np.dtype(self.a.dtype).itemsize
        return row_blocks(self.shape[0], self.g.n_out, row_bytes, _workspace.BLOCK_BYTES)

    def _windows(self, block):
        """The windows of ``block``, a view into the padded copy of its examples."""
        examples = block[0]
        if examples != self._examples:
            self._flush()
            a = self.a[examples]
            if self.collect:                   # a zeroed canvas to accumulate into
                if self.g.has_padding:
                    shape = (a.shape[0],) + self.g.n_padded + (a.shape[-1],)
                    a = workspace("col2im", shape, a.dtype, self.xp)
                a[...] = 0
            else:
                a = pad_into(a, self.g.pads, "pad")
            self._examples, self._padded = examples, a
            self._view = _grouped(window_view(a, self.g), self.groups, self.g.nd)
        return self._view[(slice(None),) + tuple(block[1:])]

    def _flush(self):
        """Copy the collected examples, without their padding, into the result."""
        if self.collect and self._examples is not None and self.g.has_padding:
            self.a[self._examples] = self._padded[interior(self.g.pads, self.shape)]
        self._examples = None

    def take(self, block, out=None, fresh=False):
        """im2col of ``block``: its windows copied into ``out`` (default: a workspace, or a
        new array if ``fresh``)."""
        if self.g.pointwise and out is None and self.a.flags.c_contiguous:
            return self.a.reshape(self.cols_shape)[block]   # 1×1, stride 1: x itself, no copy
        if self.kernels is not None:
            out = self.xp.empty(self.cols_shape, self.a.dtype) if out is None else out
            self.kernels.im2col(self.xp.ascontiguousarray(self.a), self.g, self.groups, out)
            return out
        src = self._windows(block)
        if out is None and self._by_offset():
            return self._take_by_offset(src, fresh)
        if out is None:
            make = self.xp.empty if fresh else partial(workspace, "cols", xp=self.xp)
            out = make(src.shape, self.a.dtype)
        self.xp.copyto(out, src)
        return out

    def _by_offset(self) -> bool:
        """One input channel (grey images, most first layers) and outputs wider than the
        kernel: a window row is only f_W values, a short copy each, while one kernel
        offset of the whole block is rows of n_W' pixels."""
        return (self.xp is np and self.shape[-1] == 1 and self.g.s[-1] == 1
                and self.g.n_out[-1] > self.g.f[-1])

    def _take_by_offset(self, src, fresh):
        """The column matrix stored transposed, (prod(f), rows): for each kernel offset,
        the block's shifted pixels in one copy. Returned as a (rows…, 1, *f, 1) view of it,
        the same values as the usual layout (GEMMs take either order of memory)."""
        nd = self.g.nd
        rows_shape = src.shape[:1 + nd]
        K = math.prod(self.g.f)
        make = np.empty if fresh else partial(workspace, "cols")
        cols_T = make((K,) + rows_shape, self.a.dtype)
        lead = (slice(None),) * (1 + nd)
        for i, k in enumerate(itertools.product(*map(range, self.g.f))):
            np.copyto(cols_T[i], src[lead + (0,) + k + (0,)])
        return cols_T.reshape(K, -1).T.reshape(src.shape)

    def add(self, block, cols) -> None:
        """col2im of ``block``: add each column entry to the pixel it came from."""
        if self.kernels is not None:
            self.kernels.col2im(self.xp.ascontiguousarray(cols), self.g, self.groups, self.a)
            return
        target = self._windows(block)
        lead = (slice(None),) * (2 + self.g.nd)        # rows (m, *n_out) and groups
        for k in itertools.product(*map(range, self.g.f)):
            t = target[lead + k]        # for one kernel offset the windows don't overlap
            self.xp.add(t, cols[lead + k], out=t)

    def add_by_offset(self, block, cols_k) -> None:
        """col2im of ``block`` from columns stored offset-major: ``cols_k[k]`` (rows…,
        groups, n_C // groups) holds the block's entries for kernel offset k, contiguous.

        Each strided add then reads its source in one run, where the usual layout gives it
        runs of n_C // groups values (6 for LeNet's second conv), which NumPy walks slowly."""
        target = self._windows(block)
        lead = (slice(None),) * (2 + self.g.nd)
        for i, k in enumerate(itertools.product(*map(range, self.g.f))):
            t = target[lead + k]
            self.xp.add(t, cols_k[i].reshape(t.shape), out=t)

    def result(self):
        """The collected array (a fresh array, not a workspace)."""
        self._flush()
        return self.a


def im2col_array(x, g: Geometry):
    """cols (m, *n_out, *f, n_C) of the raw array x (m, *n_in, n_C)."""
    xp = get_array_module(x)
    win = Windows.of(x, g)
    out = xp.empty(win.cols_shape, x.dtype)
    win.take((slice(None),), out=out)
    return out.reshape((x.shape[0],) + g.n_out + g.f + (x.shape[-1],))


def col2im_array(cols, x_shape, g: Geometry):
    """The adjoint of :func:`im2col_array`: dx (x_shape) with every column entry added back."""
    xp = get_array_module(cols)
    win = Windows.zeros(x_shape, cols.dtype, xp, g)
    win.add((slice(None),), cols.reshape(win.cols_shape))
    return win.result()


# ------------------------------------------------------------- public ops
def _spatial_rank(x_shape, op: str) -> int:
    nd = len(x_shape) - 2
    if nd not in AXIS_NAMES:
        raise ValueError(f"{op}: x must have shape (m, n_L, n_C), (m, n_H, n_W, n_C) or "
                         f"(m, n_D, n_H, n_W, n_C), got shape {tuple(x_shape)}")
    return nd


class Im2Col(Function):
    """cols = im2col(x): every window of x copied into a row (see the module docstring).

    Backward: ∂J/∂x = col2im(∂J/∂cols), the adjoint.
    """

    def __init__(self, kernel_size, stride=1, padding=0, dilation=1):
        self.hyper = (kernel_size, stride, padding, dilation)

    def forward(self, x):
        _spatial_rank(x.shape, "im2col")
        self.g = conv_geometry(x.shape[1:-1], *self.hyper, op="im2col")
        self.x_shape = x.shape
        return im2col_array(x, self.g)

    def backward(self, dcols):
        return col2im_array(dcols, self.x_shape, self.g)


class Col2Im(Function):
    """x = col2im(cols): each column entry added back to its pixel (the adjoint of im2col).

    Backward: ∂J/∂cols = im2col(∂J/∂x).
    """

    def __init__(self, input_shape, kernel_size, stride=1, padding=0, dilation=1):
        self.x_shape = tuple(int(n) for n in input_shape)
        self.hyper = (kernel_size, stride, padding, dilation)

    def forward(self, cols):
        _spatial_rank(self.x_shape, "col2im")
        self.g = g = conv_geometry(self.x_shape[1:-1], *self.hyper, op="col2im")
        expected = (self.x_shape[0],) + g.n_out + g.f + (self.x_shape[-1],)
        if tuple(cols.shape) != expected:
            raise ValueError(f"col2im: cols must have shape (m, *n_out, *f, n_C) = {expected} for "
                             f"input_shape {self.x_shape}, got shape {tuple(cols.shape)}")
        return col2im_array(cols, self.x_shape, g)

    def backward(self, dx):
        return im2col_array(dx, self.g)


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """The windows of x as rows: cols[i, o…, k…, c] = x_pad[i, o·s + k·d, c].

    Backward: ∂J/∂x = col2im(∂J/∂cols).

    ======  ==============================================  =======================
    x       (m, n_1 … n_N, n_C)   N = 1, 2 or 3 spatial axes  e.g. (m, n_H, n_W, n_C)
    cols    (m, n_1' … n_N', f_1 … f_N, n_C)                 (m, n_H', n_W', f_H, f_W, n_C)
    ======  ==============================================  =======================

    n' = floor((n + p_b + p_a − d(f − 1) − 1) / s) + 1 per axis; ``padding`` is an int, a
    tuple, "valid" or "same". ``cols.reshape(-1, prod(f)·n_C) @ W.reshape(-1, n_C')`` is
    the convolution of x with W (f…, n_C, n_C').
    """
    return Im2Col(kernel_size, stride, padding, dilation)(x)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The adjoint of im2col: x[i, p…, c] = Σ over the (o, k) with o·s + k·d − p_b = p of cols[i, o…, k…, c].

    Every entry of cols is added to the pixel its window read it from (a pixel in
    several windows gets the sum; pixels in none get 0), so that
    ⟨im2col(x), cols⟩ = ⟨x, col2im(cols)⟩. Backward: ∂J/∂cols = im2col(∂J/∂x).

    Shapes: cols (m, n_1' … n_N', f_1 … f_N, n_C) → x ``input_shape`` = (m, n_1 … n_N, n_C),
    with n' = floor((n + p_b + p_a − d(f − 1) − 1) / s) + 1 as for :func:`im2col`.
    """
    return Col2Im(input_shape, kernel_size, stride, padding, dilation)(cols)
