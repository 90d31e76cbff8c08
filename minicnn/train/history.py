"""``History``: the per-epoch metrics of a training run, and their plot."""
from __future__ import annotations

import json
import math
from collections import OrderedDict

__all__ = ["History"]


class History:
    """Per-epoch metrics: ``history["val_accuracy"]`` is a list with one value per epoch.

    ``rows()`` gives one dict per epoch (for tables and JSON), ``plot(path)`` saves
    the loss and accuracy curves as a PNG.
    """

    def __init__(self, metrics=None):
        self.metrics: "OrderedDict[str, list]" = OrderedDict(
            (k, list(v)) for k, v in (metrics or {}).items())

    def append(self, row: dict) -> None:
        n = len(self)
        for key in row:
            if key not in self.metrics:
                self.metrics[key] = [math.nan] * n
        for key, values in self.metrics.items():
            values.append(float(row.get(key, math.nan)))

    def __len__(self):
        return len(next(iter(self.metrics.values()), []))

    def __getitem__(self, key):
        return self.metrics[key]

    def __contains__(self, key):
        return key in self.metrics

    def keys(self):
        return self.metrics.keys()

    def rows(self) -> list:
        return [{k: v[i] for k, v in self.metrics.items()} for i in range(len(self))]

    def best(self, key: str, mode: str = "min"):
        """(epoch index, value) of the best ``key``."""
        values = self.metrics[key]
        pick = min if mode == "min" else max
        value = pick(v for v in values if not math.isnan(v))
        return values.index(value), value

    def state_dict(self) -> dict:
        return {k: list(v) for k, v in self.metrics.items()}

    def load_state_dict(self, state: dict) -> None:
        self.metrics = OrderedDict((k, [float(x) for x in v]) for k, v in state.items())

    def to_json(self, path) -> None:
        with open(path, "w") as f:
            json.dump(self.rows(), f, indent=1)

    def plot(self, path, title=None) -> None:
        """Save loss and accuracy curves (train and validation) side by side as a PNG."""
        # A Figure of its own, not pyplot: saving must not switch a notebook's backend.
        from matplotlib.figure import Figure

        epochs = range(1, len(self) + 1)
        groups = [("loss", "loss"), ("accuracy", "accuracy")]
        present = [(label, key) for label, key in groups
                   if key in self.metrics or f"val_{key}" in self.metrics]
        fig = Figure(figsize=(5 * max(len(present), 1), 3.6))
        axes = fig.subplots(1, max(len(present), 1))
        axes = [axes] if not hasattr(axes, "__len__") else list(axes)
        for ax, (label, key) in zip(axes, present):
            for name, style in ((key, "-o"), (f"val_{key}", "-s")):
                if name in self.metrics:
                    ax.plot(epochs, self.metrics[name], style, ms=3,
                            label="validation" if name.startswith("val_") else "train")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
