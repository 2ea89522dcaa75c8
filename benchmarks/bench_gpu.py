"""A short GPU check (``make gpu-check``): the CUDA paths, timed, beside the CPU.

Prints one table:

- tie-aware mAP of 50,000 queries against 50,000 database items (random
  embeddings, 100 classes) on CUDA;
- ``CrossModalIndex`` exact search of 1,000 queries in 1,000,000 items on CUDA,
  beside a plain ``torch.topk(Q @ D.T)`` of the same size on the same device;
- one training epoch of each neural estimator on Wikipedia-sized synthetic data
  (2,173 pairs, 128-d and 10-d, 10 classes) on CUDA and on the CPU, as a ratio.

Without a CUDA device it says so and exits 0, so CI (which has none) skips it.

Usage::

    python benchmarks/bench_gpu.py
"""

from __future__ import annotations

import datetime
import sys
import time

import numpy as np
import torch

import skcross
from skcross import CrossModalIndex
from skcross.datasets import make_multimodal_classification
from skcross.metrics import mean_average_precision


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    _sync()
    start = time.perf_counter()
    out = fn()
    _sync()
    return out, time.perf_counter() - start


def one_epoch(name: str, device: str, X, y) -> float:
    """Seconds of one epoch of a default-width estimator (early stopping off)."""
    Est = getattr(skcross, name)
    est = Est(max_epochs=1, early_stopping=False, device=device, random_state=0)
    _, seconds = timed(lambda: est.fit(X, y if est._requires_labels else None))
    return seconds


def main() -> int:
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device on this machine; skipped.")
        return 0
    rows = [("device", torch.cuda.get_device_name(0), ""), ("date", datetime.date.today().isoformat(), "")]
    rng = np.random.default_rng(0)

    n = 50_000
    E = rng.standard_normal((n, 64)).astype(np.float32)
    labels = rng.integers(0, 100, n)
    value, seconds = timed(lambda: mean_average_precision(E, E, labels, labels, device="cuda"))
    rows.append(("mAP 50,000 x 50,000 (cuda)", f"{seconds:.2f} s", f"mAP {value:.4f}"))

    D = rng.standard_normal((1_000_000, 128)).astype(np.float32)
    Q = rng.standard_normal((1_000, 128)).astype(np.float32)
    index = CrossModalIndex(None, metric="dot", device="cuda").add_embeddings(D)
    index.search_embeddings(Q[:10], k=10)  # warm-up
    _, t_index = timed(lambda: index.search_embeddings(Q, k=10))
    Dt, Qt = torch.as_tensor(D, device="cuda"), torch.as_tensor(Q, device="cuda")
    torch.topk(Qt @ Dt.T, 10, dim=1)
    _, t_plain = timed(lambda: torch.topk(Qt @ Dt.T, 10, dim=1))
    rows.append(("index search 1,000 x 1,000,000 (cuda)", f"{t_index:.3f} s",
                 f"plain topk {t_plain:.3f} s, ratio {t_index / t_plain:.2f}"))

    X, y = make_multimodal_classification(n_samples=2173, n_classes=10, n_features=[128, 10], random_state=0)
    for name in ("SDML", "DSCMR", "CrossModalVAE"):
        gpu = one_epoch(name, "cuda", X, y)
        cpu = one_epoch(name, "cpu", X, y)
        rows.append((f"{name}: one epoch, 2,173 pairs", f"{gpu:.2f} s cuda", f"{cpu:.2f} s cpu, ratio {cpu / gpu:.1f}x"))

    print("| check | result | note |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
