"""The layers of minicnn.nn: gradient checks, forward references, input checks, devices."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
import minicnn.functional as F
import minicnn.nn as nn
from minicnn import Tensor, gradcheck
from conftest import rand


# ------------------------------------------------------------ references (loops)
def conv2d_ref(x, W, b, s=1, p=0):
    """The course's conv_forward: one window at a time."""
    x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    f_H, f_W, _, n_C = W.shape
    n_H, n_W = (x.shape[1] - f_H) // s + 1, (x.shape[2] - f_W) // s + 1
    Z = np.zeros((x.shape[0], n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = x[:, h * s:h * s + f_H, w * s:w * s + f_W, :]
            Z[:, h, w, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2]))
    return Z if b is None else Z + b


def pool2d_ref(x, f, s, mode):
    n_H, n_W = (x.shape[1] - f) // s + 1, (x.shape[2] - f) // s + 1
    A = np.zeros((x.shape[0], n_H, n_W, x.shape[3]))
    for h in range(n_H):
        for w in range(n_W):
            window = x[:, h * s:h * s + f, w * s:w * s + f, :]
            A[:, h, w, :] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return A


# --------------------------------------------------------------- gradchecks
def _trained_bn(cls, n, shape):
    bn = cls(n, momentum=0.5)
    bn(rand(*shape, seed=9, dtype=np.float32) * 2 + 1)       # non-trivial running stats
    return bn


