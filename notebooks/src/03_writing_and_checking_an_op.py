# %% [markdown]
# # Writing a new op and checking its gradient
#
# For instructors who write exercises and tests on top of minicnn. An op is a subclass of
# `minicnn.Function` with two methods on raw arrays (NumPy, or CuPy on a GPU):
#
# - `forward(*arrays)` computes the output and keeps on `self` only what `backward` needs;
# - `backward(*grads)` turns the gradient of the cost with respect to each output,
#   ∂J/∂out, into the gradient with respect to each input, ∂J/∂in (or `None` for an input
#   that needs none: `self.needs_input_grad[i]` says which are wanted).
#
# Hyper-parameters go to `__init__`, tensors to the call: `Huber(delta=1.0)(a, y)`. A
# lowercase function is the public face. The engine does the rest: it records the graph,
# runs the backward passes in order, sums the gradients of broadcast inputs back to their
# shape and casts each gradient to its input's dtype.
#
# This notebook writes two ops, SiLU and the Huber loss, checks them with
# `minicnn.gradcheck`, shows what gradcheck says about a planted bug, and turns the checks
# into pytest + hypothesis tests.

# %%
import re

import numpy as np

import minicnn
import minicnn.functional as F
from minicnn import Function, GradcheckError, Tensor, as_tensor, gradcheck, nn
from minicnn.backend import get_array_module

np.set_printoptions(precision=5, suppress=True)

# %% [markdown]
# ## 1. An activation: SiLU (Swish)
#
# $$a = z \cdot \sigma(z), \qquad \sigma(z) = \frac{1}{1 + e^{-z}}$$
#
# By the product rule, with σ'(z) = σ(z)(1 − σ(z)):
#
# $$\frac{\partial J}{\partial z} = dA \odot \left(\sigma(z) + z\,\sigma(z)(1 - \sigma(z))\right)
#   = dA \odot \sigma(z)\left(1 + z (1 - \sigma(z))\right)$$
#
# | array | shape |
# |---|---|
# | z | any, e.g. `(m, n_H, n_W, n_C)` |
# | a, dA, dZ | the shape of z |
#
# σ is computed as e^z / (1 + e^z) for z < 0, so that e^(−z) never overflows; `xp`
# (NumPy or CuPy, whichever holds z) keeps the op device-agnostic.

# %%
class SiLU(Function):
    """SiLU (Swish): a = z·σ(z), elementwise.

    Backward: ∂J/∂z = dA ⊙ σ(z)·(1 + z·(1 − σ(z))).
    Shapes: z any shape; a, dA and ∂J/∂z the shape of z.
    """

    def forward(self, z):
        xp = get_array_module(z)
        e = xp.exp(-xp.abs(z))                                 # in (0, 1]: no overflow
        self.z = z
        self.s = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))    # σ(z)
        return z * self.s

    def backward(self, dA):
        s = self.s
        return dA * s * (1 + self.z * (1 - s))


def silu(z):
    """a = z·σ(z) (see SiLU)."""
    return SiLU()(as_tensor(z))

# %% [markdown]
# First the forward against a plain-NumPy formula, and the dtype: a float32 input must give
# a float32 output and gradient (a float64 constant slipping in would silently make a whole
# network float64). Large inputs must not overflow.

# %%
z = np.linspace(-6, 6, 7)
print("z       =", z)
print("silu(z) =", silu(Tensor(z)).numpy())
assert np.allclose(silu(Tensor(z)).numpy(), z / (1 + np.exp(-z)))

z32 = Tensor(np.array([-1e4, -1, 0, 1, 1e4], dtype=np.float32), requires_grad=True)
a32 = silu(z32)
a32.sum().backward()
print("float32:", a32.dtype, a32.numpy(), "gradient", z32.grad.dtype, z32.grad)
assert a32.dtype == np.float32 and z32.grad.dtype == np.float32

# %% [markdown]
# ## 2. Checking the backward: `minicnn.gradcheck`
#
# `gradcheck(fn, *tensors)` draws a random v of the output's shape and compares, for every
# element j of every input that requires a gradient, ∂L/∂x[j] of L = Σ v ⊙ fn(x) from
# `backward` with the central difference
#
# $$\frac{L(x + \varepsilon e_j) - L(x - \varepsilon e_j)}{2 \varepsilon}, \qquad \varepsilon = 10^{-6}$$
#
# (error of order ε²). It passes when |analytic − numeric| ≤ atol + rtol · |numeric| everywhere,
# and otherwise raises `GradcheckError` naming the input, the worst index and both values.
# Large inputs are checked along random directions instead of element by element.
#
# The inputs must be **float64**: float32 carries about 7 digits, so L(x ± ε) each lose about
# 10⁻⁷ · |L|, and dividing by 2ε = 2·10⁻⁶ turns that into an error as large as the gradient.

