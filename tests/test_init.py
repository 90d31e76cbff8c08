"""Initialisers: fans, distributions, dtype, seeding, and the layers' ``init=`` argument."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn.nn import init


def test_fans_follow_the_hwio_layout():
    assert init.fans((120, 84)) == (120, 84)                     # Linear (in, out)
    assert init.fans((5, 5, 6, 16)) == (150, 400)                # Conv2d (f, f, in, out)
    assert init.fans((3, 8, 4)) == (24, 12)                      # Conv1d
    assert init.fans((3, 3, 3, 8, 4)) == (216, 108)              # Conv3d
    assert init.fans((7,)) == (7, 7)


SHAPE = (3, 3, 64, 96)
FAN_IN, FAN_OUT = 3 * 3 * 64, 3 * 3 * 96


@pytest.mark.parametrize("name, std", [
    ("he_normal", math.sqrt(2 / FAN_IN)),
    ("he_uniform", math.sqrt(2 / FAN_IN)),                      # U(±√(6/n)) has var 2/n
    ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ("glorot_uniform", math.sqrt(2 / (FAN_IN + FAN_OUT))),
])
def test_distributions_have_the_stated_spread(name, std):
    W = init.get_initializer(name)(SHAPE)
    assert W.shape == SHAPE and W.dtype == np.float32
    assert abs(W.mean()) < 0.05 * std
    assert W.std() == pytest.approx(std, rel=0.02)
    if "uniform" in name:
        limit = std * math.sqrt(3)
        assert np.abs(W).max() <= limit
        assert np.abs(W).max() > 0.99 * limit


def test_constant_initialisers():
    assert (init.zeros((2, 3)) == 0).all() and init.zeros((2,)).dtype == np.float32
    assert (init.ones((4,)) == 1).all()
    np.testing.assert_array_equal(init.constant((2, 2), 0.1), np.full((2, 2), 0.1, np.float32))
    assert init.normal((1000,), std=0.01).std() == pytest.approx(0.01, rel=0.1)
    assert init.he_normal((3, 4), dtype=np.float64).dtype == np.float64


def test_draws_come_from_the_seeded_host_generator():
    minicnn.manual_seed(5)
    a = init.he_normal((4, 4))
    b = init.he_normal((4, 4))
    minicnn.manual_seed(5)
    np.testing.assert_array_equal(init.he_normal((4, 4)), a)
    assert not np.array_equal(a, b)
    minicnn.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(4, 4).W.numpy(), a)


def test_layers_take_init_names_and_callables():
    lin = nn.Linear(300, 200, init="glorot_uniform")
    assert np.abs(lin.W.numpy()).max() <= math.sqrt(6 / 500)
    assert (lin.b.numpy() == 0).all()
    conv = nn.Conv2d(2, 3, 3, init="zeros", bias_init=lambda s: init.constant(s, 0.5))
    assert (conv.W.numpy() == 0).all() and (conv.b.numpy() == 0.5).all()
    conv = nn.Conv2d(2, 3, 3, init=lambda shape: np.arange(np.prod(shape)).reshape(shape))
    assert conv.W.dtype == np.float32 and conv.W.numpy()[0, 0, 0, 2] == 2
    assert nn.Conv2d(16, 32, 3).W.numpy().std() == pytest.approx(math.sqrt(2 / 144), rel=0.05)


def test_init_errors_are_clear():
    with pytest.raises(ValueError, match=r"init: got 'he'.*expected one of"):
        nn.Linear(3, 4, init="he")
    with pytest.raises(ValueError, match=r"returned shape \(3,\), expected \(3, 4\)"):
        nn.Linear(3, 4, init=lambda shape: np.zeros(3))
