# %% [markdown]
# # Convolution, step by step
#
# The course's first convolutional-networks assignment, done with minicnn: zero padding,
# one step of convolution, the convolution and pooling layers forward and backward. Then a
# look inside the fast version (im2col + one matrix product), the options of
# `minicnn.functional.conv2d` (stride, `"same"` padding, dilation, groups), a gradient
# check, and an edge filter on a photograph.
#
# Three versions of the same functions sit side by side:
#
# | module | what it is |
# |---|---|
# | `minicnn.course` | the assignment's functions with the assignment's signatures, NumPy in and out, built on the framework's ops |
# | `minicnn.course.loops` | the same functions written with explicit loops, one window at a time: the reference |
# | `minicnn.functional` | the vectorised ops (`conv2d`, `max_pool2d`, ...) that train the networks, on `Tensor`s |
#
# **Notation.** A batch of activations is channels-last, `(m, n_H, n_W, n_C)`: m examples,
# each n_H × n_W pixels with n_C channels. The layer's input is `A_prev`
# `(m, n_H_prev, n_W_prev, n_C_prev)`; its filters `W` are `(f, f, n_C_prev, n_C)`, one
# f × f × n_C_prev filter per output channel, and `b` holds one bias per filter. The
# hyper-parameters are the stride s and the padding p.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt

import minicnn
import minicnn.functional as F
from minicnn import Tensor, course
from minicnn.course import loops

np.set_printoptions(precision=5, suppress=True)

# %% [markdown]
# ## 1. Zero padding
#
# Padding surrounds every image with p rows and columns of zeros:
# `(m, n_H, n_W, n_C)` → `(m, n_H + 2p, n_W + 2p, n_C)`. It lets a convolution keep the
# height and width of its input (a "same" convolution) and lets the border pixels take part
# in as many windows as the ones in the middle.

# %%
np.random.seed(1)
x = np.random.randn(4, 3, 3, 2)
x_pad = course.zero_pad(x, 3)
print("x.shape =", x.shape, "   x_pad.shape =", x_pad.shape)
print("x[1, 1] =\n", x[1, 1])
print("x_pad[1, 1] =\n", x_pad[1, 1])
assert np.array_equal(x_pad, loops.zero_pad(x, 3))

fig, axes = plt.subplots(1, 2, figsize=(6, 3))
axes[0].set_title("x")
axes[0].imshow(x[0, :, :, 0])
axes[1].set_title("x_pad")
axes[1].imshow(x_pad[0, :, :, 0])
plt.show()

# %% [markdown]
# ## 2. One step of convolution
#
# One filter on one window of the input gives one number:
#
# $$Z = \sum_{a, b', k} a\_slice\_prev[a, b', k] \cdot W[a, b', k] + b$$
#
# `a_slice_prev` and `W` are both `(f, f, n_C_prev)`.

# %%
np.random.seed(1)
a_slice_prev = np.random.randn(4, 4, 3)
W = np.random.randn(4, 4, 3)
b = np.random.randn(1, 1, 1)

Z = course.conv_single_step(a_slice_prev, W, b)
print("Z =", Z)                        # the assignment expects -6.99908945068
assert np.isclose(Z, loops.conv_single_step(a_slice_prev, W, b))

# %% [markdown]
# ## 3. The convolution layer, forward
#
# Every filter c slides over the padded input with stride s; at output position (h, w) it
# takes one step of convolution on the window that starts at (h·s, w·s):
#
# $$Z[i, h, w, c] = \sum_{a, b', k} A\_prev\_pad[i,\ h s + a,\ w s + b',\ k]\; W[a, b', k, c] + b[c]$$
#
# **Output size.** A window fits at ⌊(n_H_prev + 2p − f) / s⌋ + 1 vertical positions:
#
# $$n_H = \left\lfloor \frac{n_{H,prev} + 2p - f}{s} \right\rfloor + 1, \qquad
#   n_W = \left\lfloor \frac{n_{W,prev} + 2p - f}{s} \right\rfloor + 1, \qquad n_C = \text{number of filters}$$
#
# With a dilation d (section 8) the window spans d(f − 1) + 1 pixels, and the general formula
# is ⌊(n_prev + 2p − d(f − 1) − 1) / s⌋ + 1, which is the one above for d = 1.
# `minicnn.functional.conv_output_size(n_prev, f, s, p, d)` computes it.

