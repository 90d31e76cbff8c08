"""Models: parameter counts against the published ones, output shapes, small forward and
backward passes, the registry the CLI uses, compound scaling."""
from __future__ import annotations

import numpy as np
import pytest

import minicnn
import minicnn.functional as F
import minicnn.models as M
import minicnn.nn as nn
from minicnn import Tensor, no_grad
from minicnn.models import count_parameters, get_model, list_models
from minicnn.nn.blocks import make_divisible

from conftest import rand


@pytest.fixture
def shapes_only(monkeypatch):
    """Build a model without drawing its weights: every parameter is a read-only,
    zero-strided view of the right shape (``np.broadcast_to``), so even a 66 M-parameter
    model costs no memory. Only the shapes, which are what a parameter count checks."""
    def initial_value(init, shape, dtype=np.float32):
        return np.broadcast_to(np.zeros((), dtype), tuple(int(n) for n in shape))
    monkeypatch.setattr(minicnn.nn.init, "initial_value", initial_value)


# (builder, kwargs, expected, with BatchNorm statistics as Keras counts)
PUBLISHED = {
    "lenet5": (M.lenet5, {}, 61_706, False),
    "alexnet": (M.alexnet, {}, 62_378_344, False),
    "vgg16": (M.vgg16, {}, 138_357_544, False),
    "vgg19": (M.vgg19, {}, 143_667_240, False),
    "resnet18": (M.resnet18, {}, 11_689_512, False),
    "resnet34": (M.resnet34, {}, 21_797_672, False),
    "resnet50": (M.resnet50, {}, 25_557_032, False),
    "resnet101": (M.resnet101, {}, 44_549_160, False),
    "resnet20": (M.resnet20, {}, 272_474, False),
    "mobilenet_v1": (M.mobilenet_v1, {}, 4_231_976, False),
    "mobilenet_v2": (M.mobilenet_v2, {}, 3_504_872, False),
    "efficientnet_lite0": (M.efficientnet_lite0, {}, 4_652_008, False),
    "course_resnet50": (M.course_resnet50, {}, 23_600_006, True),
    "mobilenet_v2_base": (M.mobilenet_v2_base, {}, 2_257_984, True),
    **{f"efficientnet_b{k}": (getattr(M, f"efficientnet_b{k}"), {}, n, False)
       for k, n in enumerate([5_288_548, 7_794_184, 9_109_994, 12_233_232, 19_341_616,
                              30_389_784, 43_040_704, 66_347_960])},
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_published(name, shapes_only):
    build, kwargs, expected, buffers = PUBLISHED[name]
    assert count_parameters(build(**kwargs), buffers=buffers) == expected


def test_vgg16_layout_is_torchvision(shapes_only):
    """VGG-16: 138,357,544 parameters, laid out as torchvision's (features.28 is the last
    conv, classifier.0 reads the 7×7×512 = 25,088 values the convs leave)."""
    model = M.vgg16()
    assert count_parameters(model) == 138_357_544
    names = dict(model.named_parameters())
    assert names["features.28.W"].shape == (3, 3, 512, 512)
    assert names["classifier.0.W"].shape == (25088, 4096)
    assert names["classifier.6.W"].shape == (4096, 1000)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 5


def test_keras_counts_split_like_keras():
    """Keras prints the course ResNet-50 as 23,546,886 trainable + 53,120 non-trainable."""
    model = M.course_resnet50()
    assert count_parameters(model) == 23_546_886
    assert count_parameters(model, buffers=True) - count_parameters(model) == 53_120
    base = M.mobilenet_v2_base()
    assert count_parameters(base) == 2_223_872


# ------------------------------------------------------------------ registry
def test_registry_lists_and_builds():
    names = list_models()
    for expected in ("lenet5", "alexnet", "vgg16", "vgg19", "resnet18", "resnet34",
                     "resnet50", "googlenet", "mobilenet_v1", "mobilenet_v2",
                     "efficientnet_b0", "efficientnet_b7", "efficientnet_lite0",
                     "course_resnet50", "resnet8", "resnet20"):
        assert expected in names
    model = get_model("resnet-18", num_classes=10, input_shape=(28, 28, 1))
    assert model.conv1.W.shape == (3, 3, 1, 64) and model.fc.W.shape == (512, 10)
    assert model.stem == "small"
    model = get_model("lenet5", num_classes=10, input_shape=(28, 28, 1))
    assert model.features[0].padding == 2
    with pytest.raises(ValueError, match="did you mean resnet50"):
        get_model("resnet05")


def test_every_registered_model_takes_num_classes_and_input_shape(shapes_only):
    for name in list_models():
        size = 96 if name in ("alexnet",) else 64
        model = get_model(name, num_classes=7, input_shape=(size, size, 3))
        heads = [p for n, p in model.named_parameters()
                 if n.endswith(".W") and p.ndim == 2]
        assert heads[-1].shape[-1] == 7, name


def test_registry_googlenet_gives_one_output_unless_asked(shapes_only):
    assert get_model("googlenet").aux_logits is False
    assert get_model("googlenet", aux_logits=True).aux_logits is True
    assert M.googlenet().aux_logits is True


def test_registry_course_resnet50_gives_logits(shapes_only):
    model = get_model("course_resnet50")
    assert model.softmax is False and M.course_resnet50().softmax is True


# ------------------------------------------------------------------ forward and backward
def _train_step(model, x, y):
    model.train()
    out = model(Tensor(x))
    loss = F.cross_entropy(out, y)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == np.float32 for g in grads)
    assert np.isfinite(loss.item())
    return out


