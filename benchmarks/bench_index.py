"""Top-k retrieval at scale: CrossModalIndex's exact chunked torch search against a
plain ``torch.topk(Q @ D.T)`` of the same size (the matrix-multiply limit), FAISS
``IndexFlatIP`` and a plain numpy baseline (similarity rows, full argsort), and
FAISS IVF recall@k against exact, in one run; times also as ratios to the plain
topk and to FAISS Flat.

    python benchmarks/bench_index.py                        # 200,000 x 128, 1,000 queries, top-10
    python benchmarks/bench_index.py --n-database 1000000 --dim 256   # larger
    python benchmarks/bench_index.py --no-faiss
    python benchmarks/bench_index.py --baseline-queries 1000   # numpy/FAISS Flat on every query

The slow numpy baseline answers the first ``--baseline-queries`` queries only
(100 by default, so that the run stays within minutes on a CPU); the torch
index, the plain topk and FAISS Flat answer every query, each timed
``--repeat`` times (the best run is kept, the machine may be shared).

Peak memory is the rise of the process's peak resident set (VmHWM, reset before
each method through /proc/self/clear_refs) over its resident set when the
method starts, so it counts torch's and FAISS's native allocations too; the
shared database (n_database x dim float32) is not counted. Where /proc is not
available, tracemalloc's peak (Python and numpy allocations only) is reported.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from skcross import CrossModalIndex


def synthetic(n_database: int, n_queries: int, dim: int, n_clusters: int, noise: float, seed: int = 0):
    """Clustered float32 embeddings (as a trained common space gives), made in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    D = np.empty((n_database, dim), dtype=np.float32)
    for start in range(0, n_database, 100_000):
        stop = min(start + 100_000, n_database)
        labels = rng.integers(n_clusters, size=stop - start)
        D[start:stop] = centres[labels] + noise * rng.standard_normal((stop - start, dim), dtype=np.float32)
    labels = rng.integers(n_clusters, size=n_queries)
    Q = centres[labels] + noise * rng.standard_normal((n_queries, dim), dtype=np.float32)
    return D, Q


def numpy_argsort_top_k(Q: np.ndarray, D: np.ndarray, k: int, query_chunk: int = 16):
    """The baseline: cosine similarity rows in numpy, each fully argsorted."""
    inv_norm = 1.0 / np.linalg.norm(D, axis=1)
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    idx = np.empty((len(Q), k), dtype=np.int64)
    sims = np.empty((len(Q), k), dtype=np.float32)
    for start in range(0, len(Q), query_chunk):
        S = (Qn[start : start + query_chunk] @ D.T) * inv_norm
        order = np.argsort(-S, axis=1, kind="stable")[:, :k]
        idx[start : start + query_chunk] = order
        sims[start : start + query_chunk] = np.take_along_axis(S, order, axis=1)
    return idx, sims