# %%
for n_prev, f, s, p in [(5, 3, 2, 1), (7, 3, 2, 1), (32, 5, 1, 0), (28, 5, 1, 2),
                        (64, 3, 1, 1), (224, 7, 2, 3)]:
    n = (n_prev + 2 * p - f) // s + 1
    assert n == F.conv_output_size(n_prev, f, s, p)
    print(f"n_prev = {n_prev:3d}, f = {f}, s = {s}, p = {p}:  "
          f"n = ({n_prev} + {2 * p} - {f}) // {s} + 1 = {n}")

# %% [markdown]
# The assignment's example: 2 images of 5 × 7 × 4, 8 filters of 3 × 3, p = 1, s = 2, so
# n_H = ⌊(5 + 2 − 3) / 2⌋ + 1 = 3 and n_W = ⌊(7 + 2 − 3) / 2⌋ + 1 = 4.
# The assignment expects a mean of 0.5511276474566768 and
# `Z[0, 2, 1] = [-2.17796037, 8.07171329, -0.5772704, 3.36286738, 4.48113645, -2.89198428, 10.99288867, 3.03171932]`.

# %%
np.random.seed(1)
A_prev = np.random.randn(2, 5, 7, 4)
W = np.random.randn(3, 3, 4, 8)
b = np.random.randn(1, 1, 1, 8)
hparameters = {"pad": 1, "stride": 2}

Z, cache_conv = course.conv_forward(A_prev, W, b, hparameters)
Z_loops, _ = loops.conv_forward(A_prev, W, b, hparameters)
print("Z.shape =", Z.shape)
print("Z's mean =", Z.mean())
print("Z[0, 2, 1] =", Z[0, 2, 1])
print("largest difference from the loops:", np.abs(Z - Z_loops).max())
assert np.allclose(Z, Z_loops)

# %% [markdown]
# ## 4. The pooling layer, forward
#
# Pooling has no parameters: it slides an f × f window with stride s over each channel
# separately and keeps the maximum (max pooling) or the mean (average pooling) of the window.
# There is no padding, so
#
# $$n_H = \left\lfloor \frac{n_{H,prev} - f}{s} \right\rfloor + 1, \qquad
#   n_W = \left\lfloor \frac{n_{W,prev} - f}{s} \right\rfloor + 1, \qquad n_C = n_{C,prev}$$

# %%
np.random.seed(1)
A_prev = np.random.randn(2, 5, 5, 3)
for hparameters in ({"stride": 1, "f": 3}, {"stride": 2, "f": 3}):
    for mode in ("max", "average"):
        A, cache_pool = course.pool_forward(A_prev, hparameters, mode=mode)
        A_loops, _ = loops.pool_forward(A_prev, hparameters, mode=mode)
        assert np.allclose(A, A_loops)
        print(f"{mode:7s} pooling, f = {hparameters['f']}, s = {hparameters['stride']}: "
              f"A.shape = {A.shape}, A[1, 1, 1] = {A[1, 1, 1]}")

# %% [markdown]
# ## 5. The convolution layer, backward
#
# Given dZ = ∂J/∂Z, every output cell Z[i, h, w, c] sends its gradient back to the window it
# was computed from (a_slice is that window of `A_prev_pad[i]`):
#
# $$dA\_prev\_pad[i, \text{window}(h, w)] \mathrel{+}= W[:, :, :, c] \cdot dZ[i, h, w, c]$$
# $$dW[:, :, :, c] \mathrel{+}= a\_slice \cdot dZ[i, h, w, c]$$
# $$db[c] = \sum_{i, h, w} dZ[i, h, w, c]$$
#
# and dA_prev is dA_prev_pad without its padding. `course.conv_backward` runs
# `F.conv2d` forward on tensors that require gradients and calls `Z.backward(dZ)`: the same
# code that trains the networks. The assignment passes Z itself as dZ and expects
# `dA_mean = 1.45243777754`, `dW_mean = 1.72699145831`, `db_mean = 7.83923256462`.

# %%
np.random.seed(1)
A_prev = np.random.randn(10, 4, 4, 3)
W = np.random.randn(2, 2, 3, 8)
b = np.random.randn(1, 1, 1, 8)
hparameters = {"pad": 2, "stride": 2}
Z, cache_conv = course.conv_forward(A_prev, W, b, hparameters)

dA, dW, db = course.conv_backward(Z, cache_conv)
dA_loops, dW_loops, db_loops = loops.conv_backward(Z, cache_conv)
print("dA_mean =", np.mean(dA))
print("dW_mean =", np.mean(dW))
print("db_mean =", np.mean(db))
assert np.allclose(dA, dA_loops) and np.allclose(dW, dW_loops) and np.allclose(db, db_loops)

