"""minicnn.io.convert: layouts (OIHW → HWIO, (out, in) → (in, out)), names, load_into.

Layouts are checked twice: index by index in NumPy (always), and by running the torch
layer against a plain-NumPy channels-last reference on the converted weights (with torch).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import minicnn.nn as nn
from minicnn.io.convert import (LoadReport, WeightMismatchError, convert_weights, describe,
                                load_into, nchw_flatten_to_nhwc, rename, target_order)


def arr(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ NumPy references (NHWC, HWIO)
def conv2d_ref(x, W, b=None, s=1, groups=1):
    """y[m, i, j, o] = sum_{di, dj, c} x[m, s·i + di, s·j + dj, c] · W[di, dj, c, o],
    within each group of channels."""
    m, n_H, n_W, _ = x.shape
    f_H, f_W, c_g, n_C = W.shape
    o_g = n_C // groups
    H_out, W_out = (n_H - f_H) // s + 1, (n_W - f_W) // s + 1
    y = np.zeros((m, H_out, W_out, n_C))
    for g in range(groups):
        xg, Wg = x[..., g * c_g:(g + 1) * c_g], W[..., g * o_g:(g + 1) * o_g]
        for di in range(f_H):
            for dj in range(f_W):
                patch = xg[:, di:di + s * H_out:s, dj:dj + s * W_out:s, :]
                y[..., g * o_g:(g + 1) * o_g] += patch @ Wg[di, dj]
    return y if b is None else y + b


def conv_transpose2d_ref(y, W, b=None, s=1):
    """The adjoint of conv2d_ref: W (f_H, f_W, n_C_out, n_C_in) scatters each y pixel."""
    m, n_H, n_W, _ = y.shape
    f_H, f_W, n_C_out, _ = W.shape
    x = np.zeros((m, (n_H - 1) * s + f_H, (n_W - 1) * s + f_W, n_C_out))
    for di in range(f_H):
        for dj in range(f_W):
            x[:, di:di + s * n_H:s, dj:dj + s * n_W:s, :] += y @ W[di, dj].T
    return x if b is None else x + b


def nchw(x):
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


# ------------------------------------------------------------------ layouts, index by index
def test_torch_layouts_index_by_index():
    w = OrderedDict([("c1.weight", arr(5, 3, 4, seed=1)),            # Conv1d (out, in, f)
                     ("c2.weight", arr(6, 2, 3, 4, seed=2)),         # Conv2d, groups=2
                     ("c3.weight", arr(4, 3, 2, 3, 5, seed=3)),      # Conv3d
                     ("dw.weight", arr(8, 1, 3, 3, seed=4)),         # depthwise, C=4, k=2
                     ("fc.weight", arr(10, 7, seed=5)), ("fc.bias", arr(10, seed=6))])
    c = convert_weights(w)
    assert list(c) == ["c1.W", "c2.W", "c3.W", "dw.W", "fc.W", "fc.b"]
    np.testing.assert_array_equal(c["c1.W"], np.einsum("oik->kio", w["c1.weight"]))
    np.testing.assert_array_equal(c["c2.W"], np.einsum("oihw->hwio", w["c2.weight"]))
    np.testing.assert_array_equal(c["c3.W"], np.einsum("oidhw->dhwio", w["c3.weight"]))
    assert c["dw.W"].shape == (3, 3, 1, 8)
    for o in range(8):
        np.testing.assert_array_equal(c["dw.W"][:, :, 0, o], w["dw.weight"][o, 0])
    np.testing.assert_array_equal(c["fc.W"], w["fc.weight"].T)
    np.testing.assert_array_equal(c["fc.b"], w["fc.bias"])
    assert all(a.flags.c_contiguous and a.dtype == np.float32 for a in c.values())


def test_batchnorm_names_and_num_batches_tracked():
    w = OrderedDict([("conv.weight", arr(4, 3, 3, 3)), ("conv.bias", arr(4)),
                     ("bn.weight", arr(4)), ("bn.bias", arr(4)), ("bn.running_mean", arr(4)),
                     ("bn.running_var", arr(4) ** 2),
                     ("bn.num_batches_tracked", np.array(10, dtype=np.int64)),
                     ("ln.weight", arr(4)), ("ln.bias", arr(4))])       # LayerNorm: no stats
    c = convert_weights(w)
    assert list(c) == ["conv.W", "conv.b", "bn.gamma", "bn.beta", "bn.running_mean",
                       "bn.running_var", "ln.gamma", "ln.beta"]
    assert c["bn.gamma"] is w["bn.weight"]                 # unchanged arrays are not copied
    same = convert_weights(w, layout="minicnn")
    assert list(same) == list(w) and all(same[k] is w[k] for k in w)


def test_keras_names_and_depthwise():
    dk = arr(3, 3, 4, 2, seed=3)
    w = OrderedDict([("conv/conv/kernel:0", arr(3, 3, 3, 4)), ("conv/conv/bias:0", arr(4)),
                     ("bn/bn/gamma:0", arr(4)), ("bn/bn/beta:0", arr(4)),
                     ("bn/bn/moving_mean:0", arr(4)), ("bn/bn/moving_variance:0", arr(4)),
                     ("dw/dw/depthwise_kernel:0", dk),
                     ("vgg/block1_conv1/kernel:0", arr(3, 3, 3, 2))])
    c = convert_weights(w, layout="keras")
    assert list(c) == ["conv.W", "conv.b", "bn.gamma", "bn.beta", "bn.running_mean",
                       "bn.running_var", "dw.W", "vgg.block1_conv1.W"]
    np.testing.assert_array_equal(c["conv.W"], w["conv/conv/kernel:0"])      # already HWIO
    assert c["dw.W"].shape == (3, 3, 1, 8)
    for ch in range(4):
        for k in range(2):   # Keras depthwise output channel c·k_total + k
            np.testing.assert_array_equal(c["dw.W"][:, :, 0, ch * 2 + k], dk[:, :, ch, k])


def test_keras3_roles_from_shapes():
    w = OrderedDict([("block1/layers/conv2d/vars/0", arr(3, 3, 3, 4)),
                     ("block1/layers/conv2d/vars/1", arr(4)),
                     ("layers/batch_normalization/vars/0", arr(4)),
                     ("layers/batch_normalization/vars/1", arr(4)),
                     ("layers/batch_normalization/vars/2", arr(4)),
                     ("layers/batch_normalization/vars/3", arr(4)),
                     ("layers/conv2d_1/vars/0", arr(1, 1, 4, 2)),                 # no bias
                     ("layers/dropout/seed_generator/vars/0", np.uint32([0, 42])),
                     ("layers/odd/vars/0", arr(3)), ("layers/odd/vars/1", arr(3)),
                     ("layers/odd/vars/2", arr(3))])                              # unknown
    assert list(convert_weights(w, layout="keras")) == [
        "block1.conv2d.W", "block1.conv2d.b", "batch_normalization.gamma",
        "batch_normalization.beta", "batch_normalization.running_mean",
        "batch_normalization.running_var", "conv2d_1.W", "odd.0", "odd.1", "odd.2"]


def test_nchw_flatten_to_nhwc_moves_rows():
    n_C, n_H, n_W, out = 3, 2, 4, 5
    W = arr(n_C * n_H * n_W, out)
    Wp = nchw_flatten_to_nhwc(W, n_C, n_H, n_W)
    for c in range(n_C):
        for h in range(n_H):
            for w_ in range(n_W):
                np.testing.assert_array_equal(Wp[(h * n_W + w_) * n_C + c],
                                              W[c * n_H * n_W + h * n_W + w_])
    with pytest.raises(ValueError, match=r"n_C\*n_H\*n_W=24.*got \(23, 5\)"):
        nchw_flatten_to_nhwc(W[:23], n_C, n_H, n_W)


# ------------------------------------------------------------------ layouts, against torch
@pytest.mark.torch
def test_converted_layers_compute_what_torch_computes():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = arr(2, 9, 9, 4, seed=1, dtype=np.float64)
    layers = {"conv": (torch.nn.Conv2d(4, 6, 3, stride=2, groups=2), dict(s=2, groups=2)),
              "dw": (torch.nn.Conv2d(4, 8, 3, groups=4), dict(groups=4)),
              "c1x1": (torch.nn.Conv2d(4, 5, 1, bias=False), {})}
    for name, (layer, kw) in layers.items():
        layer = layer.double()
        c = convert_weights(OrderedDict((f"{name}.{k}", v.detach().numpy())
                                        for k, v in layer.state_dict().items()))
        want = nhwc(layer(torch.from_numpy(nchw(x))).detach().numpy())
        got = conv2d_ref(x, c[f"{name}.W"], c.get(f"{name}.b"), **kw)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)

    ct = torch.nn.ConvTranspose2d(4, 3, 3, stride=2).double()
    c = convert_weights({f"ct.{k}": v.detach().numpy() for k, v in ct.state_dict().items()})
    assert c["ct.W"].shape == (3, 3, 3, 4)                  # (f, f, n_C_out, n_C_in)
    want = nhwc(ct(torch.from_numpy(nchw(x))).detach().numpy())
    np.testing.assert_allclose(conv_transpose2d_ref(x, c["ct.W"], c["ct.b"], s=2), want,
                               rtol=1e-10, atol=1e-12)

    # conv -> flatten -> linear: the Linear's rows follow torch's (n_C, n_H, n_W) flatten
    net = torch.nn.Sequential(torch.nn.Conv2d(4, 3, 3), torch.nn.Flatten(),
                              torch.nn.Linear(3 * 7 * 7, 5)).double()
    c = convert_weights({k: v.detach().numpy() for k, v in net.state_dict().items()})
    W_fc = nchw_flatten_to_nhwc(c["2.W"], n_C=3, n_H=7, n_W=7)
    a = conv2d_ref(x, c["0.W"], c["0.b"])
    got = a.reshape(2, -1) @ W_fc + c["2.b"]                 # minicnn's NHWC flatten
    want = net(torch.from_numpy(nchw(x))).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_minicnn_layers_match_torch_after_loading():
    torch = pytest.importorskip("torch")
    import minicnn
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Conv2d(4, 8, 3, groups=4),
                               torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 5)).eval()
    for p in tnet.parameters():
        p.data.normal_()
    tnet[1].running_mean.normal_(), tnet[1].running_var.uniform_(0.5, 2)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.DepthwiseConv2d(4, 3, depth_multiplier=2), nn.Flatten(),
                        nn.Linear(8 * 4 * 4, 5)).eval()
    w = convert_weights({k: v.numpy() for k, v in tnet.state_dict().items()})
    w["5.W"] = nchw_flatten_to_nhwc(w["5.W"], 8, 4, 4)
    load_into(net, w, layout="minicnn")
    x = arr(2, 6, 6, 3, seed=3)
    want = tnet(torch.from_numpy(nchw(x))).detach().numpy()
    got = net(minicnn.tensor(x)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------ load_into: names
class Net(nn.Module):
    """conv -> bn -> depthwise -> flatten -> fc, named as a torch model might be."""

    def __init__(self, fc_in=8 * 2 * 2):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.dw = nn.DepthwiseConv2d(4, 3, depth_multiplier=2, bias=False)
        self.fc = nn.Linear(fc_in, 5)


def torch_like_state(fc_in=8 * 2 * 2, dtype=np.float32):
    return OrderedDict([("conv1.weight", arr(4, 3, 3, 3, seed=1, dtype=dtype)),
                        ("conv1.bias", arr(4, seed=2, dtype=dtype)),
                        ("bn1.weight", arr(4, seed=3, dtype=dtype)),
                        ("bn1.bias", arr(4, seed=4, dtype=dtype)),
                        ("bn1.running_mean", arr(4, seed=5, dtype=dtype)),
                        ("bn1.running_var", np.abs(arr(4, seed=6, dtype=dtype))),
                        ("bn1.num_batches_tracked", np.array(3)),
                        ("dw.weight", arr(8, 1, 3, 3, seed=7, dtype=dtype)),
                        ("fc.weight", arr(5, fc_in, seed=8, dtype=dtype)),
                        ("fc.bias", arr(5, seed=9, dtype=dtype))])


def check_loaded(net, sd):
    np.testing.assert_array_equal(net.conv1.W.numpy(), sd["conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(net.conv1.b.numpy(), sd["conv1.bias"])
    np.testing.assert_array_equal(net.bn1.gamma.numpy(), sd["bn1.weight"])
    np.testing.assert_array_equal(net.bn1.beta.numpy(), sd["bn1.bias"])
    np.testing.assert_array_equal(net.bn1.running_mean.numpy(), sd["bn1.running_mean"])
    np.testing.assert_array_equal(net.bn1.running_var.numpy(), sd["bn1.running_var"])
    np.testing.assert_array_equal(net.dw.W.numpy(), sd["dw.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(net.fc.W.numpy(), sd["fc.weight"].T)
    for _, t in target_order(net).items():
        assert t.dtype == np.float32


def test_load_into_module_by_name(device):
    net = Net().to(device)
    sd = torch_like_state(dtype=np.float16)             # half weights load into a float32 model
    report = load_into(net, sd)
    assert isinstance(report, LoadReport) and not report.missing and not report.unexpected
    assert report.loaded["conv1.W"] == "conv1.weight" and "bn1.num_batches_tracked" not in \
        report.loaded.values()
    assert net.conv1.W.device == device
    check_loaded(net, OrderedDict((k, v.astype(np.float32)) for k, v in sd.items()))


def test_one_error_names_missing_unexpected_and_wrong_shapes():
    net = Net()
    before = net.state_dict()
    sd = torch_like_state(fc_in=7)                                    # wrong fc shape
    del sd["bn1.running_var"]                                         # missing
    sd["head.weight"] = arr(2, 2)                                     # unexpected
    with pytest.raises(WeightMismatchError) as e:
        load_into(net, sd)
    msg = str(e.value)
    assert "missing keys (1): bn1.running_var" in msg
    assert "unexpected keys (1): head.W (from head.weight)" in msg
    assert "fc.W: model (32, 5), got (7, 5) from fc.weight (5, 7)" in msg
    assert "mapping=" in msg                                          # the hint
    for k, v in net.state_dict().items():                             # nothing was loaded
        np.testing.assert_array_equal(v, before[k])
    # strict=False skips missing/unexpected, but a wrong shape is never loaded
    with pytest.raises(WeightMismatchError, match="wrong shapes"):
        load_into(net, sd, strict=False)
    sd = torch_like_state()
    del sd["bn1.running_var"]
    sd["head.weight"] = arr(2, 2)
    report = load_into(net, sd, strict=False)
    assert report.missing == ["bn1.running_var"]
    assert report.unexpected == ["head.W (from head.weight)"]
    np.testing.assert_array_equal(net.fc.b.numpy(), sd["fc.bias"])


def test_mapping_dict_prefixes_callable_and_drop():
    torch_names = {"conv1": "features.0", "bn1": "features.1", "dw": "features.3",
                   "fc": "classifier"}
    sd = OrderedDict((torch_names[k.split(".")[0]] + "." + k.split(".")[1], v)
                     for k, v in torch_like_state().items())
    sd["aux.weight"] = arr(3, 3)
    mapping = {"features.0": "conv1", "features.1": "bn1", "features.3.weight": "dw.W",
               "classifier": "fc", "aux": None}
    net = Net()
    report = load_into(net, sd, mapping=mapping)
    assert report.loaded["dw.W"] == "features.3.weight"
    check_loaded(net, torch_like_state())
    renamed = {"features.0": "conv1", "features.1": "bn1", "features.3": "dw"}

    def fn(name):
        if name.startswith("aux"):
            return None
        head, _, leaf = name.rpartition(".")
        return renamed.get(head, "fc") + "." + leaf
    net = Net()
    load_into(net, sd, mapping=fn)
    check_loaded(net, torch_like_state())
    assert list(rename({"a.weight": 1, "b.bias": 2}, {"a": "x"})) == ["x.weight", "b.bias"]
    with pytest.raises(WeightMismatchError, match="both map to 'fc.W'"):
        load_into(Net(), sd, mapping=lambda n: "fc.W")
    with pytest.raises(ValueError, match="mapping must be"):
        load_into(Net(), sd, mapping="alphabetical")


def test_dict_target_and_bad_arguments():
    target = OrderedDict([("conv1.W", np.zeros((3, 3, 3, 4), np.float32)),
                          ("conv1.b", np.zeros(4, np.float64))])
    sd = OrderedDict([("conv1.weight", arr(4, 3, 3, 3, dtype=np.float16)),
                      ("conv1.bias", arr(4, dtype=np.float16))])
    load_into(target, sd)
    assert target["conv1.W"].dtype == np.float32 and target["conv1.b"].dtype == np.float64
    np.testing.assert_array_equal(target["conv1.W"], sd["conv1.weight"].transpose(2, 3, 1, 0))
    with pytest.raises(TypeError, match="Module or a dict"):
        load_into([1, 2], sd)
    with pytest.raises(ValueError, match="layout must be one of"):
        load_into(target, sd, layout="caffe")


# ------------------------------------------------------------------ load_into: by order
class Renamed(nn.Module):
    def __init__(self, fc_in=8 * 2 * 2, head=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.body = nn.DepthwiseConv2d(4, 3, depth_multiplier=2, bias=False)
        if head:
            self.head = nn.Linear(fc_in, 5)


def test_order_mapping():
    sd = torch_like_state()
    net = Renamed()
    assert list(target_order(net)) == ["stem.0.W", "stem.0.b", "stem.1.gamma", "stem.1.beta",
                                       "stem.1.running_mean", "stem.1.running_var", "body.W",
                                       "head.W", "head.b"]
    report = load_into(net, sd, mapping="order")
    assert list(report.loaded.items())[0] == ("stem.0.W", "conv1.weight")
    np.testing.assert_array_equal(net.stem[1].running_var.numpy(), sd["bn1.running_var"])
    np.testing.assert_array_equal(net.head.W.numpy(), sd["fc.weight"].T)
    with pytest.raises(WeightMismatchError, match=r"by order failed:\n  wrong shapes \(1\):\n"
                       r"    #7 head.W: model \(32, 5\), got \(7, 5\) from fc.weight \(5, 7\)"):
        load_into(Renamed(), torch_like_state(fc_in=7), mapping="order")
    # a backbone without the head: an error naming the leftovers, or loaded with strict=False
    with pytest.raises(WeightMismatchError, match=r"unexpected keys \(2\): fc.weight, fc.bias"):
        load_into(Renamed(head=False), sd, mapping="order")
    report = load_into(Renamed(head=False), sd, mapping="order", strict=False)
    assert report.unexpected == ["fc.weight", "fc.bias"] and len(report.loaded) == 7


def keras3_functional_weights():
    """What read_keras_h5 returns for conv, bn, depthwise, bn, 1x1 conv, dropout, dense."""
    return OrderedDict([
        ("layers/conv2d/vars/0", arr(3, 3, 3, 4, seed=1)), ("layers/conv2d/vars/1", arr(4, seed=2)),
        *[(f"layers/batch_normalization/vars/{i}", arr(4, seed=3 + i)) for i in range(4)],
        ("layers/depthwise_conv2d/vars/0", arr(3, 3, 4, 2, seed=7)),
        ("layers/depthwise_conv2d/vars/1", arr(8, seed=8)),
        *[(f"layers/batch_normalization_1/vars/{i}", arr(8, seed=9 + i)) for i in range(4)],
        ("layers/conv2d_1/vars/0", arr(1, 1, 8, 6, seed=13)),
        ("layers/dropout/seed_generator/vars/0", np.uint32([0, 42])),
        ("layers/dense/vars/0", arr(6, 3, seed=14)), ("layers/dense/vars/1", arr(3, seed=15))])


def test_keras3_into_minicnn_by_order():
    w = keras3_functional_weights()
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.DepthwiseConv2d(4, 3, depth_multiplier=2), nn.BatchNorm2d(8),
                        nn.Conv2d(8, 6, 1, bias=False), nn.Dropout(0.5),
                        nn.GlobalAvgPool2d(), nn.Linear(6, 3))
    report = load_into(net, w, mapping="order", layout="keras")
    assert len(report.loaded) == 15                      # the seed generator is not a weight
    np.testing.assert_array_equal(net[0].W.numpy(), w["layers/conv2d/vars/0"])
    np.testing.assert_array_equal(net[1].running_var.numpy(),
                                  w["layers/batch_normalization/vars/3"])
    dk = w["layers/depthwise_conv2d/vars/0"]
    np.testing.assert_array_equal(net[3].W.numpy(), dk.reshape(3, 3, 1, 8))
    np.testing.assert_array_equal(net[8].W.numpy(), w["layers/dense/vars/0"])


def test_describe():
    text = describe(torch_like_state(), limit=2)
    assert "conv1.weight" in text and "(4, 3, 3, 3)" in text and "float32" in text
    assert "... 8 more" in text and "10 tensors, 366 numbers" in text


# ------------------------------------------------------------------ the real files, into minicnn
LITE0_BLOCKS = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
                (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
                (1, 3, 1, 6, 192, 320)]   # repeats, f, s, expansion, n_C_prev, n_C


class MBConv(nn.Module):
    """EfficientNet-Lite's inverted residual: 1x1 expand, depthwise, 1x1 project (no SE)."""

    def __init__(self, n_C_prev, n_C, f, s, expansion):
        super().__init__()
        mid = n_C_prev * expansion
        if expansion != 1:
            self.expand = nn.Conv2d(n_C_prev, mid, 1, bias=False)
            self.bn0 = nn.BatchNorm2d(mid, eps=1e-3)
        self.depthwise = nn.DepthwiseConv2d(mid, f, stride=s, padding="same", bias=False)
        self.bn1 = nn.BatchNorm2d(mid, eps=1e-3)
        self.project = nn.Conv2d(mid, n_C, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(n_C, eps=1e-3)
        self.residual = s == 1 and n_C_prev == n_C
        self.relu6 = nn.ReLU6()

    def forward(self, x):
        a = self.relu6(self.bn0(self.expand(x))) if "expand" in self._modules else x
        a = self.bn2(self.project(self.relu6(self.bn1(self.depthwise(a)))))
        return a + x if self.residual else a


class Lite0(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, stride=2, padding="same", bias=False)
        self.bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks = []
        for repeats, f, s, e, n_C_prev, n_C in LITE0_BLOCKS:
            for r in range(repeats):
                blocks.append(MBConv(n_C_prev if r == 0 else n_C, n_C, f, s if r == 0 else 1, e))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self.fc = nn.Linear(1280, 1000)
        self.relu6, self.pool = nn.ReLU6(), nn.GlobalAvgPool2d()

    def forward(self, x):
        a = self.relu6(self.bn0(self.stem(x)))
        for block in self.blocks:
            a = block(a)
        return self.fc(self.pool(self.relu6(self.bn1(self.head(a)))))


def torch_lite0(sd, x):
    """EfficientNet-Lite0 in torch.nn.functional, straight from the state dict (NCHW,
    TensorFlow's "same" padding: any odd extra row/column at the bottom/right)."""
    import torch
    import torch.nn.functional as TF
    t = {k: torch.from_numpy(v) for k, v in sd.items()}

    def conv(a, name, s=1, groups=1):
        w = t[name + ".weight"]
        n, f = a.shape[-1], w.shape[-1]
        pad = max((-(-n // s) - 1) * s + f - n, 0)
        a = TF.pad(a, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))
        return TF.conv2d(a, w, None, stride=s, groups=groups)

    def bn(a, name):
        return TF.batch_norm(a, t[name + ".running_mean"], t[name + ".running_var"],
                             t[name + ".weight"], t[name + ".bias"], False, 0.0, 1e-3)

    a, i = bn(conv(x, "_conv_stem", 2), "_bn0").clamp(0, 6), 0
    for repeats, f, s, e, n_C_prev, n_C in LITE0_BLOCKS:
        for r in range(repeats):
            p, a_prev, stride = f"_blocks.{i}.", a, s if r == 0 else 1
            if e != 1:
                a = bn(conv(a, p + "_expand_conv"), p + "_bn0").clamp(0, 6)
            a = bn(conv(a, p + "_depthwise_conv", stride, a.shape[1]), p + "_bn1").clamp(0, 6)
            a = bn(conv(a, p + "_project_conv"), p + "_bn2")
            a = a + a_prev if stride == 1 and a.shape == a_prev.shape else a
            i += 1
    a = bn(conv(a, "_conv_head"), "_bn1").clamp(0, 6)
    return TF.linear(a.mean((2, 3)), t["_fc.weight"], t["_fc.bias"])


def test_real_efficientnet_lite0_into_minicnn():
    from test_io_torch import efficientnet_lite0_path
    from minicnn.io.torch_pth import read_pth_state_dict
    sd = read_pth_state_dict(efficientnet_lite0_path())
    net = Lite0()
    report = load_into(net, sd, mapping="order")
    assert len(report.loaded) == 247 == len(sd) - 49          # every num_batches_tracked dropped
    np.testing.assert_array_equal(net.stem.W.numpy(), sd["_conv_stem.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(net.blocks[15].depthwise.W.numpy()[:, :, 0, :],
                                  sd["_blocks.15._depthwise_conv.weight"][:, 0].transpose(1, 2, 0))
    np.testing.assert_array_equal(net.fc.W.numpy(), sd["_fc.weight"].T)
    np.testing.assert_array_equal(net.bn1.running_var.numpy(), sd["_bn1.running_var"])
    # by name, with a rule: _blocks.3._expand_conv -> blocks.3.expand, ...
    parts = {"_conv_stem": "stem", "_conv_head": "head", "_blocks": "blocks",
             "_expand_conv": "expand", "_depthwise_conv": "depthwise", "_project_conv": "project"}
    load_into(Lite0(), sd, mapping=lambda n: ".".join(parts.get(p, p.lstrip("_"))
                                                      for p in n.split(".")))
    # the loaded network computes what the same weights compute in torch
    torch = pytest.importorskip("torch")
    import minicnn
    x = np.random.default_rng(0).uniform(-1, 1, (2, 48, 48, 3)).astype(np.float32)
    with minicnn.no_grad():
        got = net.eval()(minicnn.tensor(x)).numpy()
    with torch.no_grad():
        want = torch_lite0(sd, torch.from_numpy(nchw(x))).numpy()
    assert got.shape == (2, 1000) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
    assert (got.argmax(1) == want.argmax(1)).all()


def test_real_hed_into_minicnn():
    from test_io_keras import hed_weights_path
    from minicnn.io.keras_h5 import read_keras_h5
    w = read_keras_h5(hed_weights_path())
    trunk, n_prev = [], 3
    for n_C, n in zip((64, 128, 256, 512, 512), (2, 2, 3, 3, 3)):
        for _ in range(n):
            trunk.append(nn.Conv2d(n_prev, n_C, 3, padding="same"))
            n_prev = n_C
    sides = [nn.Conv2d(n_C, 1, 1) for n_C in (64, 128, 256, 512, 512)] + [nn.Conv2d(5, 1, 1)]
    net = nn.Sequential(OrderedDict([("vgg", nn.ModuleList(trunk)),
                                     ("sides", nn.ModuleList(sides))]))
    report = load_into(net, w, mapping="order", layout="keras")
    assert len(report.loaded) == 38
    np.testing.assert_array_equal(net.vgg[12].W.numpy(), w["block5/layers/conv2d_2/vars/0"])
    np.testing.assert_array_equal(net.sides[5].b.numpy(), w["fuse/vars/1"])
    # the converted names, for a mapping by name
    assert list(convert_weights(w, layout="keras"))[:3] == ["block1.conv2d.W", "block1.conv2d.b",
                                                            "block1.conv2d_1.W"]
