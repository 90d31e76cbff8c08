"""Whole-network speed: a training step (forward + backward) of minicnn's models against
the same networks written in PyTorch, in the same process.

    python benchmarks/models.py                          # ResNet-50 and MobileNetV2
    python benchmarks/models.py --models resnet50 --repeat 9 --threads 2
    python benchmarks/models.py --models mobilenet_v2 --parts   # where the step's time goes

=============  ==========================================  ============
row            network                                     batch
=============  ==========================================  ============
resnet50       ResNet-50 (torchvision layout), 6 classes   8 × 64×64×3
mobilenet_v2   MobileNetV2, 6 classes                      8 × 96×96×3
course_resnet  the course's Keras ResNet-50, 6 classes     8 × 64×64×3
=============  ==========================================  ============

Each step is a training step without the optimiser: forward in training mode (BatchNorm
on batch statistics), cross-entropy, backward to every parameter. torchvision is not
needed: the PyTorch networks are built here from ``torch.nn`` with torchvision's names,
and before timing minicnn's weights are copied into them and the two evaluation-mode
outputs compared, so both sides are the same network. minicnn and
PyTorch (``--threads`` threads each) are timed in turn, run after run (see
``_common.interleaved_ms``); the ratio is minicnn over the faster PyTorch layout.
``--parts`` adds, per model, the step's time by kind of op on each side (see ``_parts``).
"""
from __future__ import annotations

import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _parts import PARTS_HEADERS, parts_rows, profile_parts  # noqa: E402
from _common import (add_timing_args, conv_floors, fmt, import_torch,  # noqa: E402
                     interleaved_ms, limit_threads, machine, machine_check, print_table,
                     timing)

MODELS = {"resnet50": (64, 3), "mobilenet_v2": (96, 3), "course_resnet": (64, 3)}


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"],
                   choices=list(MODELS))
    p.add_argument("--batch", type=int, default=8)
    add_timing_args(p, repeat=5)
    p.add_argument("--no-torch", action="store_true", help="time minicnn alone")
    p.add_argument("--parts", action="store_true",
                   help="also profile each step by kind of op, minicnn against PyTorch's "
                        "faster layout")
    return p.parse_args()


ARGS = parse()
limit_threads(ARGS.threads)

import numpy as np  # noqa: E402

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
import minicnn.models as M  # noqa: E402
from minicnn import Tensor  # noqa: E402

torch = None if ARGS.no_torch else import_torch(ARGS.threads)


# ------------------------------------------------------------------ PyTorch references
def torch_resnet50(num_classes):
    """torchvision's ResNet-50 (Bottleneck v1.5), from torch.nn, with torchvision's names."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, n_in, width, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(n_in, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(4 * width)
            self.relu = nn.ReLU()
            self.downsample = (nn.Sequential(nn.Conv2d(n_in, 4 * width, 1, stride, bias=False),
                                             nn.BatchNorm2d(4 * width))
                               if stride != 1 or n_in != 4 * width else None)

        def forward(self, x):
            s = x if self.downsample is None else self.downsample(x)
            a = self.relu(self.bn1(self.conv1(x)))
            a = self.relu(self.bn2(self.conv2(a)))
            return self.relu(self.bn3(self.conv3(a)) + s)

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            n_in = 64
            for i, (n, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
                blocks = []
                for j in range(n):
                    blocks.append(Bottleneck(n_in, width, 2 if i > 0 and j == 0 else 1))
                    n_in = 4 * width
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.fc = nn.Linear(2048, num_classes)

        def forward(self, x):
            a = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            a = self.layer4(self.layer3(self.layer2(self.layer1(a))))
            return self.fc(a.mean(dim=(2, 3)))

    return ResNet50()


def torch_course_resnet50(num_classes):
    """The course's Keras ResNet-50 (stride on the first 1×1, conv biases, "same" padding
    of the 3×3 convs, zero-pad 3, 2×2 average pool), from torch.nn with minicnn's names."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, n_in, filters, s, projection):
            super().__init__()
            F1, F2, F3 = filters
            self.conv1, self.bn1 = nn.Conv2d(n_in, F1, 1, s), nn.BatchNorm2d(F1, eps=1e-3)
            self.conv2, self.bn2 = nn.Conv2d(F1, F2, 3, 1, 1), nn.BatchNorm2d(F2, eps=1e-3)
            self.conv3, self.bn3 = nn.Conv2d(F2, F3, 1), nn.BatchNorm2d(F3, eps=1e-3)
            self.downsample = (nn.Sequential(nn.Conv2d(n_in, F3, 1, s),
                                             nn.BatchNorm2d(F3, eps=1e-3))
                               if projection else None)

        def forward(self, x):
            s = x if self.downsample is None else self.downsample(x)
            a = torch.relu(self.bn1(self.conv1(x)))
            a = torch.relu(self.bn2(self.conv2(a)))
            return torch.relu(self.bn3(self.conv3(a)) + s)

    class CourseResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2)
            self.bn_conv1 = nn.BatchNorm2d(64, eps=1e-3)
            n_in = 64
            for k, (filters, s, n_id) in enumerate(M.keras_course.RESNET50_STAGES, start=2):
                blocks = [Block(n_in, filters, s, True)]
                blocks += [Block(filters[2], filters, 1, False) for _ in range(n_id)]
                setattr(self, f"stage{k}", nn.Sequential(*blocks))
                n_in = filters[2]
            self.fc = nn.Linear(2048, num_classes)

        def forward(self, x):
            a = torch.nn.functional.pad(x, (3, 3, 3, 3))
            a = torch.nn.functional.max_pool2d(torch.relu(self.bn_conv1(self.conv1(a))), 3, 2)
            a = self.stage5(self.stage4(self.stage3(self.stage2(a))))
            a = torch.nn.functional.avg_pool2d(a, 2)
            return self.fc(a.permute(0, 2, 3, 1).flatten(1))     # Keras flattens NHWC

    return CourseResNet50()