# %% [markdown]
# ## 6. The pooling layer, backward
#
# **Max pooling.** Only the largest value of a window reached the output, so the whole
# gradient of that output goes to it: the window's *mask* is 1 at the maximum and 0
# elsewhere (`create_mask_from_window`), and dA_prev[window] += mask · dA[i, h, w, c].
#
# **Average pooling.** Every cell of the window counted for 1/f² of the output, so each
# gets dA[i, h, w, c] / f² (`distribute_value`).

# %%
np.random.seed(1)
x = np.random.randn(2, 3)
print("x =\n", x)
print("mask =\n", course.create_mask_from_window(x))
print("distribute_value(2, (2, 2)) =\n", course.distribute_value(2, (2, 2)))

# %% [markdown]
# The assignment's example: with max pooling it expects
# `dA_prev[1, 1] = [[0, 0], [5.05844394, -1.68282702], [0, 0]]`; with average pooling
# `[[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]]`.

# %%
np.random.seed(1)
A_prev = np.random.randn(5, 5, 3, 2)
hparameters = {"stride": 1, "f": 2}
A, cache = course.pool_forward(A_prev, hparameters)
dA = np.random.randn(5, 4, 2, 2)

for mode in ("max", "average"):
    dA_prev = course.pool_backward(dA, cache, mode=mode)
    assert np.allclose(dA_prev, loops.pool_backward(dA, cache, mode=mode))
    print(f"mode = {mode}: dA_prev[1, 1] =\n{dA_prev[1, 1]}")

# %% [markdown]
# ## 7. Inside the fast convolution: im2col and one matrix product
#
# The loops call `conv_single_step` m · n_H · n_W · n_C times. `minicnn.functional.conv2d`
# reorganises the same arithmetic. **im2col** copies the window of every output position
# into one row:
#
# $$cols[i, h, w, a, b', k] = A\_prev\_pad[i,\ h s + a,\ w s + b',\ k]$$
#
# so `cols` is `(m, n_H, n_W, f, f, n_C_prev)`. Seen as a matrix with m · n_H · n_W rows and
# f · f · n_C_prev columns, times W seen as `(f · f · n_C_prev, n_C)`, it gives all of Z in
# **one matrix product** (a GEMM), which the BLAS library runs close to the processor's peak:
#
# $$Z = cols \; W + b \qquad (m n_H n_W \times f f n_{C,prev}) \cdot (f f n_{C,prev} \times n_C)$$
#
# Here are the windows of a 4 × 4 image with f = 3, s = 1: four windows, four rows.

# %%
x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)       # m = 1, 4 × 4, n_C = 1
cols = F.im2col(Tensor(x), kernel_size=3, stride=1).numpy()
print("the image:\n", x[0, :, :, 0])
print("cols.shape =", cols.shape, "= (m, n_H, n_W, f, f, n_C_prev)")
for h in range(2):
    for w in range(2):
        print(f"window (h = {h}, w = {w}) -> row {cols[0, h, w].reshape(-1)}")

# %% [markdown]
# The assignment's convolution of section 3, as im2col + one GEMM, against `F.conv2d` and
# the loops:

# %%
np.random.seed(1)
A_prev = np.random.randn(2, 5, 7, 4)
W = np.random.randn(3, 3, 4, 8)
b = np.random.randn(8)
f, s, p = 3, 2, 1

cols = F.im2col(Tensor(A_prev), kernel_size=f, stride=s, padding=p).numpy()
m, n_H, n_W = cols.shape[:3]
n_C_prev, n_C = W.shape[2], W.shape[3]
cols_matrix = cols.reshape(m * n_H * n_W, f * f * n_C_prev)
W_matrix = W.reshape(f * f * n_C_prev, n_C)
Z_gemm = (cols_matrix @ W_matrix + b).reshape(m, n_H, n_W, n_C)
print(f"cols {cols_matrix.shape} @ W {W_matrix.shape} -> {(m * n_H * n_W, n_C)} -> Z {Z_gemm.shape}")

Z_conv = F.conv2d(Tensor(A_prev), Tensor(W), Tensor(b), stride=s, padding=p).numpy()
Z_loops, _ = loops.conv_forward(A_prev, W, b.reshape(1, 1, 1, n_C), {"pad": p, "stride": s})
assert np.allclose(Z_gemm, Z_conv) and np.allclose(Z_conv, Z_loops)
print(f"cols holds {cols.size} numbers for an input of {A_prev.size}: the windows overlap, "
      f"so a pixel is copied once per window it lies in (up to f·f = {f * f} times when s = 1)")

