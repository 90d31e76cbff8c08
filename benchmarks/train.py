"""Training-step throughput: images per second for forward + backward + Adam, minicnn
vs the same network in PyTorch on the CPU, in the same run; and the Python overhead of
one tiny op.

    python benchmarks/train.py                  # LeNet-5 and a small ResNet, batch 64
    python benchmarks/train.py --threads 2 --repeat 15

Networks (identical in both frameworks, float32, NHWC in minicnn and NCHW in torch):

- LeNet-5 (tanh, average pooling, 61,706 parameters at 32×32) on 28×28×1 (padded in C1)
  and 32×32×1;
- a small ResNet: 3×3 conv 16 + BN + ReLU, three stages of two basic blocks (16, 32, 64
  channels, stride 2 between stages), global average pooling, linear head; on 28×28×1
  and 32×32×3.
"""
from __future__ import annotations

import argparse

import _common as C


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    C.add_timing_args(p, repeat=9)
    p.add_argument("--batch", type=int, default=64)
    return p.parse_args()


ARGS = parse()
C.limit_threads(ARGS.threads)

import numpy as np  # noqa: E402

import minicnn  # noqa: E402
from minicnn import Tensor, functional as F, nn, optim  # noqa: E402
from minicnn.models import lenet5  # noqa: E402

torch = C.import_torch(ARGS.threads)


# ------------------------------------------------------------ small ResNet
class Basic(nn.Module):
    def __init__(self, c_in, c_out, s):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=s, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.proj = None
        if s != 1 or c_in != c_out:
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=s, bias=False),
                                      nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.proj is None else self.proj(x)))


class SmallResNet(nn.Module):
    def __init__(self, n_C, k=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(n_C, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        blocks, c = [], 16
        for c_out, s in ((16, 1), (32, 2), (64, 2)):
            blocks += [Basic(c, c_out, s), Basic(c_out, c_out, 1)]
            c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, k)

    def forward(self, x):
        return self.fc(F.global_avg_pool2d(self.blocks(self.stem(x))))


def torch_models():
    tnn = torch.nn

    class TBasic(tnn.Module):
        def __init__(self, c_in, c_out, s):
            super().__init__()
            self.conv1 = tnn.Conv2d(c_in, c_out, 3, s, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(c_out)
            self.conv2 = tnn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(c_out)
            self.proj = None
            if s != 1 or c_in != c_out:
                self.proj = tnn.Sequential(tnn.Conv2d(c_in, c_out, 1, s, bias=False),
                                           tnn.BatchNorm2d(c_out))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.proj is None else self.proj(x)))

    class TSmallResNet(tnn.Module):
        def __init__(self, n_C, k=10):
            super().__init__()
            self.stem = tnn.Sequential(tnn.Conv2d(n_C, 16, 3, 1, 1, bias=False),
                                       tnn.BatchNorm2d(16), tnn.ReLU())
            blocks, c = [], 16
            for c_out, s in ((16, 1), (32, 2), (64, 2)):
                blocks += [TBasic(c, c_out, s), TBasic(c_out, c_out, 1)]
                c = c_out
            self.blocks = tnn.Sequential(*blocks)
            self.fc = tnn.Linear(64, k)

        def forward(self, x):
            return self.fc(self.blocks(self.stem(x)).mean(dim=(2, 3)))

    def tlenet(n_H, n_C):
        p = (32 - n_H) // 2
        return tnn.Sequential(
            tnn.Conv2d(n_C, 6, 5, padding=p), tnn.Tanh(), tnn.AvgPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2),
            tnn.Conv2d(16, 120, 5), tnn.Tanh(), tnn.Flatten(),
            tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10))

    return {"LeNet-5": lambda shape: tlenet(shape[0], shape[2]),
            "small ResNet": lambda shape: TSmallResNet(shape[2])}


MODELS = {"LeNet-5": lambda shape: lenet5(10, shape),
          "small ResNet": lambda shape: SmallResNet(shape[2])}
