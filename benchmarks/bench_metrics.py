"""mAP speed and memory: skcross.metrics.mean_average_precision against a per-query loop
over sklearn.metrics.average_precision_score, in one run.

    python benchmarks/bench_metrics.py            # 5,000 and 20,000, plus 50,000 memory
    python benchmarks/bench_metrics.py --quick    # 2,000 and 5,000, no 50,000 run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score

from skcross.metrics import mean_average_precision


def random_problem(n: int, dim: int = 64, n_classes: int = 10, seed: int = 0):
    rng = np.random.RandomState(seed)
    y_q, y_d = rng.randint(n_classes, size=n), rng.randint(n_classes, size=n)
    centres = rng.randn(n_classes, dim)
    Q = centres[y_q] + 2.0 * rng.randn(n, dim)
    D = centres[y_d] + 2.0 * rng.randn(n, dim)
    return Q, D, y_q, y_d


def sklearn_loop_map(Q, D, y_q, y_d) -> float:
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    aps = []
    for q, label in zip(Qn, y_q):
        relevant = y_d == label
        aps.append(average_precision_score(relevant, Dn @ q) if relevant.any() else 0.0)
    return float(np.mean(aps))


def peak_memory_child(n: int) -> dict:
    """Run one n x n evaluation in a fresh process and report its peak RSS."""
    code = f"""
import json, resource, time, sys
sys.path.insert(0, {str(sys.path[0])!r})
from bench_metrics import random_problem
from skcross.metrics import mean_average_precision
Q, D, yq, yd = random_problem({n}, dim=64)
Q, D = Q.astype('float32'), D.astype('float32')
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
m = mean_average_precision(Q, D, yq, yd)
print(json.dumps(dict(map=m, seconds=time.perf_counter() - t,
                      peak_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      data_gib=before / 2**20)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [2000, 5000] if args.quick else [5000, 20000]
    rows = []
    for n in sizes:
        Q, D, yq, yd = random_problem(n)
        t = time.perf_counter()
        ours = mean_average_precision(Q, D, yq, yd)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ref = sklearn_loop_map(Q, D, yq, yd)
        t_ref = time.perf_counter() - t
        rows.append((n, t_ours, t_ref, t_ref / t_ours, abs(ours - ref)))
    print("| n queries x n database | skcross (s) | sklearn loop (s) | speed-up | max abs diff |")
    print("|---|---|---|---|---|")
    for n, a, b, r, d in rows:
        print(f"| {n:,} x {n:,} | {a:.2f} | {b:.2f} | {r:.1f}x | {d:.2e} |")
    if not args.quick:
        res = peak_memory_child(50000)
        print()
        print("| n queries x n database | skcross (s) | peak RSS (GiB) | of which data + torch (GiB) | mAP |")
        print("|---|---|---|---|---|")
        print(f"| 50,000 x 50,000 | {res['seconds']:.1f} | {res['peak_gib']:.2f} | {res['data_gib']:.2f} | {res['map']:.4f} |")


if __name__ == "__main__":
    main()
