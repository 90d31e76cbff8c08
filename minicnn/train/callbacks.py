"""Callbacks: code the ``Trainer`` calls at the end of every epoch (and batch).

A callback is any object with some of ``on_train_begin(trainer)``,
``on_batch_end(trainer, step)`` (after each optimiser step),
``on_epoch_end(trainer, epoch, logs)`` and ``on_train_end(trainer)``. Setting
``trainer.stop_training = True`` ends training after the current epoch.
"""
from __future__ import annotations

import math

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LambdaCallback"]


class Callback:
    def on_train_begin(self, trainer):
        pass

    def on_batch_end(self, trainer, step):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass


def _better(mode, value, best, min_delta):
    if math.isnan(value):
        return False
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode: got {mode!r}, expected 'auto', 'min' or 'max'")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs;
    with ``restore_best`` the model gets back the weights of its best epoch."""

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best=True):
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _mode(monitor, mode)
        self.restore_best = restore_best

    def on_train_begin(self, trainer):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait, self.best_state, self.stopped_epoch = 0, None, None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitor {self.monitor!r} is not among the logged "
                           f"metrics {sorted(logs)}; pass val_loader to fit() for val_*")
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore_best:
                self.best_state = trainer.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop_training = True
                self.stopped_epoch = epoch

    def on_train_end(self, trainer):
        if self.restore_best and self.best_state is not None and self.stopped_epoch is not None:
            trainer.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback):
    """Save the whole training state (``trainer.save``) after each epoch, or only when
    ``monitor`` improves with ``save_best_only``. Writes are atomic."""

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        self.path, self.monitor, self.save_best_only = path, monitor, save_best_only
        self.mode = _mode(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_best_only:
            value = logs.get(self.monitor, math.nan)
            if not _better(self.mode, value, self.best, 0.0):
                return
            self.best = value
        trainer.save(self.path)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda t, e, logs: ...)``."""

    def __init__(self, on_train_begin=None, on_epoch_end=None, on_train_end=None):
        self._begin, self._epoch, self._end = on_train_begin, on_epoch_end, on_train_end

    def on_train_begin(self, trainer):
        if self._begin:
            self._begin(trainer)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._epoch:
            self._epoch(trainer, epoch, logs)

    def on_train_end(self, trainer):
        if self._end:
            self._end(trainer)