# %%
rng = np.random.default_rng(0)
z = Tensor(rng.standard_normal((4, 5)), requires_grad=True)       # float64
print("silu:", gradcheck(silu, z))

x = Tensor(rng.standard_normal((2, 6, 6, 3)), requires_grad=True)
W = Tensor(rng.standard_normal((3, 3, 3, 4)), requires_grad=True)
print("silu(conv2d(x, W)):", gradcheck(lambda x, W: silu(F.conv2d(x, W, padding="same")), x, W))

try:
    gradcheck(silu, Tensor(np.float32([1, 2, 3]), requires_grad=True))
except TypeError as err:
    print("float32 refused:", err)

# %% [markdown]
# ## 3. A planted bug, and what gradcheck says
#
# The classic mistake: differentiating z·σ(z) as if σ(z) were a constant, so the backward
# forgets the z·σ'(z) term of the product rule. The forward is still right, so only a
# gradient check finds it.

# %%
class SiLUForgetsProductRule(SiLU):
    def backward(self, dA):
        return dA * self.s                          # wrong: misses z·σ(z)(1 − σ(z))


try:
    gradcheck(lambda z: SiLUForgetsProductRule()(z), z)
except GradcheckError as err:
    print("GradcheckError:", err)

# %% [markdown]
# A bug that hides in one region: here the backward is right for z ≥ 0 and wrong for z < 0
# (as if the two branches of σ had been differentiated separately and one got lost). A check
# on positive inputs only passes; the index in the message of a check on mixed inputs points
# at where the bug lives. Draw test inputs from everywhere the op is defined. With
# `raise_exception=False` gradcheck returns False instead of raising, for use in `if` or
# `assert`.

# %%
class SiLUWrongForNegatives(SiLU):
    def backward(self, dA):
        xp = get_array_module(dA)
        right = dA * self.s * (1 + self.z * (1 - self.s))
        return xp.where(self.z >= 0, right, dA * self.s)


def buggy(z):
    return SiLUWrongForNegatives()(z)


z_positive = Tensor(np.abs(z.numpy()) + 0.1, requires_grad=True)
print("positive z only:", gradcheck(buggy, z_positive))
print("mixed signs, raise_exception=False:", gradcheck(buggy, z, raise_exception=False))
try:
    gradcheck(buggy, z)
except GradcheckError as err:
    print("GradcheckError:", err)
    index = tuple(int(i) for i in re.search(r"at index \(([^)]*)\)", str(err)).group(1).split(","))
    print(f"z{index} = {z.numpy()[index]:.4f}: negative, as expected")

# %% [markdown]
# ## 4. A loss with two inputs: Huber
#
# The Huber loss is quadratic for small residuals r = a − y and linear for large ones, so one
# outlier cannot dominate the gradient:
#
# $$J = \frac{1}{N} \sum_j \ell(r_j), \qquad
#   \ell(r) = \begin{cases} \tfrac12 r^2 & |r| \le \delta \\ \delta\,(|r| - \tfrac12\delta) & |r| > \delta \end{cases}$$
#
# $$\frac{\partial J}{\partial a} = \frac{dJ}{N}\,\mathrm{clip}(r, -\delta, \delta), \qquad
#   \frac{\partial J}{\partial y} = -\frac{\partial J}{\partial a}$$
#
# | array | shape |
# |---|---|
# | a (prediction), y (target) | any, the same |
# | J, dJ | `()` (a scalar) |
#
# The target usually needs no gradient: `self.needs_input_grad` tells `backward` which of
# the two to compute, and `None` stands for "not needed".

# %%
class Huber(Function):
    """Huber loss: J = mean ℓ(a − y), ℓ(r) = r²/2 if |r| ≤ δ else δ(|r| − δ/2).

    Backward: ∂J/∂a = dJ · clip(r, −δ, δ) / N, ∂J/∂y = −∂J/∂a.
    Shapes: a and y any shape (the same), N = a.size; J a scalar ().
    """

    def __init__(self, delta=1.0):
        self.delta = delta

    def forward(self, a, y):
        xp = get_array_module(a)
        r = a - y
        self.r = r
        quadratic = 0.5 * r * r
        linear = self.delta * (xp.abs(r) - 0.5 * self.delta)
        return xp.where(xp.abs(r) <= self.delta, quadratic, linear).mean()

    def backward(self, dJ):
        xp = get_array_module(self.r)
        da = dJ * xp.clip(self.r, -self.delta, self.delta) / self.r.size
        need_a, need_y = self.needs_input_grad
        return (da if need_a else None), (-da if need_y else None)


def huber_loss(a, y, delta=1.0):
    """The mean Huber loss of prediction ``a`` against target ``y`` (see Huber)."""
    a, y = as_tensor(a), as_tensor(y)
    if a.shape != y.shape:
        raise ValueError(f"huber_loss: prediction has shape {a.shape} but target has shape "
                         f"{y.shape}; they must match")
    return Huber(delta)(a, y)


