"""The gradient checker must itself be checked: it passes correct backwards and catches
planted mistakes (a factor off, a wrong transpose, a missing broadcast reduction)."""
import numpy as np
import pytest

import minicnn as mc
from minicnn.autograd import Function, Tensor
from minicnn.gradcheck import GradcheckError


def t(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class MatMulWrongTranspose(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, dy):
        # Planted bug: uses b instead of bᵀ for a square b (shapes still fit).
        return dy @ self.b, self.a.T @ dy


class SquareOffByFactor(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, dy):
        return dy * self.x        # planted bug: should be 2x


class AddNoBroadcastSum(Function):
    """Returns the un-reduced gradient, then 'reduces' it by taking the first row,
    which is what forgetting the broadcast sum looks like once shapes are forced."""

    def forward(self, a, b):
        return a + b

    def backward(self, dy):
        return dy, dy[:1]


def test_correct_backward_passes():
    assert mc.gradcheck(lambda a, b: a @ b, t(3, 3), t(3, 3, seed=1))


@pytest.mark.parametrize("fn, inputs", [
    (lambda a, b: MatMulWrongTranspose()(a, b), (t(3, 3), t(3, 3, seed=1))),
    (lambda x: SquareOffByFactor()(x), (t(4),)),
    (lambda a, b: AddNoBroadcastSum()(a, b), (t(3, 2), t(1, 2, seed=1))),
])
def test_planted_bugs_are_caught(fn, inputs):
    with pytest.raises(GradcheckError, match="gradcheck failed for input"):
        mc.gradcheck(fn, *inputs)
    assert mc.gradcheck(fn, *inputs, raise_exception=False) is False


def test_report_names_input_index_and_values():
    with pytest.raises(GradcheckError) as e:
        mc.gradcheck(lambda x: SquareOffByFactor()(x), t(4))
    msg = str(e.value)
    assert "input 0" in msg and "analytic" in msg and "numeric" in msg and "at index" in msg
    err = e.value
    assert err.input_index == 0 and len(err.index) == 1
    assert err.numeric == pytest.approx(2 * err.analytic, rel=1e-4)


def test_directional_mode_for_large_inputs_catches_bugs():
    x = t(60, 60)
    assert mc.gradcheck(lambda z: z * z, x, max_elements=100)
    with pytest.raises(GradcheckError, match="random direction"):
        mc.gradcheck(lambda z: SquareOffByFactor()(z), x, max_elements=100)


def test_float32_inputs_are_refused():
    with pytest.raises(TypeError, match="float64"):
        mc.gradcheck(lambda x: x * 2, Tensor(np.ones(3, np.float32), requires_grad=True))


def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="requires_grad"):
        mc.gradcheck(lambda x: x * 2, Tensor(np.ones(3)))


def test_non_contiguous_input():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)).T, requires_grad=True)
    assert mc.gradcheck(lambda z: (z ** 2).sum(axis=0), x)
