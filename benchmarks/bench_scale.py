"""Growth curves: fit time, transform time and peak memory as the training set grows.

For each estimator and each N (synthetic pairs, 10 classes), one fresh
subprocess generates the data, fits and embeds, and reports its peak resident
memory (``VmHWM`` of ``/proc/self/status``, which counts the pages of a memmap
read into the process too). The neural estimators train ONE epoch
(``max_epochs=1``, no early stopping: the cost per epoch) from memmapped
512-d float32 features written to a temporary folder (``--in-memory`` keeps
them in RAM); HarmonizedGPLVM fits in memory with a few optimiser iterations.
The log-log slope of each column against N is printed per method (1 = linear).

Usage::

    python benchmarks/bench_scale.py                       # the default plan
    python benchmarks/bench_scale.py --methods DSCMR --sizes 1000 1000000
    python benchmarks/bench_scale.py --budget 300          # seconds per run

A size is skipped for a method once a smaller size took more than
``--budget / 10`` seconds (the next size would not finish in the budget).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

NEURAL = ["DSCMR", "SDML", "CrossModalVAE", "MinVIRBM"]
GPLVM = ["gplvm", "simgp-active", "rsimgp-active"]
DEFAULT_SIZES = [1_000, 10_000, 100_000, 1_000_000]
N_FEATURES = 512
N_CLASSES = 10


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _write_data(folder: str, n: int, d: int, memmap: bool, seed: int = 0):
    """Two modalities of ``n`` pairs, written chunk by chunk (never whole in memory)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    centres = rng.normal(size=(2, N_CLASSES, d)).astype(np.float32)
    arrays = []
    for c in range(2):
        if memmap:
            from numpy.lib.format import open_memmap

            A = open_memmap(os.path.join(folder, f"m{c}.npy"), mode="w+", dtype=np.float32, shape=(n, d))
        else:
            A = np.empty((n, d), dtype=np.float32)
        for start in range(0, n, 50_000):
            rows = slice(start, min(n, start + 50_000))
            A[rows] = centres[c][y[rows]] + 2.0 * rng.standard_normal((rows.stop - start, d), dtype=np.float32)
        if memmap:
            A.flush()
            del A
            A = np.load(os.path.join(folder, f"m{c}.npy"), mmap_mode="r")
        arrays.append(A)
    return arrays, y


def _estimator(method: str):
    import skcross

    one_epoch = dict(max_epochs=1, early_stopping=False, random_state=0, device="cpu")
    if method == "DSCMR":
        return skcross.DSCMR(**one_epoch, batch_size=256)
    if method == "SDML":
        return skcross.SDML(**one_epoch, batch_size=256)
    if method == "CrossModalVAE":
        return skcross.CrossModalVAE(**one_epoch, batch_size=256)
    if method == "MinVIRBM":
        return skcross.MinVIRBM(**one_epoch, batch_size=256)
    model, _, similarity = method.partition("-")
    params = dict(model=model, max_iter=20, max_iter_transform=10, random_state=0, device="cpu")
    if similarity:
        params["similarity_to"] = similarity
    return skcross.HarmonizedGPLVM(**params)


def run_one(method: str, n: int, memmap: bool) -> dict:
    """Fit and embed once; the numbers of this process."""
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    neural = method in NEURAL
    d = N_FEATURES if neural else 64
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_SCALE_TMP")) as folder:
        t0 = time.perf_counter()
        X, y = _write_data(folder, n, d, memmap and neural)
        t_data = time.perf_counter() - t0
        est = _estimator(method)
        t0 = time.perf_counter()
        est.fit(X, y if method != "MinVIRBM" else None)
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        E = est.transform(1, X[1][: min(n, 100_000)])
        t_transform = (time.perf_counter() - t0) * n / E.shape[0]  # per N rows
        del X
    return dict(method=method, n=n, fit_s=t_fit, transform_s=t_transform,
                data_s=t_data, peak_rss_mib=_peak_rss_mib(), memmap=bool(memmap and neural))


def _slope(ns, values) -> float:
    ns, values = np.asarray(ns, float), np.asarray(values, float)
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns[ok]), np.log(values[ok]), 1)[0])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=NEURAL + GPLVM)
    parser.add_argument("--sizes", nargs="+", type=int, default=DEFAULT_SIZES)
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per run (default 300)")
    parser.add_argument("--in-memory", action="store_true", help="neural data in RAM, not memmapped")
    parser.add_argument("--json", help="append each row as JSON to this file")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), not args.in_memory)))
        return
    rows = []
    header = f"{'method':<16}{'N':>10}{'fit (1 epoch) s':>17}{'transform s':>13}{'peak RSS MiB':>14}"
    print(header, flush=True)
    for method in args.methods:
        done = []
        for n in sorted(args.sizes):
            if done and done[-1]["fit_s"] * 10 > args.budget:
                print(f"{method:<16}{n:>10}  skipped: {done[-1]['fit_s']:.0f} s at N={done[-1]['n']}", flush=True)
                break
            cmd = [sys.executable, __file__, "--one", method, str(n)] + (["--in-memory"] if args.in_memory else [])
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.budget)
            except subprocess.TimeoutExpired:
                print(f"{method:<16}{n:>10}  over the {args.budget:.0f} s budget", flush=True)
                break
            if out.returncode != 0:
                print(f"{method:<16}{n:>10}  failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                break
            row = json.loads(out.stdout.strip().splitlines()[-1])
            done.append(row)
            rows.append(row)
            print(f"{method:<16}{n:>10}{row['fit_s']:>17.2f}{row['transform_s']:>13.2f}{row['peak_rss_mib']:>14.0f}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
        if len(done) >= 2:
            ns = [r["n"] for r in done]
            print(f"{method:<16}{'slope':>10}{_slope(ns, [r['fit_s'] for r in done]):>17.2f}"
                  f"{_slope(ns, [r['transform_s'] for r in done]):>13.2f}"
                  f"{_slope(ns, [r['peak_rss_mib'] for r in done]):>14.2f}", flush=True)


if __name__ == "__main__":
    main()