def torch_mobilenet_v2(num_classes):
    """torchvision's MobileNetV2, from torch.nn, with torchvision's names."""
    nn = torch.nn

    def cbr(n_in, n_out, f=3, s=1, groups=1):
        return nn.Sequential(nn.Conv2d(n_in, n_out, f, s, (f - 1) // 2, groups=groups,
                                       bias=False), nn.BatchNorm2d(n_out), nn.ReLU6())

    class InvertedResidual(nn.Module):
        def __init__(self, n_in, n_out, s, t):
            super().__init__()
            hidden = n_in * t
            layers = [cbr(n_in, hidden, 1)] if t != 1 else []
            layers += [cbr(hidden, hidden, 3, s, hidden), nn.Conv2d(hidden, n_out, 1, bias=False),
                       nn.BatchNorm2d(n_out)]
            self.conv = nn.Sequential(*layers)
            self.skip = s == 1 and n_in == n_out

        def forward(self, x):
            return x + self.conv(x) if self.skip else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            layers, n_in = [cbr(3, 32, 3, 2)], 32
            for t, c, n, s in M.mobilenet.V2_SETTINGS:
                for i in range(n):
                    layers.append(InvertedResidual(n_in, c, s if i == 0 else 1, t))
                    n_in = c
            layers.append(cbr(320, 1280, 1))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

        def forward(self, x):
            return self.classifier(self.features(x).mean(dim=(2, 3)))

    return MobileNetV2()


BUILDERS = {
    "resnet50": (lambda: M.resnet50(6, (64, 64, 3)), torch_resnet50),
    "mobilenet_v2": (lambda: M.mobilenet_v2(6, (96, 96, 3)), torch_mobilenet_v2),
    "course_resnet": (lambda: M.course_resnet50((64, 64, 3), 6, softmax=False),
                      torch_course_resnet50),
}


def _to_torch_names(ref):
    """minicnn name → the PyTorch reference's name, converting layouts on the way."""
    torch_state = ref.state_dict()

    def rename(name):
        module, leaf = name.rsplit(".", 1)
        leaf = {"W": "weight", "b": "bias", "gamma": "weight", "beta": "bias"}.get(leaf, leaf)
        return f"{module}.{leaf}" if f"{module}.{leaf}" in torch_state else None
    return rename


def to_torch_layout(state):
    """minicnn arrays (HWIO, (in, out)) → PyTorch's (OIHW, (out, in))."""
    out = {}
    for k, v in state.items():
        out[k] = v.transpose(3, 2, 0, 1) if v.ndim == 4 else (v.T if v.ndim == 2 else v)
    return out


def closures(name, x, y):
    build, build_ref = BUILDERS[name]
    minicnn.manual_seed(0)
    model = build()
    model.train()

    def step():
        model.zero_grad()
        F.cross_entropy(model(Tensor(x)), y).backward()

    result = {"minicnn": step, "params": M.count_parameters(model)}
    if torch is not None:
        result.update(torch_closures(model, build_ref, x, y))
    # After the comparison: this forward pass moves BatchNorm's running statistics.
    result.update(conv_floors(model, x.shape))
    return result


