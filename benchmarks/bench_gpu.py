"""A short GPU check (``make gpu-check``): the CUDA paths, timed, beside the CPU.

Prints one table:

- tie-aware mAP of 50,000 queries against 50,000 database items (random
  embeddings, 100 classes) on CUDA;
- ``CrossModalIndex`` exact search of 1,000 queries in 1,000,000 items on CUDA,
  beside a plain ``torch.topk(Q @ D.T)`` of the same size on the same device;
- one training epoch of each neural estimator on Wikipedia-sized synthetic data
  (2,173 pairs, 128-d and 10-d, 10 classes) on CUDA and on the CPU, as a ratio,
  and a whole default ``fit`` (early stopping on) on CUDA.

``--export DIR`` also writes a DSCMR and an SDML trained on CUDA (joblib) with
their CUDA embeddings, for ``--check DIR`` to load and compare on a CPU-only
machine.

Without a CUDA device it says so and exits 0, so CI (which has none) skips it.

Usage::

    python benchmarks/bench_gpu.py [--export DIR]
    python benchmarks/bench_gpu.py --check DIR     # on a machine without CUDA
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time

import joblib
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


def best_of(fn, repeat: int = 5) -> float:
    """Best of ``repeat`` timings: single runs of a few milliseconds are noise."""
    return min(timed(fn)[1] for _ in range(repeat))


def one_epoch(name: str, device: str, X, y) -> float:
    """Seconds of one epoch of a default-width estimator (early stopping off)."""
    Est = getattr(skcross, name)
    est = Est(max_epochs=1, early_stopping=False, device=device, random_state=0)
    _, seconds = timed(lambda: est.fit(X, y if est._requires_labels else None))
    return seconds


def export(folder: pathlib.Path, X, y) -> None:
    """CUDA-trained models and their embeddings, for ``check`` on a CPU-only machine."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("DSCMR", "SDML"):
        est = getattr(skcross, name)(max_epochs=5, early_stopping=False, device="cuda", random_state=0).fit(X, y)
        joblib.dump(est, folder / f"{name}_cuda.joblib")
        np.savez(folder / f"{name}_cuda_embeddings.npz",
                 **{f"x{c}": X.modality(c) for c in range(X.n_modalities)},
                 **{f"m{c}": est.transform(c, X.modality(c)) for c in range(X.n_modalities)})


def check(folder: pathlib.Path) -> int:
    worst = 0.0
    for name in ("DSCMR", "SDML"):
        est = joblib.load(folder / f"{name}_cuda.joblib").set_params(device="cpu")
        saved = np.load(folder / f"{name}_cuda_embeddings.npz")
        for c in range(len(est.modalities_)):
            diff = float(np.max(np.abs(est.transform(c, saved[f"x{c}"]) - saved[f"m{c}"])))
            worst = max(worst, diff)
            print(f"{name} modality {c}: CUDA-trained model loaded on the CPU, max |embedding difference| {diff:.2e}")
    return 0 if worst < 1e-4 else 1


def _wikipedia_sized():
    return make_multimodal_classification(n_samples=2173, n_classes=10, n_features=[128, 10], random_state=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=pathlib.Path, help="write CUDA-trained models here")
    parser.add_argument("--check", type=pathlib.Path, help="load exported models on this (CPU) machine")
    args = parser.parse_args()
    if args.check:
        return check(args.check)
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device on this machine; skipped.")
        return 0
    rows = [("device", torch.cuda.get_device_name(0), f"torch {torch.__version__}"),
            ("date", datetime.date.today().isoformat(), "")]
    rng = np.random.default_rng(0)
    torch.ones(1, device="cuda")  # CUDA context start-up, outside the timings

    n = 50_000
    E = rng.standard_normal((n, 64)).astype(np.float32)
    labels = rng.integers(0, 100, n)
    mean_average_precision(E[:1000], E[:1000], labels[:1000], labels[:1000], device="cuda")  # warm-up
    value, seconds = timed(lambda: mean_average_precision(E, E, labels, labels, device="cuda"))
    rows.append(("mAP 50,000 x 50,000 (cuda)", f"{seconds:.2f} s", f"mAP {value:.4f}"))

    D = rng.standard_normal((1_000_000, 128)).astype(np.float32)
    Q = rng.standard_normal((1_000, 128)).astype(np.float32)
    index = CrossModalIndex(None, metric="dot", device="cuda").add_embeddings(D)
    index.search_embeddings(Q[:10], k=10)  # warm-up
    t_index = best_of(lambda: index.search_embeddings(Q, k=10))
    Dt, Qt = torch.as_tensor(D, device="cuda"), torch.as_tensor(Q, device="cuda")
    torch.topk(Qt @ Dt.T, 10, dim=1)
    t_plain = best_of(lambda: torch.topk(Qt @ Dt.T, 10, dim=1))
    rows.append(("index search 1,000 x 1,000,000 (cuda)", f"{t_index:.3f} s",
                 f"plain topk {t_plain:.3f} s, ratio {t_index / t_plain:.2f} (best of 5)"))

    X, y = _wikipedia_sized()
    for name in ("SDML", "DSCMR", "CrossModalVAE", "MinVIRBM"):
        one_epoch(name, "cuda", X, y)  # warm-up (kernels, allocator)
        gpu = one_epoch(name, "cuda", X, y)
        cpu = one_epoch(name, "cpu", X, y)
        rows.append((f"{name}: one epoch, 2,173 pairs", f"{gpu:.2f} s cuda", f"{cpu:.2f} s cpu, ratio {cpu / gpu:.1f}x"))
    for name in ("SDML", "DSCMR", "CrossModalVAE", "MinVIRBM"):
        est = getattr(skcross, name)(device="cuda", random_state=0)
        _, seconds = timed(lambda: est.fit(X, y if est._requires_labels else None))
        best = getattr(est, "best_epoch_", getattr(est, "best_epochs_", "-"))
        rows.append((f"{name}: default fit, 2,173 pairs", f"{seconds:.1f} s cuda", f"kept epoch {best}"))

    print("| check | result | note |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
    if args.export:
        export(args.export, X, y)
        print(f"exported CUDA-trained models to {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
