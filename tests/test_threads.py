"""minicnn.set_num_threads / get_num_threads: BLAS's threads and minicnn's own pool."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import minicnn
import minicnn.functional as F
from minicnn.cli import main
from minicnn.functional import _workspace

from conftest import blas_threads


# Each test leaves BLAS and the pool as it found them (other tests share the process).
pytestmark = pytest.mark.usefixtures("restore_threads")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_num_threads_sets_blas_and_the_pool(n):
    minicnn.set_num_threads(n)
    assert minicnn.get_num_threads() == n
    assert blas_threads() and all(t == n for t in blas_threads())


def test_one_thread_runs_the_pool_inline():
    minicnn.set_num_threads(1)
    seen = _workspace.parallel_map(lambda _: threading.get_ident(), range(4))
    assert seen == [threading.get_ident()] * 4


def test_two_threads_run_the_pool_on_the_caller_and_a_helper():
    minicnn.set_num_threads(2)
    barrier = threading.Barrier(2, timeout=10)      # both items must be running at once

    def item(_):
        barrier.wait()
        return threading.get_ident()
    seen = _workspace.parallel_map(item, range(2))
    assert len(set(seen)) == 2 and threading.get_ident() in seen


def first_item_waits_for(parties):
    """A wrapper making each thread's first item wait until ``parties`` threads hold an
    item, so that the caller and the helpers all run some (tiny items would otherwise
    all go to the caller before a helper wakes)."""
    barrier, local = threading.Barrier(parties, timeout=10), threading.local()

    def wrap(fn):
        def item(i):
            if not getattr(local, "seen", False):
                local.seen = True
                barrier.wait()
            return fn(i)
        return item
    return wrap


@pytest.mark.parametrize("n", [2, 3])
def test_parallel_map_keeps_the_order_of_the_items(n):
    minicnn.set_num_threads(n)
    threads = set()

    def item(i):
        threads.add(threading.get_ident())
        return i * i
    assert _workspace.parallel_map(first_item_waits_for(n)(item), range(50)) == \
        [i * i for i in range(50)]
    assert len(threads) == n
    assert _workspace.parallel_map(item, []) == []


@pytest.mark.parametrize("failing", ["caller", "helper"])
def test_an_error_stops_new_items_and_running_ones_finish(failing):
    """The failing thread raises on its first item while the other thread's first item is
    still running: that item finishes, no other item starts, and the error comes out."""
    minicnn.set_num_threads(2)
    caller = threading.get_ident()
    started, finished = [], []

    def item(i):
        started.append(i)
        on_caller = threading.get_ident() == caller
        if on_caller == (failing == "caller"):
            raise KeyError(f"item {i} on the {failing}")
        time.sleep(0.05)
        finished.append(i)
        return i
    with pytest.raises(KeyError, match=f"on the {failing}"):
        _workspace.parallel_map(first_item_waits_for(2)(item), range(100))
    assert len(started) == 2 and len(finished) == 1


def test_a_parallel_map_inside_a_parallel_map_does_not_wait_on_its_own_pool():
    """In a process of its own with a timeout: a deadlock would leave a pool thread that
    also keeps the interpreter from exiting."""
    code = ("import minicnn; from minicnn.functional import _workspace as w\n"
            "minicnn.set_num_threads(2)\n"
            "print(w.parallel_map(lambda i: sum(w.parallel_map(lambda j: i * j, range(4))),"
            " range(4)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=os.path.join(os.path.dirname(__file__), ".."))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == str([6 * i for i in range(4)])


@pytest.mark.parametrize("groups", [1, 8])
def test_results_do_not_depend_on_the_threads(groups):
    """Outputs and input gradients are the same bit for bit on one thread or two (BLAS
    splits those products by rows and columns; the pool's blocks are summed in block
    order). The kernel gradient, a long sum over every output pixel, may be split along
    that sum by a multi-threaded BLAS (OpenBLAS does), so it agrees to rounding only."""
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((4, 9, 9, 8)), requires_grad=True)
    W = minicnn.tensor(rng.standard_normal((3, 3, 8 // groups, 8)), requires_grad=True)
    results = []
    for n in (1, 2):
        minicnn.set_num_threads(n)
        x.grad = W.grad = None
        Z = F.max_pool2d(F.conv2d(x, W, padding=1, groups=groups), 2)
        Z.sum().backward()
        results.append((Z.numpy(), np.array(x.grad), np.array(W.grad)))
    (Z1, dx1, dW1), (Z2, dx2, dW2) = results
    np.testing.assert_array_equal(Z1, Z2)
    np.testing.assert_array_equal(dx1, dx2)
    np.testing.assert_allclose(dW1, dW2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_bad_thread_count_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: n must be a positive int.*got"):
        minicnn.set_num_threads(bad)


def test_cli_threads_option(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress",
                 "--batch-size", "256", "--threads", "1"]) == 0
    assert minicnn.get_num_threads() == 1 and all(t == 1 for t in blas_threads())
    capsys.readouterr()
    assert main(["info"]) == 0
    assert "threads       1 in minicnn's own pool" in capsys.readouterr().out


def test_thread_check_measures_both_counts_and_leaves_blas_as_it_was():
    minicnn.set_num_threads(2)
    c = minicnn.threads.thread_check(repeat=2)
    assert c["threads"] == 2 and c["ms"] > 0 and c["ms_one_thread"] > 0
    assert c["ratio"] == pytest.approx(c["ms"] / c["ms_one_thread"])
    assert c["degraded"] == (c["ratio"] > 1.5)
    assert blas_threads() == [2] * len(blas_threads())


def test_cli_info_check(capsys):
    assert main(["info", "--check"]) == 0
    out = capsys.readouterr().out
    assert "thread check  3×3 conv 16→16" in out and "ms on 1" in out


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_adaptive_threads_switches_with_the_check_and_counts_the_time():
    clock, states, seen = FakeClock(), iter([False, True, True, False]), []

    def check(threads, repeat):
        seen.append((threads, repeat))
        return {"degraded": next(states)}
    a = minicnn.threads.AdaptiveThreads(threads=2, every=10, repeat=3, check=check,
                                        clock=clock)
    a.step()                                           # t = 0: normal, stays on 2
    assert (a.checks, a.switches, minicnn.get_num_threads()) == (1, 0, 2)
    clock.t = 5
    a.step()                                           # within the interval: no check
    assert a.checks == 1
    clock.t = 10
    a.step()                                           # degraded: one thread
    assert (a.checks, a.switches, minicnn.get_num_threads()) == (2, 1, 1)
    assert blas_threads() == [1] * len(blas_threads())
    clock.t = 20
    a.step()                                           # still degraded: no switch
    assert (a.switches, minicnn.get_num_threads()) == (1, 1)
    clock.t = 35
    a.step()                                           # normal again: back to two
    assert (a.checks, a.switches, minicnn.get_num_threads()) == (4, 2, 2)
    assert a.seconds_on_one == 25 and seen == [(2, 3)] * 4
    assert "4 checks, 2 switches, 25 s on one thread" in a.summary()


def test_adaptive_threads_is_a_trainer_callback():
    from minicnn.data import DataLoader, TensorDataset
    from minicnn.train import Trainer
    calls = []

    class Probe(minicnn.threads.AdaptiveThreads):
        def step(self):
            calls.append(self)
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.standard_normal((20, 3)).astype(np.float32), rng.integers(0, 2, 20))
    model = minicnn.nn.Linear(3, 2)
    Trainer(model, minicnn.optim.SGD(model.parameters(), lr=0.1), callbacks=[Probe()],
            progress=False).fit(DataLoader(data, batch_size=5), epochs=2)
    assert len(calls) == 8                              # one per optimiser step


def test_adaptive_threads_rejects_a_bad_interval():
    with pytest.raises(ValueError, match="every must be a positive number of seconds"):
        minicnn.threads.AdaptiveThreads(every=0)


def test_cli_threads_auto_and_bad_value(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress",
                 "--batch-size", "256", "--threads", "auto"]) == 0
    assert "adaptive threads (" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--threads", "zero"])
    assert "expected a positive number of threads or 'auto', got 'zero'" in capsys.readouterr().err