@pytest.mark.parametrize("name,shape,classes", [
    ("lenet5", (32, 32, 1), 10), ("lenet5", (28, 28, 1), 10), ("resnet8", (28, 28, 1), 10),
    ("resnet20", (32, 32, 3), 10)])
def test_small_models_forward_backward(name, shape, classes):
    model = get_model(name, num_classes=classes, input_shape=shape)
    x = rand(3, *shape, dtype=np.float32)
    out = _train_step(model, x, np.array([0, 1, 2]))
    assert out.shape == (3, classes) and out.dtype == np.float32


def test_lenet5_shapes_follow_the_lecture():
    model = M.lenet5()
    shapes = []
    a = Tensor(rand(2, 32, 32, 1, dtype=np.float32))
    for layer in model.features:
        a = layer(a)
        shapes.append(a.shape[1:])
    assert shapes[:8] == [(28, 28, 6), (28, 28, 6), (14, 14, 6), (10, 10, 16), (10, 10, 16),
                          (5, 5, 16), (1, 1, 120), (1, 1, 120)]
    assert isinstance(model.features[2], nn.AvgPool2d)


@pytest.mark.parametrize("name,shape", [
    ("resnet18", (32, 32, 3)), ("resnet50", (64, 64, 3)), ("mobilenet_v1", (64, 64, 3)),
    ("mobilenet_v2", (64, 64, 3)), ("efficientnet_b0", (64, 64, 3)),
    ("efficientnet_lite0", (64, 64, 3))])
def test_models_output_shapes(name, shape):
    model = get_model(name, num_classes=5, input_shape=shape)
    model.eval()
    with no_grad():
        out = model(Tensor(rand(1, *shape, dtype=np.float32)))
    assert out.shape == (1, 5) and out.dtype == np.float32
    assert np.all(np.isfinite(out.numpy()))


@pytest.mark.parametrize("name,shape", [("vgg16", (32, 32, 3)), ("vgg19", (64, 64, 3)),
                                        ("alexnet", (67, 67, 3)), ("alexnet", (227, 227, 3))])
def test_big_models_wiring(name, shape, shapes_only):
    """The layers of the 60–140 M-parameter models fit together (shapes only: their
    weights are zero views, so the forward is cheap in memory)."""
    model = get_model(name, num_classes=5, input_shape=shape)
    model.eval()
    with no_grad():
        a = model.features(Tensor(rand(1, *shape, dtype=np.float32)))
    if name == "alexnet" and shape[0] == 227:
        assert a.shape == (1, 9216)                    # 6 × 6 × 256, as in the lecture
    flat = a.shape[1] if a.ndim == 2 else int(np.prod(a.shape[1:]))
    assert model.classifier[0 if name.startswith("vgg") else 1].W.shape[0] == flat