CASES = [("LeNet-5", (28, 28, 1)), ("LeNet-5", (32, 32, 1)),
         ("small ResNet", (28, 28, 1)), ("small ResNet", (32, 32, 3))]


def minicnn_step(name, shape, m):
    minicnn.manual_seed(0)
    model = MODELS[name](shape)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = Tensor(rng.standard_normal((m,) + shape).astype(np.float32))
    y = Tensor(rng.integers(0, 10, m))

    def step():
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def conv_floors(name, shape, m):
    """The bare GEMMs of the model's convolutions, and one im2col of each."""
    minicnn.manual_seed(0)
    return C.conv_floors(MODELS[name](shape), (m,) + shape)


def torch_step(name, shape, m):
    torch.manual_seed(0)
    model = torch_models()[name](shape)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X = torch.randn(m, shape[2], shape[0], shape[1])
    y = torch.randint(0, 10, (m,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def overhead_us():
    """Time of one elementwise op on a 1-element tensor: pure framework overhead."""
    a = Tensor(np.ones(1, np.float32), requires_grad=True)
    b = Tensor(np.ones(1, np.float32))
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    fns = {"minicnn (graph)": lambda: [a * b for _ in range(1000)],
           "minicnn (no_grad)": lambda: [b * b for _ in range(1000)],
           "numpy": lambda: [na * nb for _ in range(1000)]}
    if torch is not None:
        ta = torch.ones(1, requires_grad=True)
        tb = torch.ones(1)
        fns["torch (graph)"] = lambda: [ta * tb for _ in range(1000)]
    return {k: v for k, v in C.interleaved_ms(fns, repeat=7).items()}   # ms per 1000 = µs


def main():
    m = ARGS.batch
    print(f"training step (forward + backward + Adam), batch {m}, float32, {C.timing(ARGS)}; "
          f"{C.machine()}")
    print(C.machine_check(ARGS.threads))
    rows = []
    for name, shape in CASES:
        fns = {"minicnn": minicnn_step(name, shape, m), **conv_floors(name, shape, m)}
        if torch is not None:
            fns["torch"] = torch_step(name, shape, m)
        ms = C.interleaved_ms(fns, repeat=ARGS.repeat, warmup=2, warm=not ARGS.cold,
                              warm_seconds=ARGS.warm_seconds)
        ips = {k: 1e3 * m / v for k, v in ms.items()}
        ratio = ips["minicnn"] / ips["torch"] if "torch" in ips else None
        rows.append([f"{name} {shape[0]}×{shape[1]}×{shape[2]}", C.fmt(ms["minicnn"]),
                     C.fmt(ips["minicnn"], ".0f"), C.fmt(ms.get("torch")),
                     C.fmt(ips.get("torch"), ".0f"), C.fmt(ratio, ".2f"),
                     C.fmt(ms["GEMMs"]),
                     C.fmt(ms["GEMMs"] / ms["torch"] if "torch" in ms else None, ".2f"),
                     C.fmt(ms.get("im2col"))])
    C.print_table(["model, input", "minicnn ms", "minicnn img/s", "torch ms", "torch img/s",
                   "throughput ratio (goal ≥ 0.7)", "GEMMs ms", "GEMMs / torch ms",
                   "im2col ms"], rows)
    print("GEMMs = the bare NumPy matmuls of the step's convolutions, in blocks of columns, on "
          "ready operands in cache (no im2col, no col2im, nothing else); im2col = one window "
          "copy of each convolution (the forward's; the backward needs at least one more per "
          "convolution). Their sum is a floor for minicnn's step with this BLAS; at the goal, "
          "the step may take 1/0.7 = 1.43× PyTorch's.")
    print(C.machine_check(ARGS.threads))
    print()
    us = overhead_us()
    C.print_table(["one tiny op (1 element)", "µs"], [[k, C.fmt(v, ".2f")] for k, v in us.items()])


if __name__ == "__main__":
    main()