# %% [markdown]
# **Backward.** The same matrices give the gradients: dW = colsᵀ · dZ (one GEMM) and
# dA_prev = col2im(dZ · Wᵀ), where **col2im** is the adjoint of im2col: it *adds* every
# entry of a column back to the pixel it was copied from (a pixel in several windows
# receives the sum). Adjoint means ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for every x and c:

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 5, 7, 4))
c = rng.standard_normal(cols.shape)
lhs = np.sum(F.im2col(Tensor(x), f, stride=s, padding=p).numpy() * c)
rhs = np.sum(x * F.col2im(Tensor(c), x.shape, f, stride=s, padding=p).numpy())
print(f"<im2col(x), c> = {lhs:.10f}\n<x, col2im(c)> = {rhs:.10f}")
assert np.isclose(lhs, rhs)

# %% [markdown]
# What the reorganisation buys, on a small batch (the loops make n_H · n_W · n_C calls per
# image; timings vary with the machine and its load):

# %%
np.random.seed(0)
A_prev = np.random.randn(4, 16, 16, 3)
W = np.random.randn(3, 3, 3, 8)
b = np.random.randn(1, 1, 1, 8)

start = time.perf_counter()
Z_loops, _ = loops.conv_forward(A_prev, W, b, {"pad": 1, "stride": 1})
t_loops = time.perf_counter() - start
start = time.perf_counter()
Z_fast = F.conv2d(Tensor(A_prev), Tensor(W), Tensor(b.reshape(-1)), padding=1).numpy()
t_fast = time.perf_counter() - start
assert np.allclose(Z_loops, Z_fast)
print(f"loops: {1e3 * t_loops:.1f} ms   im2col + GEMM: {1e3 * t_fast:.2f} ms   "
      f"({t_loops / t_fast:.0f}× faster)")

# %% [markdown]
# ## 8. `F.conv2d`: stride, "same" padding, dilation, groups
#
# | argument | effect | output size / kernel shape |
# |---|---|---|
# | `stride=s` | the window moves s pixels at a time | n = ⌊(n_prev + 2p − f) / s⌋ + 1 |
# | `padding=p` | p zeros on every side (a tuple gives one per axis, or (before, after) pairs) | as above |
# | `padding="valid"` | no padding | p = 0 |
# | `padding="same"` | just enough padding for n = ⌈n_prev / s⌉ | total P = max((n − 1)s + d(f − 1) + 1 − n_prev, 0): ⌊P/2⌋ on top/left, the rest (one more when P is odd) on the bottom/right, as Keras does |
# | `dilation=d` | the window reads every d-th pixel: an f × f kernel covers d(f − 1) + 1 pixels | n = ⌊(n_prev + 2p − d(f − 1) − 1) / s⌋ + 1 |
# | `groups=g` | the channels split into g groups convolved separately | W is `(f, f, n_C_prev / g, n_C)` |
# | `groups=n_C_prev` | *depthwise*: each filter sees one input channel (MobileNet) | W is `(f, f, 1, n_C)` |
#
# `F.conv2d(x, W, b)` takes `b` of shape `(n_C,)`, or `None`.

# %%
rng = np.random.default_rng(0)
x = Tensor(rng.standard_normal((2, 9, 9, 4)))            # m = 2, n_H = n_W = 9, n_C_prev = 4
W = Tensor(rng.standard_normal((3, 3, 4, 8)))            # f = 3, n_C = 8
W_groups = Tensor(rng.standard_normal((3, 3, 2, 8)))     # groups = 2: each filter sees 4 / 2 channels
W_depthwise = Tensor(rng.standard_normal((3, 3, 1, 4)))  # groups = n_C_prev = 4

print("stride 2           ", F.conv2d(x, W, stride=2).shape)                    # (9 − 3) // 2 + 1 = 4
print("padding 'same'     ", F.conv2d(x, W, padding="same").shape)              # 9
print("stride 2, 'same'   ", F.conv2d(x, W, stride=2, padding="same").shape)    # ⌈9 / 2⌉ = 5
print("dilation 2         ", F.conv2d(x, W, dilation=2).shape)                  # 9 − 2·2 − 1 + 1 = 5
print("groups 2           ", F.conv2d(x, W_groups, groups=2).shape)
print("depthwise, 'same'  ", F.conv2d(x, W_depthwise, groups=4, padding="same").shape)

# %% [markdown]
# Each option is a plain convolution in disguise, which is how the tests check them:
#
# - `"same"` with an 8-pixel input, f = 3, s = 2: n = 4, P = 3·2 + 3 − 8 = 1, so no row on
#   top and one at the bottom;
# - dilation 2 is a 5 × 5 kernel with zeros between the taps;
# - two groups are two convolutions on the two halves of the channels, side by side.

