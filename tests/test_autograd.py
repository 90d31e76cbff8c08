"""The engine: graph building, backward order, accumulation, memory, errors, dtype policy."""
import gc
import weakref

import numpy as np
import pytest

import minicnn as mc
from minicnn import functional as F
from minicnn.autograd import Function, Tensor, sum_to
from conftest import rand


def leaf(*shape, seed=0, dtype=np.float64):
    return Tensor(rand(*shape, seed=seed, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ basics
def test_tensor_attributes():
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.dtype == np.float32 and t.device == "cpu"
    assert isinstance(t.numpy(), np.ndarray)
    assert t.sum().item() == 15.0
    d = t.detach()
    assert not d.requires_grad and d.creator is None and d.data is t.data


def test_python_numbers_become_float32_and_arrays_keep_dtype():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor(np.ones(3)).dtype == np.float64
    assert Tensor([1, 2]).dtype == np.int64


def test_scalar_operands_never_upcast_float32():
    x = Tensor(np.ones((2, 2), np.float32), requires_grad=True)
    for y in (x * 2.0, 2.0 * x, x / 3.0, x + np.float64(1.0), x ** 2.0, 1.0 - x):
        assert y.dtype == np.float32
    (x * np.float64(2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_gradients_keep_the_leaf_dtype_when_mixed_with_float64():
    w = Tensor(np.ones((3,), np.float32), requires_grad=True)
    x = Tensor(np.ones((3,), np.float64))
    (w * x).sum().backward()
    assert w.grad.dtype == np.float32


def test_integer_and_bool_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([True, False]), requires_grad=True)


def test_comparisons_return_plain_arrays():
    t = Tensor(np.array([1.0, 2.0, 3.0]))
    assert isinstance(t > 2, np.ndarray)
    np.testing.assert_array_equal(t == Tensor(np.array([1.0, 0.0, 3.0])), [True, False, True])


# ------------------------------------------------------------- backward
def test_non_scalar_backward_needs_explicit_gradient():
    x = leaf(2, 3)
    y = x * 2
    with pytest.raises(RuntimeError, match="explicit gradient"):
        y.backward()
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 3)))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).sum().backward()


def test_gradients_accumulate_across_backward_calls_and_zero_grad():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, 5 * np.ones(3))
    x.zero_grad()
    assert x.grad is None


def test_reused_node_accumulates():
    x = leaf(4)
    y = x * 1.0
    total = y
    for _ in range(99):
        total = total + y          # y is used 100 times
    total.sum().backward()
    np.testing.assert_allclose(x.grad, 100 * np.ones(4))


def test_diamond_graph_order():
    # x → a, b → c: c's backward must wait for both a and b.
    x = leaf(3)
    a = x * 2
    b = F.exp(a) + a
    c = (a * b).sum()
    c.backward()
    X = x.data  # c = Σ a·(e^a + a), a = 2x
    A = 2 * X
    expected = 2 * ((np.exp(A) + A) + A * (np.exp(A) + 1))
    np.testing.assert_allclose(x.grad, expected)


def test_thousand_op_chain_is_iterative():
    x = leaf(5)
    y = x
    for _ in range(1000):
        y = y * 1.001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(5, 1.001 ** 1000), rtol=1e-10)


def test_deep_chain_beyond_recursion_limit():
    import sys
    x = leaf(2)
    y = x
    for _ in range(sys.getrecursionlimit() + 500):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones(2))


def test_intermediate_grads_freed_unless_retained():
    x = leaf(3)
    h = x * 2
    k = (x * 3).retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(k.grad, h.data)
    np.testing.assert_allclose(x.grad, 3 * h.data + 2 * k.data)


def test_graph_is_released_after_backward():
    x = leaf(10)
    h = F.exp(x * 2)
    ref = weakref.ref(h)
    fn_ref = weakref.ref(h.creator)
    loss = (h * 3).sum()
    del h
    assert ref() is not None          # still held by the graph
    loss.backward()
    gc.collect()
    assert ref() is None and fn_ref() is None
    assert loss.creator is None


def test_memory_does_not_grow_across_steps():
    w = leaf(50, 50)
    refs = []
    for step in range(5):
        h = F.tanh(w @ w)
        refs.append(weakref.ref(h))
        loss = (h * h).sum()
        loss.backward()
        del h, loss
    gc.collect()
    assert all(r() is None for r in refs)


def test_backward_twice_needs_retain_graph():
    x = leaf(3)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_no_grad_context_and_decorator():
    x = leaf(3)
    with mc.no_grad():
        y = x * 2
    assert not y.requires_grad and y.creator is None

    @mc.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    assert (x * 2).requires_grad
    with mc.no_grad():
        with mc.enable_grad():
            assert (x * 2).requires_grad


def test_multi_output_with_unused_output():
    x = leaf(6)
    a, b, c = F.split(x, 3)
    (b * 2).sum().backward()
    np.testing.assert_allclose(x.grad, [0, 0, 2, 2, 0, 0])


def test_frozen_input_gets_no_gradient_and_backward_is_told():
    seen = {}

    class Probe(Function):
        def forward(self, a, b):
            return a * b

        def backward(self, dy):
            seen["needs"] = self.needs_input_grad
            return dy, None

    a = leaf(2)
    b = Tensor(np.ones(2))
    Probe()(a, b).sum().backward()
    assert seen["needs"] == (True, False)


def test_wrong_number_of_gradients_is_reported():
    class Bad(Function):
        def forward(self, a, b):
            return a + b

        def backward(self, dy):
            return dy

    with pytest.raises(RuntimeError, match="1 gradients for 2 inputs"):
        Bad()(leaf(2), leaf(2)).sum().backward()


def test_sum_to_undoes_broadcasting():
    g = np.ones((4, 2, 3))
    assert sum_to(g, (2, 3)).shape == (2, 3)
    np.testing.assert_allclose(sum_to(g, (2, 1)), np.full((2, 1), 12.0))
    np.testing.assert_allclose(sum_to(g, (1, 1, 3)), np.full((1, 1, 3), 8.0))
    assert sum_to(np.ones(()), ()).shape == ()


def test_indexing_with_repeated_integer_indices_accumulates():
    x = leaf(5)
    x[np.array([0, 0, 3, 0])].sum().backward()
    np.testing.assert_allclose(x.grad, [3, 0, 0, 1, 0])
    y = leaf(3, 4)
    y[1:, ::2].sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 1
    np.testing.assert_allclose(y.grad, expected)
    z = leaf(3, 4)
    z[[0, 0], [1, 1]].sum().backward()
    assert z.grad[0, 1] == 2 and z.grad.sum() == 2


def test_boolean_mask_indexing_gradient():
    x = leaf(6)
    mask = x.data > 0
    x[mask].sum().backward()
    np.testing.assert_allclose(x.grad, mask.astype(float))