def test_mobilenet_v2_backward_float32():
    model = M.mobilenet_v2(num_classes=4, input_shape=(32, 32, 3), width_mult=0.35)
    _train_step(model, rand(2, 32, 32, 3, dtype=np.float32), np.array([1, 3]))


def test_efficientnet_backward_float32():
    model = M.efficientnet_b0(num_classes=3, input_shape=(32, 32, 3))
    _train_step(model, rand(2, 32, 32, 3, dtype=np.float32), np.array([0, 2]))


def test_resnet_stems(shapes_only):
    big = M.resnet18(input_shape=(224, 224, 3))
    assert big.stem == "imagenet" and big.conv1.W.shape == (7, 7, 3, 64)
    assert big.conv1.stride == 2 and isinstance(big.maxpool, nn.MaxPool2d)
    small = M.resnet18(input_shape=(32, 32, 3))
    assert small.stem == "small" and isinstance(small.maxpool, nn.Identity)
    forced = M.resnet18(input_shape=(32, 32, 3), stem="imagenet")
    assert forced.conv1.W.shape == (7, 7, 3, 64)
    r50 = M.resnet50()
    assert r50.layer2[0].conv2.stride == 2 and r50.layer2[0].conv1.stride == 1   # v1.5
    assert r50.layer4[2].conv3.W.shape == (1, 1, 512, 2048) and r50.num_features == 2048
    with pytest.raises(ValueError, match="stem"):
        M.resnet18(stem="tiny")


def test_googlenet_aux_classifiers_in_training_only():
    model = M.googlenet(num_classes=4, input_shape=(32, 32, 3))
    x = Tensor(rand(2, 32, 32, 3, dtype=np.float32))
    model.train()
    out = model(x)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 4)] * 3
    loss = M.GoogLeNet.loss(out, np.array([0, 3]))
    expected = sum(w * F.cross_entropy(o, np.array([0, 3])).item()
                   for w, o in zip((1, 0.3, 0.3), out))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert model.aux1.fc2.W.grad is not None and model.inception5b.branch1[0].W.grad is not None
    model.eval()
    with no_grad():
        logits = model(x)
    assert isinstance(logits, Tensor) and logits.shape == (2, 4)
    no_aux = M.googlenet(num_classes=4, input_shape=(32, 32, 3), aux_logits=False)
    assert not hasattr(no_aux, "aux1") or no_aux._modules.get("aux1") is None
    assert isinstance(no_aux(x), Tensor)


def test_googlenet_shapes_at_224(shapes_only):
    model = M.googlenet()
    assert model.aux1.fc1.W.shape == (2048, 1024)          # 4×4×128 after the 5×5/3 pool
    assert model.inception5b.out_channels == 1024 and model.inception4d.out_channels == 528


def test_course_resnet50_layout(shapes_only):
    model = M.course_resnet50()
    assert model.stage3[0].conv1.stride == 2 and model.stage2[0].conv1.stride == 1
    assert model.fc.W.shape == (2048, 6) and model.conv1.b is not None
    with pytest.raises(ValueError, match="input_shape"):
        M.course_resnet50(input_shape=(64, 64))


def test_mobilenet_v1_width_and_resolution_multipliers(shapes_only):
    full = M.mobilenet_v1()
    half = M.mobilenet_v1(alpha=0.5)
    assert half.features[1].pointwise[0].W.shape == (1, 1, 16, 32)
    ratio = count_parameters(half.features) / count_parameters(full.features)
    assert 0.24 < ratio < 0.30                                  # ≈ α² for the conv layers
    low = M.mobilenet_v1(rho=160 / 224)
    assert low.input_shape == (160, 160, 3)
    assert count_parameters(low) == count_parameters(full)      # ρ costs no parameters
    with pytest.raises(ValueError, match="alpha"):
        M.mobilenet_v1(alpha=0)


def test_mobilenet_v1_cost_ratio_in_summary():
    model = M.mobilenet_v1(num_classes=10, input_shape=(32, 32, 3), alpha=0.25)
    text = str(nn.summary(model, (32, 32, 3), print_fn=None))
    assert "1/16 + 1/9 = 0.174" in text and "1/256 + 1/9 = 0.115" in text