# %%
x8 = rng.standard_normal((2, 8, 8, 4))
Z_same = F.conv2d(Tensor(x8), W, stride=2, padding="same").numpy()
x8_pad = np.pad(x8, ((0, 0), (0, 1), (0, 1), (0, 0)))           # P = 1: the extra at bottom/right
Z_ref, _ = loops.conv_forward(x8_pad, W.numpy(), np.zeros((1, 1, 1, 8)), {"pad": 0, "stride": 2})
assert np.allclose(Z_same, Z_ref)

W_dilated = np.zeros((5, 5, 4, 8))
W_dilated[::2, ::2] = W.numpy()                                   # zeros between the taps
assert np.allclose(F.conv2d(x, W, dilation=2).numpy(), F.conv2d(x, Tensor(W_dilated)).numpy())

halves = [F.conv2d(Tensor(x.numpy()[..., 2 * g:2 * g + 2]), Tensor(W_groups.numpy()[..., 4 * g:4 * g + 4]))
          for g in range(2)]
assert np.allclose(F.conv2d(x, W_groups, groups=2).numpy(),
                   np.concatenate([h.numpy() for h in halves], axis=-1))
print("'same', dilation and groups agree with the plain convolutions")

# %% [markdown]
# ## 9. Checking gradients numerically: `minicnn.gradcheck`
#
# `gradcheck(fn, *tensors)` compares the backward pass with central finite differences. It
# draws a random v of the output's shape, looks at the scalar L = Σ v ⊙ fn(x), and for every
# element j of every input that requires a gradient compares ∂L/∂x[j] from `backward` with
#
# $$\frac{L(x + \varepsilon e_j) - L(x - \varepsilon e_j)}{2\varepsilon}$$
#
# whose error is of order ε². It raises `GradcheckError` with the worst index when
# |analytic − numeric| > atol + rtol · |numeric|. Inputs must be **float64**: in float32 the
# rounding error of L, divided by 2ε, is as large as the gradient itself.

# %%
rng = np.random.default_rng(1)
x = Tensor(rng.standard_normal((2, 6, 5, 4)), requires_grad=True)
W = Tensor(rng.standard_normal((3, 3, 2, 6)), requires_grad=True)
b = Tensor(rng.standard_normal(6), requires_grad=True)

checks = {
    "stride 2, 'same', groups 2": lambda x, W, b: F.conv2d(x, W, b, stride=2, padding="same", groups=2),
    "dilation 2, padding 1, groups 2": lambda x, W, b: F.conv2d(x, W, b, padding=1, dilation=2, groups=2),
}
for name, fn in checks.items():
    print(f"conv2d, {name}:", minicnn.gradcheck(fn, x, W, b))
print("max_pool2d, f = 2, s = 2:", minicnn.gradcheck(lambda x: F.max_pool2d(x, 2, 2), x))
print("avg_pool2d, f = 3, s = 1:", minicnn.gradcheck(lambda x: F.avg_pool2d(x, 3, 1), x))

# %% [markdown]
# ## 10. A picture: edge detectors on a photograph
#
# The lecture's vertical edge detector is a 3 × 3 filter with a column of 1s, a column of 0s
# and a column of −1s; the Sobel filter weighs the middle row twice. Its transpose finds
# horizontal edges. Stacked as two filters, they form W of shape `(f, f, n_C_prev, n_C)` =
# `(3, 3, 1, 2)`, and one `conv2d` with `padding="same"` gives two 128 × 128 edge maps.
# (The thin frame along the borders of the edge maps is the zero padding: there the photo's
# grey meets the zeros, which is an edge too.)

# %%
from skimage import data

photo = data.camera().astype(np.float32) / 255                  # 512 × 512 grey levels in [0, 1]
photo = photo.reshape(128, 4, 128, 4).mean(axis=(1, 3))         # 4 × 4 block means: 128 × 128
x = Tensor(photo[None, :, :, None])                             # (m, n_H, n_W, n_C) = (1, 128, 128, 1)

vertical = np.array([[1, 0, -1],
                     [2, 0, -2],
                     [1, 0, -1]], dtype=np.float32)
W = Tensor(np.stack([vertical, vertical.T], axis=-1)[:, :, None, :])   # (3, 3, 1, 2)
Z = F.conv2d(x, W, padding="same").numpy()[0]                          # (128, 128, 2)
print("x", x.shape, "* W", W.shape, "-> Z", Z.shape, Z.dtype)

images = [photo, Z[..., 0], Z[..., 1], np.hypot(Z[..., 0], Z[..., 1])]
titles = ["input (128 × 128)", "vertical edges", "horizontal edges", "edge strength"]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
for ax, image, title in zip(axes, images, titles):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
plt.show()
