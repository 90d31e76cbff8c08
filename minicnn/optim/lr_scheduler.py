"""Learning-rate schedules: ``StepLR``, ``CosineAnnealingLR`` and ``LinearWarmup``.

A scheduler sets ``optimizer.param_groups[i]["lr"]`` from a formula of its step count
t (``last_epoch``). Building it applies t = 0; each ``step()`` adds one. Call ``step()``
once per epoch or once per iteration (your choice: t counts whatever you step), after
the optimiser's ``step()``::

    opt = optim.Adam(model.parameters(), lr=1e-3)
    sched = optim.StepLR(opt, step_size=10, gamma=0.5)
    for epoch in range(n_epochs):
        for X, y in loader:
            ...; opt.step()
        sched.step()

=====================  =================================================================
schedule               α_t, from the group's base rate α₀ (``initial_lr``)
=====================  =================================================================
``StepLR``             α₀ · γ^⌊t / step_size⌋
``CosineAnnealingLR``  η_min + (α₀ − η_min) · (1 + cos(π t / T_max)) / 2
``LinearWarmup``       α₀ · (t + 1) / W for t < W, then ``after``'s rate at t − W (or α₀)
=====================  =================================================================

Each rate is computed from t directly (closed form), not by multiplying the previous
rate, so a resumed run gets exactly the same rates. The flip side: two schedulers must
not drive the same optimiser at once; ``LinearWarmup(after=...)`` is how to chain one
after a warm-up.
"""
from __future__ import annotations

import math

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup"]


class LRScheduler:
    """Base class: subclasses define ``lr_at(t)``, the learning rate of each group at step t."""

    def __init__(self, optimizer):
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(f"{type(self).__name__}: optimizer must be an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [float(group["initial_lr"]) for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def lr_at(self, t: int) -> list:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step (epoch or iteration) and set the optimiser's learning rates."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def _set(self, lrs) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list:
        """The learning rate of each parameter group set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "after")}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update({k: (list(v) if isinstance(v, tuple) else v)
                              for k, v in state.items() if k != "after"})

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.state_dict().items()
                       if k not in ("base_lrs", "_last_lr"))
        return f"{type(self).__name__}({hp})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t):
        return [base * self.gamma ** (t // self.step_size) for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the base rate down to ``eta_min`` over ``T_max`` steps
    (Loshchilov & Hutter's SGDR without restarts). Past ``T_max`` the cosine goes on
    rising again; pick ``T_max`` = the number of steps you will take."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        if not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t):
        c = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LinearWarmup(LRScheduler):
    """Ramp the rate linearly over ``warmup_steps`` steps, α₀/W, 2α₀/W, ..., α₀, then hand
    over to ``after`` (another scheduler on the same optimiser, whose own step count
    starts at the hand-over), or stay at α₀ when ``after`` is None::

        sched = LinearWarmup(opt, warmup_steps=5, after=CosineAnnealingLR(opt, T_max=95))

    A large batch or a fresh network with BatchNorm can diverge at full rate in the first
    steps; a short warm-up avoids it (Goyal et al., 2017).
    """

    def __init__(self, optimizer, warmup_steps: int, after: LRScheduler | None = None):
        if not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(f"LinearWarmup: warmup_steps must be an int >= 0, "
                             f"got {warmup_steps!r}")
        if after is not None and getattr(after, "optimizer", None) is not optimizer:
            raise ValueError("LinearWarmup: `after` must be a scheduler of the same optimizer")
        self.warmup_steps, self.after = warmup_steps, after
        super().__init__(optimizer)

    def lr_at(self, t):
        W = self.warmup_steps
        if t < W:
            return [base * (t + 1) / W for base in self.base_lrs]
        if self.after is None:
            return list(self.base_lrs)
        return self.after.lr_at(t - W)

    def step(self):
        super().step()
        if self.after is not None and self.last_epoch >= self.warmup_steps:
            self.after.last_epoch = self.last_epoch - self.warmup_steps
            self.after._last_lr = list(self._last_lr)

    def state_dict(self):
        state = super().state_dict()
        if self.after is not None:
            state["after"] = self.after.state_dict()
        return state

    def load_state_dict(self, state):
        super().load_state_dict(state)
        if self.after is not None and "after" in state:
            self.after.load_state_dict(state["after"])
