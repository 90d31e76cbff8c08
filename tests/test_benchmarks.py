"""The benchmark scripts run and print their tables (smoke tests: no timing is checked).

The figures in the README and in the issues' closing notes come from these scripts, so a
change that breaks one of them (a renamed engine function, a new argument) should fail
here rather than at the next measurement. Each script runs in its own process, on its
smallest setting: benchmarks set the BLAS threads before NumPy loads. The helpers that
measure floors are checked in this process, on a tiny model (they time nothing here).
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

CASES = {
    "conv": (["benchmarks/conv.py", "--rows", "lenet", "maxpool", "--repeat", "1",
              "--no-torch"], ["LeNet conv1", "max-pool 2×2/2"]),
    "train": (["benchmarks/train.py", "--repeat", "1", "--batch", "4"],
              ["LeNet-5 28×28×1", "small ResNet 32×32×3", "one tiny op", "GEMMs ms",
               "im2col ms"]),
    "models": (["benchmarks/models.py", "--models", "mobilenet_v2", "--batch", "1",
                "--repeat", "1", "--no-torch"], ["mobilenet_v2", "GEMMs ms", "im2col ms"]),
    "batchnorm": (["benchmarks/batchnorm.py", "--repeat", "1"],
                  ["minicnn ms", "passes", "on 2 threads ms"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_benchmark_runs_and_prints_its_table(name):
    args, expected = CASES[name]
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    for text in expected:
        assert text in run.stdout, run.stdout[-2000:]
    checks = [line for line in run.stdout.splitlines() if line.startswith("machine check")]
    assert len(checks) == 2, run.stdout[-2000:]              # above and below the table
    assert all(("ms on 1" in c and ("normal" in c or "DEGRADED" in c)) or "skipped" in c
               for c in checks)


def test_models_parts_groups_both_sides_under_the_same_labels():
    """``models.py --parts``: PyTorch's profiler events land in minicnn's rows (the
    depthwise convs recognised by their groups, the 1×1 by their kernel)."""
    pytest.importorskip("torch", reason="--parts profiles PyTorch's step beside minicnn's")
    args = ["benchmarks/models.py", "--models", "mobilenet_v2", "--batch", "2", "--repeat",
            "1", "--parts"]
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {}
    for line in run.stdout.splitlines():
        match = re.match(r"^(\S.*?)\s{2,}([\d.]+)\s+([\d.]+)\s", line)
        if match:
            rows[match[1]] = (float(match[2]), float(match[3]))
    for label in ("ConvNd 3×3 depthwise", "ConvNd 1×1", "ConvNd 3×3", "BatchNorm", "ReLU6",
                  "step (profiled)"):
        assert label in rows and min(rows[label]) > 0, (label, run.stdout[-3000:])


def test_the_floors_see_the_gemm_convolutions_of_a_model(monkeypatch):
    """conv_layers finds the convolutions that run as im2col + GEMM (not the depthwise
    one) with their GEMM sizes; im2col_pass copies the windows of those that have any."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "benchmarks"))
    import _common

    from minicnn import nn
    from minicnn.functional.im2col import Windows
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 8, 1),
                          nn.Conv2d(8, 8, 3, groups=8, padding=1))
    layers = _common.conv_layers(model, (2, 5, 5, 1))
    assert [layer["gemm"] for layer in layers] == [(50, 9, 4, False, True),
                                                   (50, 4, 8, True, True)]
    _common.gemm_floor([layer["gemm"] for layer in layers])()
    copied = []
    real_take = Windows.take
    monkeypatch.setattr(Windows, "take",
                        lambda self, block, **kw: copied.append(self.shape)
                        or real_take(self, block, **kw))
    _common.im2col_pass(layers)()
    assert copied == [(2, 5, 5, 1)]                      # the 1×1 conv needs no copy
    assert _common.im2col_pass(layers[1:]) is None and _common.gemm_floor([]) is None
