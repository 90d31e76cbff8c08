"""Where a training step's time goes, by kind of op, in minicnn and in PyTorch.

minicnn's side comes from :func:`minicnn.profile` (each op's forward and backward);
PyTorch's from ``torch.profiler`` (each top-level op of the forward and each autograd
node of the backward, with its children). Both are grouped under minicnn's labels, so
the two columns of a row cover the same layers:

=========================  ==============================================================
label                      PyTorch events
=========================  ==============================================================
``ConvNd f×f``             ``aten::conv2d`` and ``ConvolutionBackward0`` (kernel f×f)
``ConvNd f×f depthwise``   the same with groups = input channels
``BatchNorm``              ``aten::batch_norm``, ``NativeBatchNormBackward0``
``ReLU``, ``ReLU6``        ``aten::relu``/``relu_``, ``aten::hardtanh``/``hardtanh_``
                           and their backward nodes
``(other)``                everything else (adds, pooling, the head, the loss; on
                           PyTorch's side also its gradient accumulation and BatchNorm's
                           batch counter, which minicnn does outside ops or inside
                           BatchNorm)
=========================  ==============================================================

Profilers cost time of their own, so the profiled steps are slower than the timed ones
of ``models.py``'s main table (both are printed: PyTorch's profiled ResNet-50 step came
out a fifth to a third slower than its timed one); compare the two columns of this
table with each other, not with the main table.
"""
from __future__ import annotations

PART_PREFIXES = ("ConvNd", "BatchNorm", "ReLU")     # ReLU covers ReLU6


def _fold_other(totals: dict) -> dict:
    out = {"(other)": 0.0}
    for label, ms in totals.items():
        if label.startswith(PART_PREFIXES):
            out[label] = out.get(label, 0.0) + ms
        else:
            out["(other)"] += ms
    return out


def _conv_label(weight_shape, input_shape):
    """From the shapes alone (OIHW weight, NCHW input): depthwise when each output channel
    sees one input channel (weight's I = n_C_prev / groups = 1) of several."""
    kernel = "×".join(map(str, weight_shape[2:]))
    depthwise = weight_shape[1] == 1 and input_shape[1] > 1
    return f"ConvNd {kernel}" + (" depthwise" if depthwise else "")


def _torch_label(event):
    """minicnn's label for a top-level PyTorch event, or None for '(other)'."""
    name = event.name
    if name == "aten::conv2d":
        shapes = event.input_shapes
        return _conv_label(shapes[1], shapes[0])
    if name.endswith("ConvolutionBackward0"):
        for child in _descendants(event):
            if child.name == "aten::convolution_backward":
                shapes = child.input_shapes
                return _conv_label(shapes[2], shapes[1])
        return None
    if name == "aten::batch_norm" or name.endswith("NativeBatchNormBackward0"):
        return "BatchNorm"
    if name in ("aten::relu", "aten::relu_") or name.endswith("ReluBackward0"):
        return "ReLU"
    if name in ("aten::hardtanh", "aten::hardtanh_") or name.endswith("HardtanhBackward0"):
        return "ReLU6"
    return None


def _descendants(event):
    for child in event.cpu_children:
        yield child
        yield from _descendants(child)


def _warm(step, seconds: float) -> None:
    import time
    start = time.perf_counter()
    step()
    while time.perf_counter() - start < seconds:
        step()


def profile_parts(torch, mc_step, torch_step, steps: int, rounds: int = 3,
                  warm_seconds: float = 0.1) -> tuple:
    """((minicnn {label: ms per step}, wall ms per step), (the same for PyTorch)):
    ``rounds`` rounds of ``steps`` profiled steps of each side in turn, each after
    ``warm_seconds`` of unprofiled steps (as ``_common.interleaved_ms`` warms up), so that
    slow stretches of the machine hit both alike and neither starts on sleeping threads."""
    import time

    import minicnn
    from torch.profiler import ProfilerActivity, profile
    ours = minicnn.profile()
    pt, torch_wall = {"(other)": 0.0}, 0.0
    for _ in range(rounds):
        _warm(mc_step, warm_seconds)
        with ours:
            for _ in range(steps):
                mc_step()
        _warm(torch_step, warm_seconds)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as theirs:
            t0 = time.perf_counter()
            for _ in range(steps):
                torch_step()
            torch_wall += time.perf_counter() - t0
        for event in theirs.events():
            if event.cpu_parent is None:
                label = _torch_label(event) or "(other)"
                pt[label] = pt.get(label, 0.0) + event.cpu_time_total / 1e3
    n = rounds * steps
    mc = _fold_other({label: 1e3 * r["total"] / n for label, r in ours.totals().items()})
    pt = {label: ms / n for label, ms in pt.items()}
    return (mc, 1e3 * ours.wall / n), (pt, 1e3 * torch_wall / n)


def parts_rows(ours: tuple, theirs: tuple) -> list:
    """Table rows: label, minicnn ms, PyTorch ms, ratio, minicnn's share, then the walls."""
    (mc, mc_wall), (pt, pt_wall) = ours, theirs
    labels = sorted(set(mc) | set(pt), key=lambda k: (k == "(other)", -mc.get(k, 0.0)))
    rows = []
    for label in labels:
        a, b = mc.get(label, 0.0), pt.get(label, 0.0)
        rows.append([label, f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}" if b else "-",
                     f"{a / mc_wall:.0%}", f"{a - b:+.1f}"])
    rows.append(["(outside ops)", f"{mc_wall - sum(mc.values()):.2f}",
                 f"{pt_wall - sum(pt.values()):.2f}", "", "", ""])
    rows.append(["step (profiled)", f"{mc_wall:.2f}", f"{pt_wall:.2f}",
                 f"{mc_wall / pt_wall:.2f}", "100%", f"{mc_wall - pt_wall:+.1f}"])
    return rows


PARTS_HEADERS = ["part", "minicnn ms", "torch ms", "ratio", "minicnn share", "Δ ms"]