LAYERS = {
    "Linear": (lambda: nn.Linear(3, 4), (5, 3)),
    "Linear-3d": (lambda: nn.Linear(3, 2), (2, 3, 3)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 7, 2)),
    "Conv2d-same": (lambda: nn.Conv2d(2, 3, 3, padding="same"), (2, 5, 5, 2)),
    "Conv2d-stride-groups": (lambda: nn.Conv2d(4, 6, 3, stride=2, groups=2), (1, 6, 6, 4)),
    "Conv2d-dilation": (lambda: nn.Conv2d(2, 2, 2, dilation=2, bias=False), (1, 5, 5, 2)),
    "Conv3d": (lambda: nn.Conv3d(2, 2, 2), (1, 3, 4, 3, 2)),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                   output_padding=1), (1, 3, 3, 3)),
    "DepthwiseConv2d": (lambda: nn.DepthwiseConv2d(3, 3, padding=1, depth_multiplier=2),
                        (1, 4, 4, 3)),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), (2, 6, 3)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 4, 4, 2)),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (1, 5, 5, 2)),
    "AvgPool3d": (lambda: nn.AvgPool3d(2), (1, 2, 4, 4, 2)),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), (2, 3, 3, 2)),
    "GlobalMaxPool2d": (lambda: nn.GlobalMaxPool2d(keepdims=True), (2, 3, 3, 2)),
    "BatchNorm1d-train": (lambda: nn.BatchNorm1d(3), (6, 3)),
    "BatchNorm1d-seq": (lambda: nn.BatchNorm1d(3), (2, 4, 3)),
    "BatchNorm2d-train": (lambda: nn.BatchNorm2d(3), (2, 3, 3, 3)),
    "BatchNorm2d-eval": (lambda: _trained_bn(nn.BatchNorm2d, 3, (4, 2, 2, 3)).eval(),
                         (2, 3, 3, 3)),
    "BatchNorm3d-train": (lambda: nn.BatchNorm3d(2), (2, 2, 2, 2, 2)),
    "Flatten": (lambda: nn.Flatten(), (2, 2, 3, 2)),
    "ZeroPad2d": (lambda: nn.ZeroPad2d(((1, 0), (2, 1))), (1, 2, 3, 2)),
    "Upsample-nearest": (lambda: nn.Upsample(2), (1, 2, 3, 2)),
    "Upsample-bilinear": (lambda: nn.Upsample((2, 3), mode="bilinear"), (1, 3, 2, 2)),
    "Identity": (lambda: nn.Identity(), (2, 3)),
    "ReLU": (lambda: nn.ReLU(), (3, 4)),
    "ReLU6": (lambda: nn.ReLU6(), (3, 4)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.1), (3, 4)),
    "Sigmoid": (lambda: nn.Sigmoid(), (3, 4)),
    "Tanh": (lambda: nn.Tanh(), (3, 4)),
    "Softmax": (lambda: nn.Softmax(), (3, 4)),
    "LogSoftmax": (lambda: nn.LogSoftmax(axis=1), (3, 4)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradcheck_every_layer(name):
    make, shape = LAYERS[name]
    layer = make().double()
    x = Tensor(rand(*shape, seed=1) * (4 if name == "ReLU6" else 1), requires_grad=True)
    params = layer.parameters()
    assert all(p.dtype == np.float64 for p in params)
    gradcheck(lambda x, *ps: layer(x), x, *params)


def test_gradcheck_dropout_with_a_fixed_mask():
    layer = nn.Dropout(0.3)
    x = Tensor(rand(4, 5), requires_grad=True)

    def fn(x):
        minicnn.manual_seed(11)
        return layer(x)

    gradcheck(fn, x)


# ----------------------------------------------------------- forward references
@given(m=st.integers(1, 2), n_H=st.integers(3, 6), n_W=st.integers(3, 6),
       n_C_prev=st.integers(1, 3), n_C=st.integers(1, 3), f=st.integers(1, 3),
       s=st.integers(1, 2), p=st.integers(0, 2))
def test_conv2d_layer_matches_the_course_loops(m, n_H, n_W, n_C_prev, n_C, f, s, p):
    layer = nn.Conv2d(n_C_prev, n_C, f, stride=s, padding=p, bias_init="ones").double()
    x = rand(m, n_H, n_W, n_C_prev, seed=2)
    want = conv2d_ref(x, layer.W.numpy(), layer.b.numpy(), s, p)
    got = layer(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


@given(n=st.integers(1, 9), f=st.integers(1, 4), s=st.integers(1, 3))
def test_same_padding_keeps_ceil_n_over_s(n, f, s):
    layer = nn.Conv2d(1, 1, f, stride=s, padding="same")
    assert layer(np.zeros((1, n, n + 1, 1), np.float32)).shape == (1, -(-n // s),
                                                                   -(-(n + 1) // s), 1)


def test_conv1d_and_conv3d_are_conv2d_with_a_unit_axis():
    c1 = nn.Conv1d(2, 3, 3, stride=2, padding=1)
    c2 = nn.Conv2d(2, 3, (1, 3), stride=(1, 2), padding=(0, 1))
    c2.W.data = c1.W.data[None]
    c2.b.data = c1.b.data
    x = rand(2, 7, 2, dtype=np.float32)
    np.testing.assert_allclose(c1(x).numpy(), c2(x[:, None]).numpy()[:, 0], rtol=1e-5)
    c3 = nn.Conv3d(2, 3, (1, 3, 3), padding=(0, 1, 1))
    c2 = nn.Conv2d(2, 3, 3, padding=1)
    c2.W.data, c2.b.data = c3.W.data[0], c3.b.data
    x = rand(2, 4, 4, 2, dtype=np.float32)
    np.testing.assert_allclose(c3(x[:, None]).numpy()[:, 0], c2(x).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_groups_are_independent_convolutions():
    conv = nn.Conv2d(4, 6, 3, groups=2, bias=False).double()
    assert conv.W.shape == (3, 3, 2, 6)
    x = rand(2, 5, 5, 4)
    W = conv.W.numpy()
    want = np.concatenate([conv2d_ref(x[..., :2], W[..., :3], None),
                           conv2d_ref(x[..., 2:], W[..., 3:], None)], axis=-1)
    np.testing.assert_allclose(conv(x).numpy(), want, rtol=1e-10)


def test_depthwise_conv_is_per_channel_in_keras_order():
    dw = nn.DepthwiseConv2d(3, 3, depth_multiplier=2, bias=False).double()
    assert dw.W.shape == (3, 3, 1, 6) and dw.groups == 3
    x = rand(1, 5, 5, 3)
    y = dw(x).numpy()
    W = dw.W.numpy()
    for c in range(3):
        for j in range(2):
            k = c * 2 + j                         # Keras: output channel c·k + j
            want = conv2d_ref(x[..., c:c + 1], W[..., k:k + 1], None)
            np.testing.assert_allclose(y[..., k:k + 1], want, rtol=1e-10)


def test_conv_transpose_is_the_adjoint_of_conv():
    """⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ when both use the same W."""
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, bias=False).double()
    convT = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False).double()
    assert convT.W.shape == conv.W.shape == (3, 3, 2, 3)
    convT.W.data = conv.W.data
    x, y = rand(2, 7, 7, 2, seed=1), rand(2, 4, 4, 3, seed=2)
    assert convT(y).shape == x.shape
    np.testing.assert_allclose(np.sum(conv(x).numpy() * y), np.sum(x * convT(y).numpy()),
                               rtol=1e-10)
    up = nn.ConvTranspose2d(3, 2, 2, stride=2)         # U-Net's up-convolution doubles n_H
    assert up(np.zeros((1, 4, 5, 3), np.float32)).shape == (1, 8, 10, 2)


@given(f=st.integers(1, 3), s=st.integers(1, 3), mode=st.sampled_from(["max", "avg"]))
def test_pool_layers_match_the_course_loops(f, s, mode):
    layer = (nn.MaxPool2d if mode == "max" else nn.AvgPool2d)(f, stride=s)
    x = rand(2, 6, 5, 3, seed=3)
    np.testing.assert_allclose(layer(x).numpy(), pool2d_ref(x, f, s, mode), rtol=1e-12)


def test_linear_global_pool_flatten_pad_upsample_forward():
    lin = nn.Linear(3, 2).double()
    x = rand(4, 3)
    np.testing.assert_allclose(lin(x).numpy(), x @ lin.W.numpy() + lin.b.numpy())
    assert lin.W.shape == (3, 2) and nn.Linear(3, 2, bias=False).b is None
    x = rand(2, 3, 4, 5)
    np.testing.assert_allclose(nn.GlobalAvgPool2d()(x).numpy(), x.mean(axis=(1, 2)))
    assert nn.GlobalMaxPool2d(keepdims=True)(x).shape == (2, 1, 1, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.reshape(2, -1))   # channels last
    assert nn.ZeroPad2d(2)(x).shape == (2, 7, 8, 5)
    assert nn.ZeroPad2d((1, 2))(x).shape == (2, 5, 8, 5)
    padded = nn.ZeroPad2d(((1, 0), (0, 3)))(x).numpy()
    assert padded.shape == (2, 4, 7, 5) and (padded[:, 0] == 0).all()
    np.testing.assert_array_equal(padded[:, 1:, :4], x)
    np.testing.assert_array_equal(nn.Upsample(2)(x).numpy(), x.repeat(2, 1).repeat(2, 2))


def test_activation_layers_forward():
    z = rand(3, 4) * 4
    np.testing.assert_allclose(nn.ReLU()(z).numpy(), np.maximum(z, 0))
    np.testing.assert_allclose(nn.ReLU6()(z).numpy(), np.clip(z, 0, 6))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(z).numpy(), np.where(z > 0, z, 0.2 * z))
    np.testing.assert_allclose(nn.Sigmoid()(z).numpy(), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(nn.Tanh()(z).numpy(), np.tanh(z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(nn.Softmax()(z).numpy(), e / e.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(nn.LogSoftmax()(z).numpy(),
                               np.log(e / e.sum(axis=1, keepdims=True)))


def test_batchnorm_layer_modes_running_stats_and_keras_settings():
    bn = nn.BatchNorm2d(3, eps=1e-3, momentum=0.01)      # Keras's defaults, PyTorch's convention
    assert [n for n, _ in bn.named_parameters()] == ["gamma", "beta"]
    assert set(bn.state_dict()) == {"gamma", "beta", "running_mean", "running_var"}
    x = rand(4, 3, 3, 3, seed=1, dtype=np.float32) * 2 + 5
    y = bn(x).numpy()
    mu, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.01 * mu, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.99 + 0.01 * var * 36 / 35, rtol=1e-5)
    bn.eval()
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    np.testing.assert_allclose(bn(x).numpy(), (x - rm) / np.sqrt(rv + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)       # eval leaves them
    bn1 = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert bn1.parameters() == [] and bn1.state_dict() == {}
    assert bn1(rand(5, 4)).shape == (5, 4)


def test_batchnorm_running_stats_update_on_device(device):
    x = rand(6, 2, 2, 3, seed=1, dtype=np.float32)
    ref = nn.BatchNorm2d(3)
    ref(x)
    bn = nn.BatchNorm2d(3).to(device)
    y = bn(Tensor(x, device=device))
    assert y.device == device and bn.running_mean.device == device
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), rtol=1e-6)


# ------------------------------------------------------- devices, dtypes, freezing
def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding="same"), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.DepthwiseConv2d(4, 3, padding=1), nn.ConvTranspose2d(4, 2, 2, stride=2),
        nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(2 * 4 * 4, 3))


def test_cnn_float32_in_float32_out_and_gradients(device):
    minicnn.manual_seed(0)
    model = small_cnn()
    x = rand(2, 8, 8, 3, dtype=np.float32)
    y_cpu = model(x)
    F.cross_entropy(y_cpu, np.array([0, 2])).backward()
    grads_cpu = [p.grad.copy() for p in model.parameters()]
    assert y_cpu.dtype == np.float32 and all(g.dtype == np.float32 for g in grads_cpu)
    minicnn.manual_seed(0)
    model = small_cnn().to(device)
    y = model(Tensor(x, device=device))               # dropout: same host-drawn mask
    F.cross_entropy(y, np.array([0, 2])).backward()
    assert y.device == device and y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), y_cpu.numpy(), rtol=1e-4, atol=1e-5)
    for p, g in zip(model.parameters(), grads_cpu):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(minicnn.to_numpy(p.grad), g, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("x_dtype", [np.float64, np.uint8])
def test_inputs_take_the_weights_dtype_so_float32_stays_float32(x_dtype):
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    x = (rand(2, 4, 4, 3) * 100).astype(x_dtype)         # NumPy's default, or raw pixels
    y = model(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), model(x.astype(np.float32)).numpy(), rtol=1e-6)
    xt = Tensor(rand(2, 4, 4, 3), requires_grad=True)
    model(xt).sum().backward()
    assert xt.grad.dtype == np.float64                      # the cast is differentiable
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    assert model.double()(x).dtype == np.float64            # a float64 model stays float64


def test_frozen_layers_get_no_weight_gradient_but_pass_gradients_on():
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 1))
    model[0].freeze()
    x = Tensor(rand(1, 4, 4, 2, dtype=np.float32), requires_grad=True)
    model(x).sum().backward()
    assert model[0].W.grad is None and model[0].b.grad is None
    assert model[3].W.grad is not None and x.grad is not None