def test_mobilenet_v2_layout_is_torchvision(shapes_only):
    model = M.mobilenet_v2()
    names = dict(model.named_parameters())
    assert names["features.1.conv.0.0.W"].shape == (3, 3, 1, 32)
    assert names["features.2.conv.0.0.W"].shape == (1, 1, 16, 96)
    assert names["features.17.conv.2.W"].shape == (1, 1, 960, 320)
    assert names["features.18.0.W"].shape == (1, 1, 320, 1280)
    assert names["classifier.1.W"].shape == (1280, 1000)
    skips = [b.use_res_connect for b in list(model.features)[1:18]]
    assert sum(skips) == 10


# ------------------------------------------------------------------ EfficientNet scaling
def test_compound_coefficients():
    w, d, r = M.compound_coefficients(1)
    assert (w, d, r) == (pytest.approx(1.1), pytest.approx(1.2), 258)
    assert 1.2 * 1.1 ** 2 * 1.15 ** 2 == pytest.approx(1.92, abs=0.01)   # FLOPs ×2 per step
    w7, d7, r7 = M.compound_coefficients(7)
    assert r7 == 596 and w7 == pytest.approx(1.949, abs=1e-3)


def test_efficientnet_scaled_follows_the_rule(shapes_only):
    b0 = M.efficientnet_scaled(0)
    assert count_parameters(b0) == 5_288_548 and b0.input_shape == (224, 224, 3)
    net = M.efficientnet_scaled(2)                 # d = 1.44, w = 1.21, r = 297
    w, d, r = M.compound_coefficients(2)
    assert net.input_shape == (r, r, 3)
    stages = list(net.features)[1:-1]
    assert [len(s) for s in stages] == [int(np.ceil(d * n)) for n in (1, 2, 2, 3, 3, 4, 1)]
    assert stages[0][0].in_channels == make_divisible(32 * w)
    assert list(net.features)[-1][0].W.shape[-1] == make_divisible(1280 * w)


def test_efficientnet_b0_structure(shapes_only):
    net = M.efficientnet_b0()
    blocks = net.blocks()
    assert len(blocks) == 16
    assert [b.stochastic_depth.p for b in blocks[:3]] == [0.0, 0.0, pytest.approx(0.2 * 2 / 16)]
    assert all(b.se_ratio == 0.25 for b in blocks)
    assert type(net.features[0][2]).__name__ == "Swish"
    lite = M.efficientnet_lite0()
    assert all(not b.se_ratio for b in lite.blocks())
    assert type(lite.features[0][2]).__name__ == "ReLU6"
    assert lite.features[0][0].padding == "same"


def test_keras_mobilenet_v2_names_load_a_keras_file_layout():
    """Keras's layer names map onto the course's MobileNetV2 base: a state dict laid out
    as Keras 2 saves it (``block_1_depthwise/block_1_depthwise/depthwise_kernel:0``, …)
    loads into every parameter and buffer, with depthwise kernels reshaped."""
    from minicnn.io.convert import load_into
    from minicnn.models.keras_course import keras_mobilenet_v2_names
    base = M.mobilenet_v2_base(input_shape=(96, 96, 3))
    modules = dict(base.named_modules())
    rng = np.random.default_rng(0)
    keras = {}
    for layer, path in keras_mobilenet_v2_names().items():
        module = modules[path]
        if isinstance(module, nn.BatchNorm2d):
            for role in ("gamma", "beta", "moving_mean", "moving_variance"):
                keras[f"{layer}/{layer}/{role}:0"] = rng.random(module.num_features)
        elif module.groups > 1:                          # Keras: (f, f, C, depth_multiplier)
            f_H, f_W, _, C = module.W.shape
            keras[f"{layer}/{layer}/depthwise_kernel:0"] = rng.random((f_H, f_W, C, 1))
        else:
            keras[f"{layer}/{layer}/kernel:0"] = rng.random(module.W.shape)
    report = load_into(base, keras, mapping=keras_mobilenet_v2_names(), layout="keras")
    assert not report.missing and not report.unexpected
    dw = keras["block_5_depthwise/block_5_depthwise/depthwise_kernel:0"]
    np.testing.assert_allclose(modules["6.conv.1.0"].W.numpy(), dw.reshape(3, 3, 1, -1),
                               rtol=1e-6)
    np.testing.assert_allclose(modules["18.1"].running_var.numpy(),
                               keras["Conv_1_bn/Conv_1_bn/moving_variance:0"], rtol=1e-6)


