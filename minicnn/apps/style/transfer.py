"""Neural style transfer: optimise the pixels of G so that it has C's content and S's style.

    J(G) = α·Σ_l w_l·J_content^[l](C, G) + β·Σ_l λ_l·J_style^[l](S, G) + γ·TV(G)

The network is fixed; the only thing that changes is the image G, so every step is
one forward pass of G through the VGG extractor and one backward pass down to its
pixels (:mod:`minicnn.functional.style_loss` has the costs and their gradients).
C's activations and S's Gram matrices are computed once, before the loop.

Two optimisers:

- ``"adam"``: the course's recipe. G starts as C plus uniform noise in [−0.25, 0.25],
  Adam updates the pixels (lr 0.01 on [0, 1] images by default), and after every step
  the pixels are clipped to [0, 1].
- ``"lbfgs"``: L-BFGS with a strong-Wolfe line search (:class:`minicnn.optim.LBFGS`),
  as Gatys et al. used; it typically needs several times fewer iterations. Clipping the
  pixels after each iteration would break its curvature pairs (s, y) and its line
  search, so instead the network sees ``clip(G, 0, 1)`` (``F.clip`` inside the graph,
  whose gradient is 0 outside [0, 1]): the cost is always that of the image that will be
  saved, ``clip(G, 0, 1)``.

Content and style images may have different sizes: style Grams are divided by their
number of positions, so they compare across sizes. The output has C's size.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import backend
from ...autograd import Tensor, no_grad
from ...functional import clip, content_cost, layer_style_cost, style_gram, total_variation
from ...optim import Adam, LBFGS
from .images import save_image

__all__ = ["DEFAULT_CONTENT_LAYERS", "DEFAULT_STYLE_LAYERS", "StyleCost", "StyleResult",
           "stylize", "plot_costs"]

DEFAULT_CONTENT_LAYERS = (("conv4_2", 1.0),)
DEFAULT_STYLE_LAYERS = tuple((f"conv{b}_1", 0.2) for b in range(1, 6))


def _layers(spec, what):
    """``[(name, weight)]`` from names, (name, weight) pairs or a dict."""
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, dict):
        spec = list(spec.items())
    out = []
    for item in spec:
        name, weight = (item, 1.0) if isinstance(item, str) else item
        out.append((str(name), float(weight)))
    if not out:
        raise ValueError(f"{what}: give at least one layer")
    return out


def _as_batch(img, device):
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[0] != 1 or arr.shape[-1] != 3:
        raise ValueError(f"expected an image (n_H, n_W, 3) in [0, 1], got shape {arr.shape}")
    return Tensor(arr, device=device)


class StyleCost:
    """J(G) for fixed C and S: holds the extractor, C's activations and S's Grams.

    ``cost(G)`` returns ``(J, J_content, J_style, J_tv)`` as Tensors (J differentiable).
    """

    def __init__(self, extractor, content, style, content_layers=DEFAULT_CONTENT_LAYERS,
                 style_layers=DEFAULT_STYLE_LAYERS, alpha=10.0, beta=40.0, tv_weight=0.0):
        self.extractor = extractor
        self.content_layers = _layers(content_layers, "content_layers")
        self.style_layers = _layers(style_layers, "style_layers")
        self.alpha, self.beta, self.tv_weight = float(alpha), float(beta), float(tv_weight)
        self.device = extractor.device
        C, S = _as_batch(content, self.device), _as_batch(style, self.device)
        self.layers = list(dict.fromkeys([n for n, _ in self.content_layers]
                                         + [n for n, _ in self.style_layers]))
        with no_grad():
            a_C = extractor(C, [n for n, _ in self.content_layers])
            a_S = extractor(S, [n for n, _ in self.style_layers])
            self.targets_C = {n: a_C[n] for n, _ in self.content_layers}
            self.grams_S = {n: style_gram(a_S[n]) for n, _ in self.style_layers}

    def __call__(self, G):
        feats = self.extractor(G, self.layers)
        J_content = sum(w * content_cost(self.targets_C[n], feats[n])
                        for n, w in self.content_layers)
        J_style = sum(lam * layer_style_cost(None, feats[n], gram_S=self.grams_S[n])
                      for n, lam in self.style_layers)
        J = self.alpha * J_content + self.beta * J_style
        J_tv = None
        if self.tv_weight:
            J_tv = total_variation(G, p=2) / float(G.size)
            J = J + self.tv_weight * J_tv
        return J, J_content, J_style, J_tv


@dataclass
class StyleResult:
    """The generated image ``(n_H, n_W, 3)`` in [0, 1] and what happened on the way."""
    image: np.ndarray
    history: dict = field(default_factory=dict)   # per step: J, J_content, J_style, J_tv
    steps: int = 0
    evaluations: int = 0                          # forward + backward passes (L-BFGS: > steps)
    seconds: float = 0.0
    saved: list = field(default_factory=list)

    @property
    def seconds_per_evaluation(self):
        return self.seconds / max(1, self.evaluations)


def stylize(content, style, extractor, *, steps=300, optimizer="adam", lr=None, alpha=10.0,
            beta=40.0, tv_weight=0.0, content_layers=DEFAULT_CONTENT_LAYERS,
            style_layers=DEFAULT_STYLE_LAYERS, init="content", noise=0.25, seed=0,
            output=None, save_every=0, progress=True):
    """Generate an image with ``content``'s content and ``style``'s style.

    Parameters
    ----------
    content, style : RGB float images ``(n_H, n_W, 3)`` in [0, 1] (sizes may differ); the
        result has ``content``'s size.
    extractor : a :class:`~minicnn.apps.style.vgg.VGGFeatures` (on the device to run on).
    steps : Adam steps, or L-BFGS iterations.
    optimizer : "adam" or "lbfgs"; ``lr`` defaults to 0.01 (Adam) and 1 (L-BFGS).
    alpha, beta, tv_weight : weights of J_content, J_style and the total variation
        (squared differences, per pixel value).
    content_layers, style_layers : layer names, or ``(name, weight)`` pairs.
    init : "content" (C plus uniform noise of amplitude ``noise``, the course's start)
        or "random" (uniform noise in [0, 1]).
    output : path of the final PNG; then ``<stem>_loss.png`` (the cost curves) and, every
        ``save_every`` steps, ``<stem>_step0050.png`` … are written next to it.
    progress : show a progress bar with the three costs.
    """
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if steps < 1:
        raise ValueError(f"steps must be ≥ 1, got {steps}")
    if init not in ("content", "random"):
        raise ValueError(f"init must be 'content' or 'random', got {init!r}")
    cost = StyleCost(extractor, content, style, content_layers, style_layers, alpha, beta,
                     tv_weight)
    device = cost.device
    C = np.asarray(content, np.float32)
    rng = np.random.default_rng(seed)
    if init == "content":
        G0 = np.clip(C + rng.uniform(-noise, noise, C.shape).astype(np.float32), 0, 1)
    else:
        G0 = rng.uniform(0, 1, C.shape).astype(np.float32)
    G = Tensor(G0[None], requires_grad=True, device=device)
    xp = backend.get_array_module(G.data)
    # What the network sees: G itself (Adam clips G after each step), or clip(G) (L-BFGS).
    seen = (lambda: G) if optimizer == "adam" else (lambda: clip(G, 0.0, 1.0))

    # history[k]: the costs after k steps, k = 0 … steps
    history = {"J": [], "J_content": [], "J_style": [], "J_tv": []}
    result = StyleResult(image=None, history=history)
    output = Path(output) if output is not None else None
    bar = _progress(steps, f"stylize ({optimizer})", progress)

    def evaluate():
        """The costs at G, and ∂J/∂G in G.grad: one forward and one backward pass."""
        J, J_c, J_s, J_tv = cost(seen())
        J.backward()
        result.evaluations += 1
        costs = (J.item(), float(J_c.item()), float(J_s.item()),
                 0.0 if J_tv is None else float(J_tv.item()))
        if not math.isfinite(costs[0]):
            raise FloatingPointError(f"the cost became {costs[0]} after {len(history['J'])} "
                                     "steps; try a smaller lr")
        bar.set_postfix(J=f"{costs[0]:.4g}", content=f"{costs[1]:.3g}", style=f"{costs[2]:.3g}",
                        refresh=False)
        return costs

    def record(costs, step):
        for key, value in zip(history, costs):
            history[key].append(value)
        if output is not None and save_every and 0 < step < steps and step % save_every == 0:
            path = output.with_name(f"{output.stem}_step{step:04d}.png")
            result.saved.append(save_image(backend.to_numpy(xp.clip(G.data, 0.0, 1.0))[0], path))

    start = time.perf_counter()
    if optimizer == "adam":
        opt = Adam([G], lr=0.01 if lr is None else lr)
        for step in range(steps):
            opt.zero_grad()
            record(evaluate(), step)                # the costs at G after `step` steps
            opt.step()
            G.data = xp.clip(G.data, 0.0, 1.0)
            bar.update(1)
        with no_grad():
            J, J_c, J_s, J_tv = cost(G)
        record((J.item(), float(J_c.item()), float(J_s.item()),
                0.0 if J_tv is None else float(J_tv.item())), steps)
    else:
        opt = LBFGS([G], lr=1.0 if lr is None else lr, history_size=20, tolerance_grad=0.0,
                    tolerance_change=0.0, line_search_fn="strong_wolfe")
        memory = opt._memory
        trials, last = [], {}        # trials: (iteration, costs) of every evaluation
        shown = [0]                  # iterations shown on the progress bar

        def closure():
            # A round starts by evaluating where the previous one stopped: reuse that.
            if "x" in last and xp.array_equal(last["x"], G.data):
                G.grad = last["grad"].copy()
                return last["J"]
            opt.zero_grad()
            costs = evaluate()
            trials.append((memory["n_iter"], costs))
            last.update(x=G.data.copy(), grad=G.grad.copy(), J=costs[0])
            bar.update(max(0, memory["n_iter"] - shown[0]))
            shown[0] = max(shown[0], memory["n_iter"])
            return costs[0]

        done = 0
        while done < steps:                          # in rounds that end where images are saved
            n = steps - done if not save_every else min(steps - done,
                                                        save_every - done % save_every)
            opt.param_groups[0].update(max_iter=n, max_eval=n * 5 // 2)
            first = memory["n_iter"]
            opt.step(closure)
            if not history["J"]:
                record(trials[0][1], 0)               # the costs at the start
            ran = memory["n_iter"] - first
            if ran == 0:                             # no descent direction left: converged
                break
            # Each iteration's cost is that of the point its line search accepted: the
            # lowest it tried (rejected trial points are not steps).
            for k in range(first + 1, first + ran + 1):
                tried = [c for it, c in trials if it == k]
                done += 1
                record(min(tried) if tried else tuple(v[-1] for v in history.values()), done)
            trials.clear()
    bar.close()
    result.seconds = time.perf_counter() - start
    result.steps = len(history["J"]) - 1
    result.image = backend.to_numpy(xp.clip(G.data, 0.0, 1.0))[0].copy()
    if output is not None:
        result.saved.append(save_image(result.image, output))
        curve = plot_costs(history, output.with_name(f"{output.stem}_loss.png"),
                           alpha=alpha, beta=beta, tv_weight=tv_weight,
                           title=f"{optimizer}, {steps} steps")
        if curve is not None:
            result.saved.append(curve)
    return result


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def _progress(total, desc, enabled):
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:                       # pragma: no cover - tqdm is a dependency
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="step")


def plot_costs(history, path, alpha=10.0, beta=40.0, tv_weight=0.0, title=None):
    """Write the cost curves (J and its weighted parts, log scale) as a PNG; returns the
    path, or None when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        import warnings
        warnings.warn("matplotlib is not installed: no loss-curve PNG (pip install matplotlib)")
        return None
    n = np.arange(len(history["J"]))              # step 0 is the start
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.semilogy(n, history["J"], label="J", color="black", lw=2)
    ax.semilogy(n, alpha * np.asarray(history["J_content"]), label="α·J_content")
    ax.semilogy(n, beta * np.asarray(history["J_style"]), label="β·J_style")
    if tv_weight and any(history["J_tv"]):
        ax.semilogy(n, tv_weight * np.asarray(history["J_tv"]), label="γ·TV")
    ax.set_xlabel("step (Adam step or L-BFGS iteration)")
    ax.set_ylabel("cost")
    ax.set_title(title or "style transfer")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