# --------------------------------------------------------------- input checks
def test_channels_first_input_gets_the_channels_last_message():
    with pytest.raises(ValueError) as e:
        nn.Conv2d(3, 16, 3)(np.zeros((64, 3, 32, 32), np.float32))
    assert str(e.value).startswith(
        "Conv2d expected (m, n_H, n_W, 3), got (64, 3, 32, 32): minicnn is channels-last")
    assert "x.transpose(0, 2, 3, 1)" in str(e.value)
    with pytest.raises(ValueError, match=r"Conv1d expected \(m, n_L, 3\), got \(2, 3, 10\): "
                                         r"minicnn is channels-last.*transpose\(0, 2, 1\)"):
        nn.Conv1d(3, 4, 3)(np.zeros((2, 3, 10)))
    with pytest.raises(ValueError, match=r"BatchNorm2d expected \(m, n_H, n_W, 16\), got "
                                         r"\(2, 16, 8, 8\): minicnn is channels-last"):
        nn.BatchNorm2d(16)(np.zeros((2, 16, 8, 8)))


def test_other_input_shape_errors_name_what_was_expected():
    with pytest.raises(ValueError, match=r"got \(32, 32, 3\): x has no batch axis; add one "
                                         r"with x\[None\]"):
        nn.Conv2d(3, 8, 3)(np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match=r"got \(2, 8, 8, 4\): the last axis holds the "
                                         r"channels and must be 3"):
        nn.Conv2d(3, 8, 3)(np.zeros((2, 8, 8, 4)))
    with pytest.raises(ValueError, match=r"Linear expected \(m, 120\), got \(64, 400\): the "
                                         r"last axis must be in_features=120"):
        nn.Linear(120, 84)(np.zeros((64, 400)))
    with pytest.raises(ValueError, match=r"got \(2, 5, 5, 16\): flatten the input first"):
        nn.Linear(400, 10)(np.zeros((2, 5, 5, 16)))
    with pytest.raises(ValueError, match=r"MaxPool2d expected \(m, n_H, n_W, n_C\), got "
                                         r"\(2, 8, 8\): x has no batch axis"):
        nn.MaxPool2d(2)(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"GlobalAvgPool2d expected .* a 4-D input"):
        nn.GlobalAvgPool2d()(np.zeros((2, 8)))


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"divisible by groups \(3\)"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"kernel_size: got \(3, 3, 3\), expected an int or "
                                         r"a tuple of 2 ints"):
        nn.Conv2d(4, 6, (3, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        nn.Conv2d(0, 6, 3)
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be"):
        nn.ZeroPad2d((1, 2, 3))
    with pytest.raises(ValueError, match="Dropout: p is the probability"):
        nn.Dropout(2)
    with pytest.raises(ValueError, match="Keras's 0.99 is 0.01 here"):
        nn.BatchNorm2d(3, momentum=0.99 + 0.5)


def test_reprs():
    assert repr(nn.Conv2d(3, 16, 3, padding="same")) == \
        "Conv2d(3, 16, kernel_size=(3, 3), stride=1, padding='same')"
    assert repr(nn.Linear(4, 2, bias=False)) == "Linear(4, 2, bias=False)"
    assert repr(nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)) == \
        "BatchNorm2d(8, eps=0.001, momentum=0.01)"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2))"
