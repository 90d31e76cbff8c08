"""``Trainer`` and ``fit``: the training loop every example in the course writes by hand.

One step is the course's loop, in order::

    logits = model(X)                  # forward propagation
    J = loss_fn(logits, y)             # cost
    optimizer.zero_grad(); J.backward()   # backward propagation
    optimizer.step()                   # update parameters

around which the trainer adds what a real run needs: metrics, validation, a progress
bar, learning-rate schedules, gradient clipping, callbacks (early stopping,
checkpoints), a stop with the layer's name when a NaN or Inf appears, and
checkpoints from which a run resumes exactly.
"""
from __future__ import annotations

import copy
import time

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from ..functional import cross_entropy

from .checks import NonFiniteError, check_gradients, find_non_finite_layer
from .history import History

__all__ = ["Trainer", "fit", "accuracy", "NonFiniteError"]


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of examples whose arg-max class is the label (labels as ints or one-hot)."""
    xp = backend.get_array_module(logits.data)
    pred = xp.argmax(logits.data, axis=-1)
    labels = y.data if y.ndim == 1 else xp.argmax(y.data, axis=-1)
    return float((pred == labels).mean())


METRICS = {"accuracy": accuracy}


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(output, y)``.

    ==================  ==============================================================
    argument            meaning
    ==================  ==============================================================
    ``loss_fn``         ``(output, y) -> scalar Tensor``; cross-entropy by default
    ``metrics``         names in ``METRICS`` or callables ``(output, y) -> float``
    ``scheduler``       an LR scheduler, stepped once per epoch (``scheduler_step="epoch"``)
                        or per batch (``"batch"``)
    ``clip_grad_norm``  rescale gradients so their global L2 norm is at most this
    ``callbacks``       objects with ``on_epoch_end(trainer, epoch, logs)``,
                        ``on_batch_end(trainer, step)`` & co
    ``progress``        show a tqdm bar per epoch
    ``check_finite``    stop with :class:`NonFiniteError` naming the layer on NaN/Inf
    ==================  ==============================================================
    """

    def __init__(self, model, optimizer, loss_fn=cross_entropy, metrics=("accuracy",),
                 scheduler=None, scheduler_step="epoch", clip_grad_norm=None, callbacks=(),
                 progress=True, check_finite=True, log=print):
        if scheduler_step not in ("epoch", "batch"):
            raise ValueError(f"scheduler_step: got {scheduler_step!r}, expected 'epoch' or "
                             "'batch'")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.metrics = {}
        for m in metrics:
            if callable(m):
                self.metrics[getattr(m, "__name__", "metric")] = m
            elif m in METRICS:
                self.metrics[m] = METRICS[m]
            else:
                raise ValueError(f"metrics: unknown metric {m!r}, expected one of "
                                 f"{sorted(METRICS)} or a callable")
        self.scheduler, self.scheduler_step = scheduler, scheduler_step
        self.clip_grad_norm = clip_grad_norm
        self.callbacks = list(callbacks)
        self.progress, self.check_finite, self.log = progress, check_finite, log
        self.history = History()
        self.epoch = 0               # epochs completed
        self.step = 0                # optimiser steps taken
        self.stop_training = False
        self.train_loader = None

    # ------------------------------------------------------------ one batch
    def train_step(self, X, y):
        """Forward, loss, backward, update on one batch; returns (loss, output)."""
        self.model.train()
        out = self.model(X)
        loss = self.loss_fn(out, y)
        loss_value = float(loss.item())
        if self.check_finite and not np.isfinite(loss_value):
            where = find_non_finite_layer(self.model, X)
            raise NonFiniteError(f"the loss is {loss_value} at epoch {self.epoch + 1}, step "
                                 f"{self.step + 1}; {where}")
        self.optimizer.zero_grad()
        loss.backward()
        if self.check_finite:
            check_gradients(self.model, f"epoch {self.epoch + 1}, step {self.step + 1}")
        if self.clip_grad_norm is not None:
            from ..optim import clip_grad_norm_
            clip_grad_norm_(self.model.parameters(), self.clip_grad_norm)
        self.optimizer.step()
        self.step += 1
        if self.scheduler is not None and self.scheduler_step == "batch":
            self.scheduler.step()
        return loss_value, out

    # ------------------------------------------------------------ epochs
    def fit(self, train_loader, epochs=10, val_loader=None) -> History:
        """Train until ``epochs`` epochs are done in total (a resumed trainer continues
        from ``self.epoch``), or a callback stops it. Returns the history."""
        self.train_loader = train_loader
        self.stop_training = False
        for cb in self.callbacks:
            _call(cb, "on_train_begin", self)
        header_printed = False
        while self.epoch < epochs and not self.stop_training:
            start = time.perf_counter()
            logs = self._train_epoch(train_loader, epochs)
            if val_loader is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            logs["time"] = time.perf_counter() - start
            if self.scheduler is not None and self.scheduler_step == "epoch":
                self.scheduler.step()
            self.epoch += 1
            self.history.append(logs)
            if self.log is not None:
                if not header_printed:
                    self.log(_table_header(logs))
                    header_printed = True
                self.log(_table_row(self.epoch, logs))
            for cb in self.callbacks:
                _call(cb, "on_epoch_end", self, self.epoch, logs)
        for cb in self.callbacks:
            _call(cb, "on_train_end", self)
        return self.history

    def _train_epoch(self, loader, epochs):
        totals, n_seen = {"loss": 0.0, **{k: 0.0 for k in self.metrics}}, 0
        batches = _progress(loader, self.progress, f"epoch {self.epoch + 1}/{epochs}")
        for X, y in batches:
            loss, out = self.train_step(X, y)
            for cb in self.callbacks:
                _call(cb, "on_batch_end", self, self.step)
            m = X.shape[0]
            n_seen += m
            totals["loss"] += loss * m
            with no_grad():
                for name, fn in self.metrics.items():
                    totals[name] += fn(out, y) * m
            if hasattr(batches, "set_postfix"):
                batches.set_postfix(loss=f"{totals['loss'] / n_seen:.4f}")
        return {k: v / max(n_seen, 1) for k, v in totals.items()}

    def evaluate(self, loader) -> dict:
        """Loss and metrics over ``loader`` in eval mode, without recording a graph."""
        was_training = self.model.training
        self.model.eval()
        totals, n_seen = {"loss": 0.0, **{k: 0.0 for k in self.metrics}}, 0
        with no_grad():
            for X, y in loader:
                out = self.model(X)
                m = X.shape[0]
                n_seen += m
                totals["loss"] += float(self.loss_fn(out, y).item()) * m
                for name, fn in self.metrics.items():
                    totals[name] += fn(out, y) * m
        self.model.train(was_training)
        return {k: v / max(n_seen, 1) for k, v in totals.items()}

    def predict(self, X, batch_size=256) -> np.ndarray:
        """Model outputs for an array of inputs, in eval mode, as a NumPy array."""
        self.model.eval()
        outs = []
        with no_grad():
            for i in range(0, len(X), batch_size):
                outs.append(self.model(Tensor(np.asarray(X[i:i + batch_size]))).numpy())
        return np.concatenate(outs)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: weights, optimiser and
        scheduler state, the data order, the host random generator, the counters."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "epoch": self.epoch, "step": self.step, "history": self.history.state_dict(),
                 "rng": copy.deepcopy(backend.get_rng().bit_generator.state)}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.train_loader is not None and hasattr(self.train_loader, "state_dict"):
            state["train_loader"] = self.train_loader.state_dict()
        return state

    def load_state_dict(self, state: dict, train_loader=None) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history.load_state_dict(state.get("history", {}))
        backend.get_rng().bit_generator.state = _plain(state["rng"])
        loader = train_loader or self.train_loader
        if loader is not None and "train_loader" in state:
            loader.load_state_dict(_plain(state["train_loader"]))

    def save(self, path) -> None:
        """Write the training state to ``path`` (``.npz``, atomically)."""
        from ..io.checkpoint import save
        save(self.state_dict(), path)

    def load(self, path, train_loader=None) -> "Trainer":
        """Restore a state saved by :meth:`save`; ``fit`` then continues where it stopped."""
        from ..io.checkpoint import load
        self.load_state_dict(load(path), train_loader)
        return self