def torch_closures(model, build_ref, x, y):
    """The same network in PyTorch, its outputs compared with minicnn's, and its steps."""
    result = {}
    ref = build_ref(6)
    ours = {k: v for k, v in model.state_dict().items()}
    names = _to_torch_names(ref)
    ref.load_state_dict({names(k): torch.from_numpy(np.ascontiguousarray(v)) for k, v in
                         to_torch_layout(ours).items() if names(k) is not None},
                        strict=False)
    assert sum(p.numel() for p in ref.parameters()) == M.count_parameters(model), type(ref)
    model.eval()
    ref.eval()
    with minicnn.no_grad():
        z = model(Tensor(x)).numpy()
    with torch.no_grad():
        z_ref = ref(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    result["max |Δ logits|"] = float(np.abs(z - z_ref).max() / np.abs(z_ref).max())
    model.train()
    ref.train()
    ty = torch.from_numpy(y)
    for layout, fmt_ in (("torch NCHW", torch.contiguous_format),
                         ("torch NHWC", torch.channels_last)):
        r = copy.deepcopy(ref).to(memory_format=fmt_)     # .to changes a module in place
        tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=fmt_)

        def t_step(r=r, tx=tx):
            r.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(r(tx), ty).backward()
        result[layout] = t_step
    return result


def main():
    rng = np.random.default_rng(0)
    print(f"minicnn model benchmark: training step (forward + backward), float32, batch "
          f"{ARGS.batch}, {timing(ARGS)}; {machine()}; "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch
                                       else ", torch not installed"))
    print(machine_check(ARGS.threads))
    rows, parts = [], []
    if ARGS.parts and torch is None:
        print("--parts needs PyTorch (installed, and no --no-torch): no parts table")
    for name in ARGS.models:
        n, n_C = MODELS[name]
        x = rng.standard_normal((ARGS.batch, n, n, n_C), dtype=np.float32)
        y = rng.integers(0, 6, ARGS.batch)
        c = closures(name, x, y)
        ms = interleaved_ms({k: c.get(k) for k in ("minicnn", "GEMMs", "im2col", "torch NCHW",
                                                   "torch NHWC")},
                            ARGS.repeat, warm=not ARGS.cold, warm_seconds=ARGS.warm_seconds)
        best = min([ms[k] for k in ("torch NCHW", "torch NHWC") if k in ms], default=None)
        rows.append([name, f"{ARGS.batch}×{n}×{n}×{n_C}", f"{c['params']:,}",
                     fmt(ms["minicnn"], ".0f"), fmt(ms.get("torch NCHW"), ".0f"),
                     fmt(ms.get("torch NHWC"), ".0f"),
                     fmt(None if best is None else ms["minicnn"] / best, ".2f"),
                     fmt(ms.get("GEMMs"), ".0f"),
                     fmt(None if best is None or "GEMMs" not in ms else ms["GEMMs"] / best,
                         ".2f"),
                     fmt(ms.get("im2col")),
                     fmt(c.get("max |Δ logits|"), ".1e")])
        if ARGS.parts and best is not None:
            layout = min(("torch NCHW", "torch NHWC"), key=lambda k: ms.get(k, float("inf")))
            parts.append((name, layout, parts_rows(*profile_parts(torch, c["minicnn"], c[layout],
                                                                  ARGS.repeat))))
    print_table(["model", "input", "parameters", "minicnn ms", "torch NCHW ms",
                 "torch NHWC ms", "ratio", "GEMMs ms", "GEMMs ratio", "im2col ms",
                 "logits Δ (rel.)"], rows)
    print("ratio = minicnn / the faster PyTorch layout (goal ≤ 1.5); logits Δ = "
          "max |z − z_torch| / max |z_torch| for the same weights in evaluation mode.")
    print("GEMMs = the bare NumPy matmuls of the step's im2col + GEMM convolutions (not the "
          "depthwise ones), in blocks of columns, on ready operands in cache: a floor for "
          "them with this BLAS; GEMMs ratio = that floor / the faster PyTorch layout. "
          "im2col = one window copy of each of those convolutions (the forward's; the "
          "backward needs more).")
    for name, layout, part_rows in parts:
        print(f"\n{name}: the step by kind of op, ms per step over 3 × {ARGS.repeat} profiled "
              f"steps (PyTorch: {layout}; each profiler slows its side); Δ = minicnn − PyTorch")
        print_table(PARTS_HEADERS, part_rows)
    print(machine_check(ARGS.threads))


if __name__ == "__main__":
    main()
