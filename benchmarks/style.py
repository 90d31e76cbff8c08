"""Style transfer: seconds per iteration (forward + backward to the pixels) of the VGG
feature extractor, minicnn vs the same network in PyTorch on the CPU, in the same run.

One iteration is what the transfer loop does per step: G through the VGG trunk up to the
deepest layer used (conv5_1 for the default style layers), the content cost at conv4_2,
the style costs at conv1_1 … conv5_1, and the backward pass down to G's pixels. The
weights are frozen in both frameworks (random: speed does not depend on their values).

    python benchmarks/style.py                      # VGG-16 and VGG-19, 256 and 512 px
    python benchmarks/style.py --sizes 256 --archs vgg16 --threads 2

Both frameworks get the same number of threads (``--threads``, default 2: BLAS for
NumPy, ``torch.set_num_threads`` for PyTorch). Each figure is the median of ``--repeat``
timed iterations after one warm-up, the two frameworks timed in turn (minicnn, torch,
minicnn, …) so that load from other processes hits both alike.
"""
from __future__ import annotations

import argparse

import _common


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--archs", nargs="+", default=["vgg16", "vgg19"], choices=["vgg16", "vgg19"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu", help="minicnn's device (cpu or cuda)")
    return p.parse_args()


ARGS = parse()
_common.limit_threads(ARGS.threads)          # before NumPy loads its BLAS

import numpy as np  # noqa: E402

import minicnn  # noqa: E402
from minicnn import Tensor, backend  # noqa: E402
from minicnn.apps.style import StyleCost, VGGFeatures  # noqa: E402

CONTENT = [("conv4_2", 1.0)]
STYLE = [(f"conv{b}_1", 0.2) for b in range(1, 6)]


def minicnn_iteration(model, size, device):
    rng = np.random.default_rng(0)
    C, S = (rng.uniform(0, 1, (size, size, 3)).astype(np.float32) for _ in range(2))
    cost = StyleCost(model, C, S, CONTENT, STYLE)
    G = Tensor(C[None], requires_grad=True, device=device)
    xp = backend.get_array_module(G.data)

    def step():
        G.grad = None
        J = cost(G)[0]
        J.backward()
        if xp is not np:
            xp.cuda.Stream.null.synchronize()
    return step


def torch_iteration(model, size):
    """The same computation in PyTorch (NCHW), with the course's normalisations."""
    import torch
    W = {n: (torch.from_numpy(getattr(model, n).W.numpy().transpose(3, 2, 0, 1).copy()),
             torch.from_numpy(getattr(model, n).b.numpy().copy())) for n in model.names
         if n.startswith("conv")}
    names = model.names
    last = max(names.index(n) for n, _ in CONTENT + STYLE)
    scale = torch.from_numpy(model.input_scale.numpy()).view(1, 3, 1, 1)
    shift = torch.from_numpy(model.input_shift.numpy()).view(1, 3, 1, 1)
    F = torch.nn.functional

    def features(x):
        a, out = x * scale + shift, {}
        for n in names[:last + 1]:
            a = F.relu(F.conv2d(a, *W[n], padding=1)) if n.startswith("conv") \
                else F.max_pool2d(a, 2)
            out[n] = a
        return out

    def gram(a):
        _, n_C, n_H, n_W = a.shape
        A = a.reshape(n_C, n_H * n_W)
        return A @ A.T / (n_H * n_W)

    rng = np.random.default_rng(0)
    C, S = (torch.from_numpy(rng.uniform(0, 1, (1, 3, size, size)).astype(np.float32))
            for _ in range(2))
    with torch.no_grad():
        a_C = features(C)
        G_S = {n: gram(features(S)[n]) for n, _ in STYLE}
    G = C.clone().requires_grad_(True)

    def step():
        G.grad = None
        a = features(G)
        J_c = sum(w * ((a_C[n] - a[n]) ** 2).sum() / (4 * a[n][0].numel()) for n, w in CONTENT)
        J_s = sum(lam * ((G_S[n] - gram(a[n])) ** 2).sum() / (4 * a[n].shape[1] ** 2)
                  for n, lam in STYLE)
        (10 * J_c + 40 * J_s).backward()
    return step


def main():
    torch = _common.import_torch(ARGS.threads)
    if torch is None:
        print("torch is not installed: minicnn timings only (pip install torch==2.13.0)")
    device = backend.normalize_device(ARGS.device)
    print(f"style transfer iteration (VGG up to conv5_1, content + 5 style layers, backward to "
          f"the pixels), {ARGS.threads} threads, median of {ARGS.repeat}; minicnn on {device}")
    head = f"{'network':8} {'size':>9} {'minicnn s/it':>13}"
    if torch is not None:
        head += f" {'torch cpu s/it':>15} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    for arch in ARGS.archs:
        minicnn.manual_seed(0)
        model = VGGFeatures(arch)
        for size in ARGS.sizes:
            fns = {"torch": torch_iteration(model, size) if torch is not None else None,
                   "minicnn": minicnn_iteration(model.to(device), size, device)}
            ms = _common.interleaved_ms(fns, repeat=ARGS.repeat)
            model.to("cpu")
            line = f"{arch:8} {f'{size}×{size}':>9} {ms['minicnn'] / 1e3:13.3f}"
            if torch is not None:
                line += f" {ms['torch'] / 1e3:15.3f} {ms['minicnn'] / ms['torch']:6.2f}×"
            print(line, flush=True)


if __name__ == "__main__":
    main()
