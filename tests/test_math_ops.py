"""Every op in functional/math.py: forward against NumPy, backward against gradcheck,
with hypothesis-drawn shapes."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minicnn as mc
from minicnn import functional as F
from minicnn.autograd import Tensor

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def arr(shape, seed, lo=-2.0, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape)


def t(a):
    return Tensor(np.array(a, dtype=np.float64), requires_grad=True)


def broadcastable(shape, seed):
    """A shape that broadcasts against ``shape``: some axes set to 1, maybe fewer axes."""
    rng = np.random.default_rng(seed)
    out = [1 if rng.random() < 0.4 else n for n in shape]
    drop = rng.integers(0, len(out) + 1)
    return tuple(out[drop:])


BINARY = {
    "add": (F.add, np.add),
    "sub": (F.sub, np.subtract),
    "mul": (F.mul, np.multiply),
    "div": (F.div, np.divide),
    "maximum": (F.maximum, np.maximum),
    "minimum": (F.minimum, np.minimum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_binary_broadcasting(name, shape, seed):
    op, ref = BINARY[name]
    a = arr(shape, seed)
    b = arr(broadcastable(shape, seed + 1), seed + 2)
    if name == "div":
        b = np.where(np.abs(b) < 0.3, 0.5, b)
    if name in ("maximum", "minimum"):
        b = b + 0.05          # keep away from ties, where the derivative jumps
    np.testing.assert_allclose(op(t(a), t(b)).data, ref(a, b))
    mc.gradcheck(op, t(a), t(b))


UNARY = {
    "exp": (F.exp, np.exp, (-2, 2)),
    "log": (F.log, np.log, (0.2, 3)),
    "sqrt": (F.sqrt, np.sqrt, (0.2, 3)),
    "abs": (F.abs, np.abs, (0.1, 2)),
    "neg": (F.neg, np.negative, (-2, 2)),
    "pow3": (lambda x: x ** 3, lambda x: x ** 3, (-2, 2)),
    "clip": (lambda x: F.clip(x, -1.0, 0.5), lambda x: np.clip(x, -1.0, 0.5), (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=st.integers(0, 2**16))
def test_unary(name, shape, seed):
    op, ref, (lo, hi) = UNARY[name]
    a = arr(shape, seed, lo, hi)
    if name == "abs":
        a = a * np.where(np.random.default_rng(seed).random(shape) < 0.5, -1, 1)
    if name == "clip":
        a = np.where(np.abs(a + 1.0) < 0.05, -1.2, a)
        a = np.where(np.abs(a - 0.5) < 0.05, 0.7, a)
    np.testing.assert_allclose(op(t(a)).data, ref(a))
    mc.gradcheck(op, t(a))


def test_pow_with_tensor_exponent():
    a, b = t(arr((3, 2), 0, 0.5, 2)), t(arr((2,), 1))
    np.testing.assert_allclose((a ** b).data, a.data ** b.data)
    mc.gradcheck(lambda x, y: x ** y, a, b)
    mc.gradcheck(lambda y: 2.0 ** y, b)


@given(shape=shapes, seed=st.integers(0, 2**16), keepdims=st.booleans(), data=st.data())
def test_reductions(shape, seed, keepdims, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.sets(st.integers(0, len(shape) - 1), min_size=1).map(tuple)))
    a = arr(shape, seed)
    for op, ref in ((F.sum, np.sum), (F.mean, np.mean), (F.max, np.max), (F.min, np.min)):
        np.testing.assert_allclose(op(t(a), axis, keepdims).data, ref(a, axis=axis, keepdims=keepdims))
        mc.gradcheck(lambda x: op(x, axis, keepdims), t(a))


def test_max_shares_gradient_between_ties():
    x = t([1.0, 3.0, 3.0, 2.0])
    F.max(x).backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5, 0])


@given(batch=st.sampled_from([(), (2,), (3, 1), (1, 2)]), n=st.integers(1, 4), k=st.integers(1, 4),
       p=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_batched_matmul(batch, n, k, p, seed):
    a = arr(batch + (n, k), seed)
    b = arr((2,) + (k, p) if batch == (3, 1) else (k, p), seed + 1)
    np.testing.assert_allclose(F.matmul(t(a), t(b)).data, a @ b)
    mc.gradcheck(F.matmul, t(a), t(b))


def test_matmul_vectors_and_errors():
    v, m = t(arr((3,), 0)), t(arr((3, 2), 1))
    mc.gradcheck(F.matmul, v, m)
    mc.gradcheck(F.matmul, t(arr((2, 3), 2)), v)
    mc.gradcheck(F.matmul, v, t(arr((3,), 3)))
    with pytest.raises(ValueError, match="inner dimensions"):
        F.matmul(m, m)


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_shape_ops(shape, seed):
    a = arr(shape, seed)
    x = t(a)
    np.testing.assert_allclose(F.reshape(x, -1).data, a.reshape(-1))
    mc.gradcheck(lambda z: F.reshape(z, (-1, 1)) * np.arange(a.size).reshape(-1, 1), x)
    perm = tuple(np.random.default_rng(seed).permutation(len(shape)))
    np.testing.assert_allclose(F.transpose(x, perm).data, a.transpose(perm))
    mc.gradcheck(lambda z: F.transpose(z, perm), x)
    mc.gradcheck(lambda z: F.broadcast_to(z, (2,) + shape), x)
    mc.gradcheck(lambda z: F.pad(z, [(1, 0)] + [(0, 2)] * (len(shape) - 1), value=0.5), x)
    np.testing.assert_allclose(F.pad(x, 1).data, np.pad(a, 1))


def test_concatenate_stack_split_getitem():
    a, b = t(arr((2, 3), 0)), t(arr((2, 1), 1))
    np.testing.assert_allclose(F.concatenate([a, b], axis=1).data,
                               np.concatenate([a.data, b.data], 1))
    mc.gradcheck(lambda x, y: F.concatenate([x, y, x], axis=1), a, b)
    mc.gradcheck(lambda x: F.stack([x, x * 2], axis=1), a)
    mc.gradcheck(lambda x: F.split(x, [1], axis=1)[1], a)
    mc.gradcheck(lambda x: x[:, 1:] * x[[1, 1]][:, :2], a)
    mc.gradcheck(lambda x: F.flatten(F.stack([x, x]), 1), a)
    mc.gradcheck(lambda x: F.where(x.data > 0, x, x * x), a)


def test_flatten_shape():
    x = Tensor(np.zeros((4, 3, 2, 5)))
    assert F.flatten(x).shape == (4, 30)
    assert x.flatten(0).shape == (120,)


def test_errors_name_the_problem():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="axis"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="pad_width"):
        F.pad(x, -1)
