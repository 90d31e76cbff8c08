"""Where the time goes: the time of every op's forward and backward inside a block of code.

    with minicnn.profile() as prof:
        for _ in range(10):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
    print(prof.table(steps=10))          # milliseconds per step, op by op

Every :class:`~minicnn.Function` call is timed (``forward``), and so is its ``backward``
when the engine runs it. Ops are grouped by :meth:`Function.label` (the class name; a
convolution adds its kind: ``ConvNd 1×1``, ``ConvNd 3×3``, ``ConvNd 3×3 depthwise``) or by
the ``key`` you give. What is not inside an op (Python between the ops, the engine's
gradient sums, the optimiser, data loading) is the table's ``(outside ops)`` line: the
block's wall time minus the ops' time.

On the GPU, CuPy returns before its kernels finish; the profiler waits for the device
after each op (``sync=True``) so that each op is charged its own kernels. That wait
costs time of its own, so a profiled GPU step is slower than an unprofiled one.

While no profile is active the cost is one check per op call. A profile records the ops
of every thread (minicnn's own pool runs raw-array work, not ops); profile one training
loop at a time.
"""
from __future__ import annotations

import time

from . import autograd, backend

__all__ = ["Profile", "profile"]


class Profile:
    """The record of one ``with minicnn.profile():`` block (see the module's docstring).

    ``records`` maps ``(label, "forward" | "backward")`` to ``[calls, seconds]``;
    ``wall`` is the wall time in seconds of the blocks it has ended (entering the same
    profile again adds to both).
    """

    def __init__(self, key=None, sync: bool = True):
        if key is not None and not callable(key):
            raise TypeError(f"profile: key must be a callable that takes a Function and "
                            f"returns its group's name, got {key!r}")
        self.key, self.sync = key, sync
        self.records: dict = {}
        self.wall = 0.0
        self._start = None

    # ------------------------------------------------------------ recording
    def __enter__(self):
        if autograd._profile is not None:
            raise RuntimeError("profile: another profile is already active; profiles do "
                               "not nest")
        autograd._profile = self
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        try:
            self._wait()
        finally:                            # even if the device reports an error here
            self.wall += time.perf_counter() - self._start
            autograd._profile = None
        return False

    def _wait(self):
        if self.sync:
            backend.synchronize()

    def run(self, fn, phase: str, method, args):
        """``method(*args)``, timed and charged to ``fn``'s group (called by the engine)."""
        self._wait()                        # earlier queued kernels are not this op's
        t0 = time.perf_counter()
        out = method(*args)
        self._wait()
        seconds = time.perf_counter() - t0
        label = self.key(fn) if self.key is not None else fn.label()
        rec = self.records.setdefault((label, phase), [0, 0.0])
        rec[0] += 1
        rec[1] += seconds
        return out

    # ------------------------------------------------------------ reading
    def totals(self) -> dict:
        """label → ``{"calls", "forward", "backward", "total"}`` (seconds; calls are
        forward calls, or backward calls for an op only met in backward)."""
        out = {}
        for (label, phase), (calls, seconds) in self.records.items():
            row = out.setdefault(label, {"calls": 0, "forward": 0.0, "backward": 0.0})
            row[phase] += seconds
            if phase == "forward" or not row["calls"]:
                row["calls"] = calls
        for row in out.values():
            row["total"] = row["forward"] + row["backward"]
        return out

    def ops_seconds(self) -> float:
        """The time spent inside ops' forward and backward, in seconds."""
        return sum(seconds for _, seconds in self.records.values())

    def table(self, steps: int = 1, limit: int | None = None) -> str:
        """The groups as a text table, the costliest first: calls, forward, backward and
        total milliseconds, divided by ``steps`` (so ``steps`` = the number of training
        steps in the block gives per-step figures), and each group's share of the wall
        time. ``limit`` keeps that many groups (the rest are summed on one line)."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"profile.table: steps must be a positive int (the steps "
                             f"the block ran, to divide by), got {steps!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError(f"profile.table: limit must be None or a positive int (the "
                             f"groups to show), got {limit!r}")
        rows = sorted(self.totals().items(), key=lambda kv: -kv[1]["total"])
        if limit is not None and len(rows) > limit:
            rest = rows[limit:]
            merged = {k: sum(r[k] for _, r in rest)
                      for k in ("calls", "forward", "backward", "total")}
            rows = rows[:limit] + [(f"({len(rest)} more)", merged)]
        wall = self.wall or self.ops_seconds() or 1.0
        ms = 1e3 / steps
        lines = [f"{'op':<24} {'calls':>7} {'forward ms':>11} {'backward ms':>12} "
                 f"{'total ms':>9} {'share':>6}"]
        for label, r in rows:
            lines.append(f"{label:<24} {r['calls'] / steps:>7.4g} {r['forward'] * ms:>11.2f} "
                         f"{r['backward'] * ms:>12.2f} {r['total'] * ms:>9.2f} "
                         f"{r['total'] / wall:>6.1%}")
        outside = max(self.wall - self.ops_seconds(), 0.0)
        lines.append(f"{'(outside ops)':<24} {'':>7} {'':>11} {'':>12} {outside * ms:>9.2f} "
                     f"{outside / wall:>6.1%}")
        lines.append(f"{'(wall)':<24} {'':>7} {'':>11} {'':>12} {self.wall * ms:>9.2f}")
        return "\n".join(lines)


def profile(key=None, sync: bool = True) -> Profile:
    """A :class:`Profile` to use as ``with minicnn.profile() as prof:``.

    ``key(fn) -> str`` groups ops your way (default: ``fn.label()``); ``sync`` waits for
    the GPU around each op (see the module's docstring)."""
    return Profile(key, sync)
