"""Growth curves: fit time, transform time and peak memory as the training set grows.

For each estimator and each N (synthetic pairs of two modalities, 10
classes), one fresh subprocess generates the data, fits, embeds, and reports:

- fit and transform CPU seconds (``time.process_time``: the sum over the
  process's threads, so that a shared machine's load does not inflate it as it
  does wall time; the wall seconds are in the JSON rows). The transform time
  is that of the first ``min(N, 100,000)`` rows of a modality (10,000 for the
  GPLVM) scaled to N rows;
- peak RSS: ``VmHWM`` of ``/proc/self/status``, reset after the data are
  written (``/proc/self/clear_refs``), so it is the peak of fit + transform,
  data held in memory included;
- its split, sampled every 5 ms by a thread during fit and transform:
  peak ``RssAnon`` (anonymous memory: arrays, tensors, the allocator) and peak
  ``RssFile`` (file pages mapped into the process: the shared libraries,
  ~110 MiB, plus any page of a memmap read through its mapping). The two peaks
  need not be simultaneous, and a spike shorter than the sampling period can
  be missed by them (not by ``VmHWM``);
- the RSS before the data (imports only) and after them, for reference.

The neural estimators train ONE epoch (``max_epochs=1``, no early stopping,
``batch_size=256``: the cost per epoch) from memmapped 512-d float32 features
written to a temporary folder with ordinary file writes (``--in-memory``
keeps them in RAM instead); HarmonizedGPLVM fits 64-d features in memory with
20 L-BFGS iterations (``max_iter=20``, ``max_iter_transform=10``). The
log-log slope of each column against N is printed per method (1 = linear);
for the memory it is also given for the peak above the imports-only RSS,
which the ~400 MiB of torch and skcross would otherwise flatten.

Usage::

    python benchmarks/bench_scale.py                       # the default plan
    python benchmarks/bench_scale.py --methods DSCMR --sizes 1000 1000000
    python benchmarks/bench_scale.py --methods gplvm simgp-active rsimgp-active
    python benchmarks/bench_scale.py --budget 300          # seconds per run

GPLVM methods: ``gplvm``, ``simgp``, ``rsimgp`` (``similarity_to="all"``,
O(N^2) similarity memory), and ``simgp-active`` / ``rsimgp-active``
(``similarity_to="active"``). Torch uses ``OMP_NUM_THREADS`` threads (1 when
unset). A size is skipped for a method once a smaller size's fit took more
than ``--budget / 10`` CPU seconds (the next, 10x larger, would not finish in
the budget), and a run over ``--budget`` wall seconds is stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

NEURAL = ["DSCMR", "SDML", "CrossModalVAE", "MinVIRBM"]
GPLVM = ["gplvm", "simgp-active", "rsimgp-active"]
GPLVM_ALL = GPLVM + ["simgp", "rsimgp"]
DEFAULT_SIZES = [1_000, 10_000, 100_000, 1_000_000]
N_FEATURES = 512
N_FEATURES_GPLVM = 64
N_CLASSES = 10
TRANSFORM_ROWS = {"neural": 100_000, "gplvm": 10_000}


def _status_mib() -> dict:
    """The memory lines of /proc/self/status, in MiB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[key] = int(value.split()[0]) / 1024.0
    except OSError:
        pass
    return out


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Sampler:
    """Peak RssAnon / RssFile of this process while active, sampled in a thread."""

    def __init__(self, period: float = 0.005):
        self.period = period
        self.peaks: dict = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, value in _status_mib().items():
                if key != "VmHWM":
                    self.peaks[key] = max(self.peaks.get(key, 0.0), value)
            self._stop.wait(self.period)

    def __enter__(self) -> "_Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _write_data(folder: str, n: int, d: int, memmap: bool, seed: int = 0):
    """Two modalities of ``n`` pairs, generated 50,000 rows at a time.

    Memmapped modalities are written with ordinary file writes (``.npy``
    header, then the rows) and opened read-only with ``np.load(mmap_mode="r")``:
    writing through a writable memmap would leave the whole file mapped (and
    counted in the RSS) before the fit starts.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    centres = rng.normal(size=(2, N_CLASSES, d)).astype(np.float32)
    arrays = []
    for c in range(2):
        path = os.path.join(folder, f"m{c}.npy")
        A = None if memmap else np.empty((n, d), dtype=np.float32)
        f = open(path, "wb") if memmap else None
        if f is not None:
            header = dict(descr=np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                          fortran_order=False, shape=(n, d))
            np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, n, 50_000):
            rows = slice(start, min(n, start + 50_000))
            block = centres[c][y[rows]] + 2.0 * rng.standard_normal((rows.stop - start, d), dtype=np.float32)
            if f is not None:
                f.write(block.tobytes())
            else:
                A[rows] = block
        if f is not None:
            f.close()
            A = np.load(path, mmap_mode="r")
        arrays.append(A)
    return arrays, y


def _estimator(method: str):
    import skcross

    one_epoch = dict(max_epochs=1, early_stopping=False, random_state=0, device="cpu", batch_size=256)
    if method in NEURAL:
        return getattr(skcross, method)(**one_epoch)
    model, _, similarity = method.partition("-")
    params = dict(model=model, max_iter=20, max_iter_transform=10, random_state=0, device="cpu")
    if similarity:
        params["similarity_to"] = similarity
    return skcross.HarmonizedGPLVM(**params)


def run_one(method: str, n: int, memmap: bool) -> dict:
    """Fit and embed once; the numbers of this process."""
    import torch

    import skcross  # noqa: F401  (imported before the baseline RSS is read)

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    neural = method in NEURAL
    d = N_FEATURES if neural else N_FEATURES_GPLVM
    memmap = memmap and neural
    rss_imports = _status_mib().get("VmRSS", float("nan"))
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_SCALE_TMP")) as folder:
        t0 = time.perf_counter()
        X, y = _write_data(folder, n, d, memmap)
        t_data = time.perf_counter() - t0
        est = _estimator(method)
        rss_data = _status_mib().get("VmRSS", float("nan"))
        reset = _reset_peak()
        with _Sampler() as fit_sampler:
            c0, w0 = time.process_time(), time.perf_counter()
            est.fit(X, y if method != "MinVIRBM" else None)
            fit_cpu, fit_wall = time.process_time() - c0, time.perf_counter() - w0
        m = min(n, TRANSFORM_ROWS["neural" if neural else "gplvm"])
        with _Sampler() as transform_sampler:
            c0, w0 = time.process_time(), time.perf_counter()
            E = est.transform(1, X[1][:m])
            transform_cpu = (time.process_time() - c0) * n / E.shape[0]  # per N rows
            transform_wall = (time.perf_counter() - w0) * n / E.shape[0]
        peak = _status_mib().get("VmHWM", float("nan"))
        del X, E
    fit_peaks, transform_peaks = fit_sampler.peaks, transform_sampler.peaks
    return dict(
        method=method, n=n, memmap=bool(memmap), threads=torch.get_num_threads(),
        fit_cpu_s=fit_cpu, fit_wall_s=fit_wall,
        transform_cpu_s=transform_cpu, transform_wall_s=transform_wall, transform_rows=m,
        data_s=t_data,
        peak_rss_mib=peak if reset else float("nan"),
        peak_rss_anon_mib=max(fit_peaks.get("RssAnon", 0.0), transform_peaks.get("RssAnon", 0.0)),
        peak_rss_file_mib=max(fit_peaks.get("RssFile", 0.0), transform_peaks.get("RssFile", 0.0)),
        fit_peak_rss_anon_mib=fit_peaks.get("RssAnon"), fit_peak_rss_file_mib=fit_peaks.get("RssFile"),
        transform_peak_rss_anon_mib=transform_peaks.get("RssAnon"),
        transform_peak_rss_file_mib=transform_peaks.get("RssFile"),
        rss_imports_mib=rss_imports, rss_with_data_mib=rss_data,
    )


def _available_mib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("inf")


def _projected_peak_mib(done: list[dict], n: int) -> float:
    """The peak RSS a run of size ``n`` would reach: the memory above the
    imports grown from the last size at least linearly (faster if the last two
    sizes grew faster), so that a run that would exhaust the machine's memory
    (and bring the OOM killer onto other processes) is not started."""
    if not done:
        return 0.0
    above = [r["peak_rss_mib"] - r["rss_imports_mib"] for r in done]
    growth = 1.0
    if len(done) >= 2 and above[-2] > 0 and above[-1] > 0:
        growth = max(1.0, np.log(above[-1] / above[-2]) / np.log(done[-1]["n"] / done[-2]["n"]))
    return done[-1]["rss_imports_mib"] + above[-1] * (n / done[-1]["n"]) ** growth


def _slope(ns, values) -> float:
    ns, values = np.asarray(ns, float), np.asarray(values, float)
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns[ok]), np.log(values[ok]), 1)[0])


COLUMNS = [  # (header, width, row key or function, format)
    ("fit CPU s", 11, "fit_cpu_s", ".2f"),
    ("transform CPU s", 16, "transform_cpu_s", ".2f"),
    ("peak RSS MiB", 13, "peak_rss_mib", ".0f"),
    ("RssAnon MiB", 12, "peak_rss_anon_mib", ".0f"),
    ("RssFile MiB", 12, "peak_rss_file_mib", ".0f"),
    ("above imports", 14, lambda r: r["peak_rss_mib"] - r["rss_imports_mib"], ".0f"),
]


def _value(row: dict, key) -> float:
    return key(row) if callable(key) else row[key]


def markdown(rows: list[dict]) -> str:
    """A markdown table of JSON rows (``--json`` output), with per-method slopes
    over all sizes and over the last two (the growth once fixed costs are
    amortised)."""
    heads = ["fit CPU s", "transform CPU s", "peak RSS MiB", "peak RssAnon MiB", "peak RssFile MiB",
             "peak above imports MiB"]
    keys = [k for _, _, k, _ in COLUMNS]
    lines = ["| method | N | " + " | ".join(heads) + " |", "|---|---:|" + "---:|" * len(heads)]
    by_method: dict = {}
    for r in rows:
        by_method.setdefault(r["method"], {})[r["n"]] = r  # a later run of a size replaces an earlier one
    for method, runs in by_method.items():
        done = [runs[n] for n in sorted(runs)]
        for r in done:
            cells = [f"{_value(r, k):,.2f}" if i < 2 else f"{_value(r, k):,.0f}" for i, k in enumerate(keys)]
            lines.append(f"| {method} | {r['n']:,} | " + " | ".join(cells) + " |")
        if len(done) >= 2:
            ns = [r["n"] for r in done]
            for label, sel in [("slope, all sizes", slice(None)), ("slope, last two sizes", slice(-2, None))]:
                if label.endswith("two sizes") and len(done) == 2:
                    continue
                cells = [f"{_slope(ns[sel], [_value(r, k) for r in done][sel]):.2f}" for k in keys]
                cells[4] = "-"  # the libraries' pages: constant, no slope to speak of
                lines.append(f"| {method} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=NEURAL + GPLVM, choices=NEURAL + GPLVM_ALL)
    parser.add_argument("--sizes", nargs="+", type=int, default=DEFAULT_SIZES)
    parser.add_argument("--budget", type=float, default=600.0, help="wall seconds per run (default 600)")
    parser.add_argument("--in-memory", action="store_true", help="neural data in RAM, not memmapped")
    parser.add_argument("--json", help="append each row as JSON to this file")
    parser.add_argument("--report", metavar="JSONL", help="print the rows of a --json file as a markdown table")
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            print(markdown([json.loads(line) for line in f if line.strip()]))
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), not args.in_memory)))
        return
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    print(f"torch threads: {env['OMP_NUM_THREADS']}; neural data "
          f"{'in memory' if args.in_memory else 'memmapped'}", flush=True)
    header = f"{'method':<16}{'N':>10}" + "".join(f"{h:>{w}}" for h, w, _, _ in COLUMNS)
    print(header, flush=True)
    for method in args.methods:
        done = []
        for n in sorted(args.sizes):
            if done and done[-1]["fit_cpu_s"] * 10 > args.budget:
                print(f"{method:<16}{n:>10}  skipped: {done[-1]['fit_cpu_s']:.0f} CPU s at N={done[-1]['n']}",
                      flush=True)
                break
            need = _projected_peak_mib(done, n)
            if need > 0.7 * _available_mib():
                print(f"{method:<16}{n:>10}  skipped: would need about {need / 1024:.1f} GiB "
                      f"(extrapolated), {_available_mib() / 1024:.1f} GiB available", flush=True)
                break
            cmd = [sys.executable, __file__, "--one", method, str(n)] + (["--in-memory"] if args.in_memory else [])
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.budget, env=env)
            except subprocess.TimeoutExpired:
                print(f"{method:<16}{n:>10}  over the {args.budget:.0f} s budget", flush=True)
                break
            if out.returncode != 0:
                print(f"{method:<16}{n:>10}  failed: {out.stderr.strip().splitlines()[-1:]}", flush=True)
                break
            row = json.loads(out.stdout.strip().splitlines()[-1])
            done.append(row)
            print(f"{method:<16}{n:>10}" + "".join(f"{_value(row, k):>{w}{fmt}}" for _, w, k, fmt in COLUMNS),
                  flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
        if len(done) >= 2:
            ns = [r["n"] for r in done]
            print(f"{method:<16}{'slope':>10}"
                  + "".join(f"{_slope(ns, [_value(r, k) for r in done]):>{w}.2f}" for _, w, k, _ in COLUMNS),
                  flush=True)


if __name__ == "__main__":
    main()