class PeakMemory:
    """Peak extra resident memory of a block (MiB)."""

    def __enter__(self):
        gc.collect()
        self.proc = Path("/proc/self/clear_refs").exists()
        if self.proc:
            try:
                Path("/proc/self/clear_refs").write_text("5")
            except OSError:
                self.proc = False
        if self.proc:
            self.start = self._status("VmRSS")
        else:
            tracemalloc.start()
        return self

    @staticmethod
    def _status(key: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
        raise KeyError(key)

    def __exit__(self, *exc):
        if self.proc:
            self.mib = self._status("VmHWM") - self.start
            self.how = "peak RSS"
        else:
            self.mib = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            self.how = "tracemalloc"


def timed(fn):
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
    return out, seconds, mem


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    hits = [len(set(f) & set(e)) for f, e in zip(found, exact)]
    return float(np.sum(hits) / exact.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-database", type=int, default=200_000)
    parser.add_argument("--n-queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--n-clusters", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=2.0, help="within-cluster spread (centres: unit normal)")
    parser.add_argument("--batch-size", type=int, default=65536, help="database rows per torch block")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions of the torch, topk and FAISS Flat searches (best kept)")
    parser.add_argument("--baseline-queries", type=int, default=100,
                        help="queries answered by the numpy and FAISS Flat baselines")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--ivf", default="IVF1024,Flat", help="approximate FAISS index_factory string")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()

    print(
        f"database {args.n_database:,} x {args.dim} float32, {args.n_queries:,} queries, "
        f"top-{args.k}, cosine, {args.n_clusters:,} clusters (noise {args.noise}); torch threads {torch.get_num_threads()}, "
        f"device {'cuda' if torch.cuda.is_available() else 'cpu'}"
    )
    t0 = time.perf_counter()
    D, Q = synthetic(args.n_database, args.n_queries, args.dim, args.n_clusters, args.noise)
    print(f"data generated in {time.perf_counter() - t0:.1f} s ({D.nbytes / 2**20:,.0f} MiB database)\n")

    import os

    print(f"load average at start (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores\n")

    def best_of(fn):
        """The fastest of ``--repeat`` timed runs (the machine may be shared)."""
        runs = [timed(fn) for _ in range(max(1, args.repeat))]
        return min(runs, key=lambda r: r[1])

    rows = []
    index = CrossModalIndex(metric="cosine", batch_size=args.batch_size)
    index.add_embeddings(D)
    index.search_embeddings(Q[:2], args.k)  # warm-up: caches the float32 unit rows once
    (exact_idx, exact_sim), t_index, mem = best_of(lambda: index.search_embeddings(Q, args.k))
    rows.append(("skcross CrossModalIndex (torch, exact)", t_index, mem, 1.0, args.n_queries))
    del index
    gc.collect()

    # The matrix-multiply limit: one product and one topk, on rows normalised beforehand.
    Dt = torch.from_numpy(D)
    Dt = Dt / Dt.norm(dim=1, keepdim=True)
    Qt = torch.from_numpy(Q)
    Qt = Qt / Qt.norm(dim=1, keepdim=True)
    with torch.no_grad():
        (topk_res, t_topk, mem) = best_of(lambda: torch.topk(Qt @ Dt.T, args.k, dim=1))
    rows.append(("plain torch.topk(Q @ D.T) (unit rows; one full product)", t_topk, mem,
                 recall_at_k(topk_res.indices.numpy(), exact_idx), args.n_queries))
    del Dt, Qt, topk_res
    gc.collect()
    t_flat = None

    nb = min(args.baseline_queries, args.n_queries)
    (np_idx, np_sim), sec, mem = timed(lambda: numpy_argsort_top_k(Q[:nb], D, args.k))
    rows.append((f"numpy similarity rows + argsort (exact; first {nb} queries)", sec, mem,
                 recall_at_k(np_idx, exact_idx[:nb]), nb))
    same = float(np.mean(np_idx == exact_idx[:nb]))
    max_diff = float(np.abs(np_sim - exact_sim[:nb]).max())
    del np_idx, np_sim
    gc.collect()

    faiss_note = None
    if args.no_faiss:
        faiss_note = "FAISS skipped (--no-faiss)."
    else:
        try:
            import faiss  # noqa: F401
        except ImportError:
            faiss_note = "FAISS not installed (pip install faiss-cpu): FAISS rows skipped."
    if faiss_note is None:
        flat = CrossModalIndex(metric="cosine", backend="faiss")
        flat.add_embeddings(D)
        (f_idx, _), build, _ = timed(lambda: flat.search_embeddings(Q[:1], args.k))
        (f_idx, _), t_flat, mem = best_of(lambda: flat.search_embeddings(Q, args.k))
        rows.append((f"FAISS IndexFlatIP (exact; build {build:.1f} s)", t_flat, mem,
                     recall_at_k(f_idx, exact_idx), args.n_queries))
        del flat
        gc.collect()
        ivf = CrossModalIndex(metric="cosine", backend="faiss", faiss_factory=args.ivf)
        ivf.add_embeddings(D)
        _, build, _ = timed(lambda: ivf.search_embeddings(Q[:1], args.k))
        for nprobe in args.nprobe:
            ivf.nprobe = nprobe
            (f_idx, _), sec, mem = timed(lambda: ivf.search_embeddings(Q, args.k))
            rows.append(
                (f"FAISS {args.ivf}, nprobe={nprobe} (train+add {build:.1f} s)", sec, mem,
                 recall_at_k(f_idx, exact_idx), args.n_queries)
            )
        del ivf
        gc.collect()

    how = rows[0][2].how
    print(f"| method | queries | search time (s) | queries/s | peak extra memory (MiB, {how}) | recall@{args.k} vs exact |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, sec, mem, rec, n in rows:
        print(f"| {name} | {n:,} | {sec:.2f} | {n / sec:,.1f} | {mem.mib:,.0f} | {rec:.4f} |")
    print(f"\nratios (same run, best of {args.repeat}): CrossModalIndex / plain torch.topk(Q @ D.T) = "
          f"{t_index / t_topk:.2f} (target <= 1.2)"
          + (f"; CrossModalIndex / FAISS IndexFlatIP = {t_index / t_flat:.2f} (target <= 1.2)" if t_flat else ""))
    print(
        f"\nexact torch vs numpy (first {nb} queries): {same:.4%} of top-{args.k} indices "
        "identical, "
        f"max |similarity difference| {max_diff:.2e}"
    )
    if faiss_note:
        print(faiss_note)


if __name__ == "__main__":
    main()
