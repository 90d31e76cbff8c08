"""im2col and col2im as CuPy kernels: the only GPU-specific code of the convolutions.

On the GPU, copying a strided view (as the CPU code does) launches one kernel per
slice and reads memory in scattered order; instead each of these kernels gives one
thread to each output element:

- **im2col**, a gather: the thread for cols[i, o…, j, k…, c] reads
  x[i, o·s + k·d − p_b, j·C_g + c] (0 when that falls in the padding).
- **col2im**, a gather too: the thread for dx[i, p…, c] sums the column entries
  that were copied from pixel p, i.e. those with o·s + k·d − p_b = p, so no two
  threads write the same element and no atomics are needed.

Columns use the grouped layout (m, *n_out, groups, *f, n_C // groups) of
:class:`~minicnn.functional.im2col.Windows`. 1-D and 2-D geometries run as 3-D ones
with leading axes of size 1. NumPy and the CPU stand-in for the GPU have no
``ElementwiseKernel``: :func:`cuda_kernels` returns None for them and the strided-view
code runs instead.
"""
from __future__ import annotations

import numpy as np

_IM2COL_CUDA = r"""
    const int c = i % Cg;  ptrdiff_t r = i / Cg;
    const int kw = r % fW;  r /= fW;
    const int kh = r % fH;  r /= fH;
    const int kd = r % fD;  r /= fD;
    const int gi = r % G;   r /= G;
    const int ow = r % oW;  r /= oW;
    const int oh = r % oH;  r /= oH;
    const int od = r % oD;  const ptrdiff_t n = r / oD;
    const int zd = od * sD - pD + kd * dD;
    const int zh = oh * sH - pH + kh * dH;
    const int zw = ow * sW - pW + kw * dW;
    if (zd < 0 || zd >= nD || zh < 0 || zh >= nH || zw < 0 || zw >= nW) {
        col = 0;
    } else {
        col = x[(((n * nD + zd) * nH + zh) * nW + zw) * (G * Cg) + gi * Cg + c];
    }
"""

_COL2IM_CUDA = r"""
    const int C = G * Cg;
    const int gi = (i % C) / Cg, c = (i % C) % Cg;  ptrdiff_t r = i / C;
    const int zw = r % nW;  r /= nW;
    const int zh = r % nH;  r /= nH;
    const int zd = r % nD;  const ptrdiff_t n = r / nD;
    T acc = 0;
    for (int kd = 0; kd < fD; ++kd) {
        const int td = zd + pD - kd * dD;
        if (td < 0 || td % sD != 0 || td / sD >= oD) continue;
        for (int kh = 0; kh < fH; ++kh) {
            const int th = zh + pH - kh * dH;
            if (th < 0 || th % sH != 0 || th / sH >= oH) continue;
            for (int kw = 0; kw < fW; ++kw) {
                const int tw = zw + pW - kw * dW;
                if (tw < 0 || tw % sW != 0 || tw / sW >= oW) continue;
                acc += cols[(((((((n * oD + td / sD) * oH + th / sH) * oW + tw / sW) * G + gi)
                              * fD + kd) * fH + kh) * fW + kw) * Cg + c];
            }
        }
    }
    dx = acc;
"""

_PARAMS = ("int32 nD, int32 nH, int32 nW, int32 oD, int32 oH, int32 oW, int32 fD, int32 fH, "
           "int32 fW, int32 sD, int32 sH, int32 sW, int32 pD, int32 pH, int32 pW, int32 dD, "
           "int32 dH, int32 dW, int32 G, int32 Cg")


class _CudaKernels:
    """im2col (a gather) and col2im (a gather too: each pixel sums the column entries
    that came from it, so no atomics) as CuPy elementwise kernels. 1-D and 2-D
    geometries run as 3-D ones with leading axes of size 1."""

    def __init__(self, xp):
        self._im2col = xp.ElementwiseKernel("raw T x, " + _PARAMS, "T col", _IM2COL_CUDA,
                                            "minicnn_im2col")
        self._col2im = xp.ElementwiseKernel("raw T cols, " + _PARAMS, "T dx", _COL2IM_CUDA,
                                            "minicnn_col2im")

    @staticmethod
    def _args(g, channels: int, groups: int):
        lift = (1,) * (3 - g.nd)
        zero = (0,) * (3 - g.nd)
        return ((*lift, *g.n_in) + (*lift, *g.n_out) + (*lift, *g.f) + (*lift, *g.s)
                + (*zero, *(pb for pb, _ in g.pads)) + (*lift, *g.d) + (groups, channels // groups))

    def im2col(self, x, g, groups: int, out):
        self._im2col(x, *self._args(g, x.shape[-1], groups), out)

    def col2im(self, cols, g, groups: int, out):
        self._col2im(cols, *self._args(g, out.shape[-1], groups), out)


_KERNELS = {}


def cuda_kernels(xp):
    """The kernels for a real CuPy module; None for NumPy and for the CPU stand-in
    (which has no ElementwiseKernel: it runs the strided-view code, like the CPU)."""
    if xp is np or not hasattr(xp, "ElementwiseKernel"):
        return None
    if xp not in _KERNELS:
        _KERNELS[xp] = _CudaKernels(xp)
    return _KERNELS[xp]