def fit(model, train_loader, optimizer, epochs=10, val_loader=None, **kwargs) -> History:
    """``Trainer(model, optimizer, **kwargs).fit(train_loader, epochs, val_loader)``."""
    return Trainer(model, optimizer, **kwargs).fit(train_loader, epochs, val_loader)


# ---------------------------------------------------------------- helpers
def _plain(obj):
    """Checkpoint loading gives NumPy scalars/arrays where a generator state wants ints."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, np.ndarray) and obj.ndim == 0:
        return obj.item()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _call(cb, name, *args):
    method = getattr(cb, name, None)
    if method is not None:
        method(*args)


def _progress(loader, enabled, desc):
    if not enabled:
        return loader
    from tqdm.auto import tqdm
    return tqdm(loader, desc=desc, leave=False, dynamic_ncols=True)


def _table_header(logs) -> str:
    cols = ["epoch"] + [k for k in logs if k != "time"] + ["time"]
    return "  ".join(f"{c:>12}" for c in cols)


def _table_row(epoch, logs) -> str:
    cells = [f"{epoch:>12d}"]
    for k, v in logs.items():
        if k == "time":
            continue
        cells.append(f"{v:>12.3g}" if k == "lr" else f"{v:>12.4f}")
    cells.append(f"{logs['time']:>11.1f}s")
    return "  ".join(cells)