def _torchvision_resnet50_state():
    """torchvision's ResNet-50 state dict, key for key and shape for shape, written out
    from its layout (Bottleneck v1.5; num_batches_tracked included), random values."""
    rng = np.random.default_rng(0)
    state = {}

    def conv(name, n_out, n_in, f):
        state[f"{name}.weight"] = rng.standard_normal((n_out, n_in, f, f), dtype=np.float32)

    def bn(name, n):
        for leaf in ("weight", "bias", "running_mean"):
            state[f"{name}.{leaf}"] = rng.standard_normal(n, dtype=np.float32)
        state[f"{name}.running_var"] = rng.random(n, dtype=np.float32) + 0.5
        state[f"{name}.num_batches_tracked"] = np.array(7, np.int64)
    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    n_in = 64
    for i, (n, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for j in range(n):
            p = f"layer{i}.{j}"
            conv(f"{p}.conv1", width, n_in, 1)
            bn(f"{p}.bn1", width)
            conv(f"{p}.conv2", width, width, 3)
            bn(f"{p}.bn2", width)
            conv(f"{p}.conv3", 4 * width, width, 1)
            bn(f"{p}.bn3", 4 * width)
            if j == 0:
                conv(f"{p}.downsample.0", 4 * width, n_in, 1)
                bn(f"{p}.downsample.1", 4 * width)
            n_in = 4 * width
    state["fc.weight"] = rng.standard_normal((1000, 2048), dtype=np.float32)
    state["fc.bias"] = rng.standard_normal(1000, dtype=np.float32)
    return state


def test_resnet50_takes_a_torchvision_state_dict_key_for_key(shapes_only):
    """Every key of torchvision's ResNet-50 (320 arrays, BatchNorm statistics included)
    lands by name, strictly: none missing, none unexpected, every shape converted."""
    from minicnn.io.convert import load_into
    state = _torchvision_resnet50_state()
    assert len(state) == 320 and sum(a.size for k, a in state.items()
                                     if "running" not in k and "num_batches" not in k) \
        == 25_557_032
    model = M.resnet50()
    report = load_into(model, state, strict=True)
    assert not report.missing and not report.unexpected
    np.testing.assert_array_equal(model.layer3[5].conv2.W.numpy(),
                                  state["layer3.5.conv2.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(model.layer2[0].downsample[1].running_var.numpy(),
                                  state["layer2.0.downsample.1.running_var"])
    np.testing.assert_array_equal(model.fc.W.numpy(), state["fc.weight"].T)


@pytest.mark.parametrize("name", M.list_models())
def test_every_model_is_built_for_the_smallest_images_it_takes(name, shapes_only, capsys):
    """What ``minicnn train`` relies on to train any model on any dataset: a too small
    ``input_shape`` raises InputTooSmall with the least size that works, and the model
    built for that size runs (forward, evaluation mode)."""
    from minicnn.cli.train import _model_for
    from minicnn.models._common import InputTooSmall
    for data_shape in ((8, 8, 1), (28, 28, 1)):
        model, shape = _model_for(name, 10, data_shape)
        assert shape[2] == data_shape[2] and shape[0] == shape[1] >= data_shape[0]
        if shape != data_shape:
            with pytest.raises(InputTooSmall) as e:
                M.get_model(name, num_classes=10, input_shape=(shape[0] - 1,) * 2 + (1,))
            assert e.value.min_size == shape[0]
    if M.count_parameters(model) < 50_000_000:       # the big dense layers: shapes only
        model.eval()
        logits = model(np.zeros((1,) + shape, np.float32))
        assert logits.shape == (1, 10)
