"""HarmonizedGPLVM's fit with numpy's BLAS on one thread against the default pools.

HarmonizedGPLVM runs scipy's L-BFGS-B around a torch objective: many small
numpy/scipy BLAS calls between torch calls. With OpenBLAS at its default
thread count its idle workers keep spinning for work and take the cores
torch's threads need, so ``fit`` runs inside
``skcross._torch_utils.single_threaded_numpy_blas`` (torch's own pool is left
alone). This script fits the estimator at its defaults both ways, in the same
process with the machine's default thread counts, and prints the wall-clock
times, their ratio and the test-split mean mAP of both fits. The two fits
need not give the same embedding: the optimiser's path depends on the
rounding of the BLAS sums, which depends on the thread count (with the
limit, it no longer depends on the machine's core count).

Usage::

    python benchmarks/bench_threads.py --datasets wikipedia,mfeat --data-home ../shared/data
    python benchmarks/bench_threads.py --datasets synthetic-hard   # no data files needed

Run it on an otherwise idle machine: the times are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_defaults as bd  # noqa: E402

import skcross._gplvm as gplvm_module  # noqa: E402
from skcross import HarmonizedGPLVM  # noqa: E402


def timed_fit(split, limit_numpy_blas: bool) -> tuple[float, float, object]:
    """Wall seconds of a default fit and of embedding the test split, and the test embeddings."""
    limiter = gplvm_module.single_threaded_numpy_blas
    if not limit_numpy_blas:
        gplvm_module.single_threaded_numpy_blas = contextlib.nullcontext
    try:
        est = HarmonizedGPLVM(random_state=0)
        t0 = time.perf_counter()
        est.fit(split.X_train)
        fit_time = time.perf_counter() - t0
        t0 = time.perf_counter()
        embeddings = est.embed(split.X_test)
        transform_time = time.perf_counter() - t0
    finally:
        gplvm_module.single_threaded_numpy_blas = limiter
    return fit_time, transform_time, embeddings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="wikipedia,mfeat")
    parser.add_argument("--data-home", default=None)
    args = parser.parse_args(argv)

    pools = ", ".join(f"{i['internal_api']} x{i['num_threads']}" for i in threadpool_info())
    print(f"torch threads {torch.get_num_threads()}; thread pools: {pools}\n")
    print("| data set | fit, default pools (s) | fit, numpy BLAS on 1 thread (s) | ratio | "
          "transform, default / 1 thread (s) | mean mAP, default / 1 thread |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets.split(","):
        split = bd.load_dataset(name, args.data_home)
        fit_default, transform_default, emb_default = timed_fit(split, limit_numpy_blas=False)
        fit_limited, transform_limited, emb_limited = timed_fit(split, limit_numpy_blas=True)
        map_default, map_limited = (
            np.mean([m for _, _, m in bd.score_embeddings(emb, split.y_test)]) for emb in (emb_default, emb_limited)
        )
        print(f"| {name} | {fit_default:.1f} | {fit_limited:.1f} | {fit_default / fit_limited:.2f} | "
              f"{transform_default:.1f} / {transform_limited:.1f} | {map_default:.4f} / {map_limited:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
