"""How fast is ``FaceDatabase.identify`` over a large database? (goal: < 50 ms at 100,000)

    python benchmarks/face_identify.py [--n 100000] [--d 128] [--repeat 50]

Enrols n random unit-length float32 encodings (one per person), then times identifying
one query (top-1 and top-5) and a batch of 32 queries, reporting the median and 90th
percentile over ``--repeat`` runs. For contrast it times the loop a first version of
``who_is_it`` would write (a Python loop over a dict of people) on a slice of the
database and scales it up, and, when PyTorch is importable, ``torch.cdist`` + ``topk``
and the same expansion in torch, on the same data in the same run.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minicnn.apps.face import FaceDatabase  # noqa: E402


def timeit(fn, repeat, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return np.median(times) * 1e3, np.percentile(times, 90) * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="enrolled encodings")
    ap.add_argument("--d", type=int, default=128, help="encoding size")
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    G = rng.standard_normal((args.n, args.d)).astype(np.float32)
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    names = [f"person_{i:06d}" for i in range(args.n)]
    t = time.perf_counter()
    db = FaceDatabase(None, threshold=0.5)
    db.add_encodings(names, G)
    enrol_s = time.perf_counter() - t
    q = G[12345 % args.n] + 0.05 * rng.standard_normal(args.d).astype(np.float32)
    Q = G[:32] + 0.05 * rng.standard_normal((32, args.d)).astype(np.float32)
    assert db.identify_encodings(q)[0].nearest == names[12345 % args.n]

    rows = [("identify, top-1 (1 query)", *timeit(lambda: db.identify_encodings(q, k=1),
                                                   args.repeat)),
            ("identify, top-5 (1 query)", *timeit(lambda: db.identify_encodings(q, k=5),
                                                   args.repeat))]
    med, p90 = timeit(lambda: db.identify_encodings(Q, k=1), max(5, args.repeat // 5))
    rows.append(("identify, top-1 (32 queries, per query)", med / 32, p90 / 32))

    # The loop version, as a first who_is_it is written: one norm per enrolled person.
    n_loop = min(args.n, 10_000)
    people = dict(zip(names[:n_loop], G[:n_loop]))

    def loop():
        best, who = np.inf, None
        for name, e in people.items():
            dist = np.linalg.norm(q - e)
            if dist < best:
                best, who = dist, name
        return who
    med, p90 = timeit(loop, 3, warmup=1)
    scale = args.n / n_loop
    rows.append((f"Python loop over a dict (scaled from {n_loop:,})", med * scale, p90 * scale))

    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        Gt, qt = torch.from_numpy(G), torch.from_numpy(q[None])
        Gt_sq = (Gt * Gt).sum(1)
        rows.append((f"torch {torch.__version__}: cdist + topk(1)",
                     *timeit(lambda: torch.cdist(qt, Gt).topk(1, largest=False), args.repeat)))
        rows.append((f"torch {torch.__version__}: ‖g‖² − 2 G q + topk(1)",
                     *timeit(lambda: (Gt_sq - 2 * (Gt @ qt[0])).topk(1, largest=False),
                             args.repeat)))
    except ImportError:
        pass

    print(f"FaceDatabase.identify over {args.n:,} enrolled encodings of size {args.d} "
          f"(float32); {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}")
    print(f"enrolling {args.n:,} ready-made encodings: {enrol_s * 1e3:.1f} ms\n")
    print(f"{'what':<48}{'median ms':>11}{'p90 ms':>10}")
    print("-" * 69)
    for what, med, p90 in rows:
        print(f"{what:<48}{med:>11.2f}{p90:>10.2f}")
    ok = rows[0][1] < 50
    print(f"\ngoal: identify under 50 ms at 100,000 on CPU: {'met' if ok else 'NOT met'} "
          f"({rows[0][1]:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