a = Tensor(3 * rng.standard_normal((6, 4)), requires_grad=True)
y = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
print("J =", huber_loss(a, y).item())
print("gradients with respect to a and y:", gradcheck(huber_loss, a, y))
print("δ = 0.5:", gradcheck(lambda a, y: huber_loss(a, y, delta=0.5), a, y))

# %% [markdown]
# ## 5. Using the ops in a network
#
# A `Module` whose `forward` calls the op makes it a layer; nothing else is needed for
# training, since `backward` and the optimiser only see tensors.

# %%
class SiLULayer(nn.Module):
    """SiLU as a layer: (m, ...) -> (m, ...)."""

    def forward(self, x):
        return silu(x)


minicnn.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), SiLULayer(), nn.Flatten(),
                      nn.Linear(4 * 8 * 8, 2))
X = Tensor(rng.standard_normal((16, 8, 8, 1)).astype(np.float32))
Y = Tensor(rng.standard_normal((16, 2)).astype(np.float32))
optimizer = minicnn.optim.SGD(model.parameters(), lr=0.05)
for step in range(20):
    J = huber_loss(model(X), Y)
    optimizer.zero_grad()
    J.backward()
    optimizer.step()
    if step in (0, 19):
        print(f"step {step:2d}: J = {J.item():.4f}, dtype {J.dtype}")

# %% [markdown]
# ## 6. The same checks as tests: pytest + hypothesis
#
# In a test file (e.g. `tests/test_silu.py`, importing `silu`, `SiLU` and `huber_loss` from
# wherever they live), each check becomes a test. Hypothesis draws the shapes and values:
# each `@given` test runs on many drawn examples, and on a failure it shrinks to the
# smallest one and prints it. Guidelines the project's own tests follow:
#
# - forward against a plain-NumPy formula, on drawn shapes and scales;
# - backward against `gradcheck`, in float64;
# - float32 stays float32;
# - the checker itself is tested: a planted bug must fail it (a test of a gradient check
#   that cannot fail tests nothing);
# - `deadline=None` and a bounded `max_examples` so that a busy machine never turns a
#   correct op red (the project's `tests/conftest.py` registers such a profile, "ci").
#
# Run the file with `python -m pytest tests/test_silu.py -q`. Here the tests are called
# directly, which runs them the same way.

# %%
import pytest
from hypothesis import given, settings, strategies as st

shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, scale=st.floats(0.1, 20.0), seed=seeds)
def test_silu_forward_matches_numpy(shape, scale, seed):
    z = scale * np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_allclose(silu(Tensor(z)).numpy(), z / (1 + np.exp(-z)),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=seeds)
def test_silu_backward_matches_finite_differences(shape, seed):
    z = Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
    assert gradcheck(silu, z)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, delta=st.floats(0.1, 3.0), seed=seeds)
def test_huber_backward_matches_finite_differences(shape, delta, seed):
    rng = np.random.default_rng(seed)
    a = Tensor(2 * rng.standard_normal(shape), requires_grad=True)
    y = Tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda a, y: huber_loss(a, y, delta), a, y)


def test_silu_keeps_float32():
    z = Tensor(np.float32([-3.0, 0.5, 2.0]), requires_grad=True)
    a = silu(z)
    a.sum().backward()
    assert a.dtype == np.float32 and z.grad.dtype == np.float32


def test_huber_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        huber_loss(Tensor(np.zeros((2, 3))), Tensor(np.zeros((3, 2))))


def test_gradcheck_catches_the_planted_bug():
    z = Tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda z: SiLUForgetsProductRule()(z), z)


for test in (test_silu_forward_matches_numpy, test_silu_backward_matches_finite_differences,
             test_huber_backward_matches_finite_differences, test_silu_keeps_float32,
             test_huber_rejects_mismatched_shapes, test_gradcheck_catches_the_planted_bug):
    test()
    print("passed:", test.__name__)

# %% [markdown]
# **On a GPU.** Because both ops use `xp = get_array_module(...)` and never `np.` on their
# arrays, they run on CuPy unchanged. The project's `tests/conftest.py` provides a `device`
# fixture that runs a test on the CPU, on a CPU stand-in for the GPU (whose arrays refuse to
# mix with NumPy's, as CuPy's do) and on a real GPU when there is one:
#
# ```python
# def test_silu_on_every_device(device):
#     z = np.random.default_rng(0).standard_normal((3, 4))
#     z_dev = Tensor(z, requires_grad=True, device=device)
#     a = silu(z_dev)
#     assert a.device == device
#     np.testing.assert_allclose(a.numpy(), z / (1 + np.exp(-z)), rtol=1e-12)
#     assert gradcheck(silu, z_dev)
# ```
