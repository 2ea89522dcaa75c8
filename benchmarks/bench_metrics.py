"""skcross.metrics beside independent implementations, and its speed and memory, in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_metrics.py     # agreement, 5,000 speed, 50,000 recall, 50,000 memory
    python benchmarks/bench_metrics.py --quick                # smaller sizes, no memory run
    python benchmarks/bench_metrics.py --only speed,breakdown --repeats 7
    python benchmarks/bench_metrics.py --only recall --recall-n 100000   # the issue's size, with peak memory

torch runs on one thread (``torch.set_num_threads(1)``, so the metrics run
their query chunks one at a time too): ratios compare like with like. Times
are CPU seconds (``time.process_time``) and wall seconds, best of
``--repeats``, the timings of the two sides interleaved, so that a load
spike from another process hits both.

Agreement: on the same random data (with and without ties, single- and
multi-label) our values beside scikit-learn, torchmetrics (RetrievalMAP,
RetrievalNormalizedDCG, RetrievalHitRate), ranx (map, ndcg@k, hit_rate@k) and
pytorch-metric-learning's AccuracyCalculator (MAP@R, R-precision,
precision@1), where the definitions coincide: max absolute difference over
queries and time of each. An oracle that is not installed is skipped with a
message (``pip install 'skcross[bench]'``). With ties, only the oracles that
average tied items (scikit-learn's and torchmetrics' NDCG) share our
definition; the others break ties their own way, and their rows show how far
that moves a score.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score, ndcg_score

from skcross.metrics import (
    average_precision_scores,
    map_at_r,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    r_precision,
    recall_at_k,
    similarity_matrix,
)


def random_problem(n: int, dim: int = 64, n_classes: int = 10, seed: int = 0, n_database: int | None = None):
    rng = np.random.RandomState(seed)
    m = n if n_database is None else n_database
    y_q, y_d = rng.randint(n_classes, size=n), rng.randint(n_classes, size=m)
    centres = rng.randn(n_classes, dim)
    Q = centres[y_q] + 2.0 * rng.randn(n, dim)
    D = centres[y_d] + 2.0 * rng.randn(m, dim)
    return Q, D, y_q, y_d


def tied(Q, D, y_d, rng):
    """Database rows drawn from a quarter of them: tie groups of about 4
    identical rows, whose labels stay random, so tie order matters."""
    base = rng.randint(len(D) // 4, size=len(D))
    return Q, D[base], y_d


def sklearn_loop_map(Q, D, y_q, y_d) -> float:
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
    aps = []
    for q, label in zip(Qn, y_q):
        relevant = y_d == label
        aps.append(average_precision_score(relevant, Dn @ q) if relevant.any() else 0.0)
    return float(np.mean(aps))


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def _timed_cpu(f):
    """``(out, cpu seconds, wall seconds)`` of one call."""
    c, t = time.process_time(), time.perf_counter()
    out = f()
    return out, time.process_time() - c, time.perf_counter() - t


def _best_interleaved(fns: dict, repeats: int) -> dict:
    """Best CPU and wall time of each function, calling them in turn ``repeats`` times."""
    best = {name: [None, float("inf"), float("inf")] for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            out, cpu, wall = _timed_cpu(f)
            b = best[name]
            b[0], b[1], b[2] = out, min(b[1], cpu), min(b[2], wall)
    return best


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _oracle(name: str):
    try:
        if name == "torchmetrics":
            import torchmetrics.retrieval as mod
        elif name == "ranx":
            import ranx as mod
        else:
            from pytorch_metric_learning.utils import accuracy_calculator as mod
        return mod
    except ImportError as exc:
        print(f"  [skipped] {name} is not installed ({exc}); pip install 'skcross[bench]'")
        return None


def _torchmetrics_rows(S, rel, gains, k):
    tm = _oracle("torchmetrics")
    if tm is None:
        return {}
    n_q, n_d = S.shape
    idx = torch.arange(n_q).repeat_interleave(n_d)
    # since torchmetrics 1.8 a relevant item with score <= 0 counts as not
    # relevant, so cosine scores are shifted to (1, 3]
    preds = torch.from_numpy(S.ravel() + 2.0)
    out = {}
    t = time.perf_counter()
    out["map"] = (float(tm.RetrievalMAP()(preds, torch.from_numpy(rel.ravel()), indexes=idx)), time.perf_counter() - t)
    t = time.perf_counter()
    ndcg = tm.RetrievalNormalizedDCG(top_k=k)(preds, torch.from_numpy(gains.ravel()), indexes=idx)
    out["ndcg"] = (float(ndcg), time.perf_counter() - t)
    return out


def _ranx_value(S, gains, metric):
    """ranx's value of one metric (queries without a relevant item count 0, as ours)."""
    ranx = _oracle("ranx")
    if ranx is None:
        return None
    n_q, n_d = S.shape
    t = time.perf_counter()
    # ranx drops queries without relevant items from qrels, so weight its mean back
    have = [i for i in range(n_q) if gains[i].any()]
    qrels = ranx.Qrels({f"q{i}": {f"d{j}": int(gains[i, j]) for j in np.flatnonzero(gains[i])} for i in have})
    run = ranx.Run({f"q{i}": {f"d{j}": float(S[i, j]) for j in range(n_d)} for i in have})
    value = float(ranx.evaluate(qrels, run, metric)) * len(have) / n_q
    return value, time.perf_counter() - t


def _pml_rows(Q, D, y_q, y_d):
    mod = _oracle("pytorch-metric-learning")
    if mod is None:
        return {}
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.inference import CustomKNN

    calc = mod.AccuracyCalculator(
        include=("mean_average_precision_at_r", "r_precision", "precision_at_1"),
        knn_func=CustomKNN(CosineSimilarity()), k="max_bin_count",
    )
    t = time.perf_counter()
    res = calc.get_accuracy(torch.tensor(Q, dtype=torch.float32), torch.tensor(y_q), torch.tensor(D, dtype=torch.float32), torch.tensor(y_d), ref_includes_query=False)
    dt = time.perf_counter() - t
    return {"map_at_r": (res["mean_average_precision_at_r"], dt), "r_precision": (res["r_precision"], dt), "precision_at_1": (res["precision_at_1"], dt)}


def agreement(n_q: int, n_d: int, k: int = 10) -> None:
    print(f"\n## Agreement with independent implementations ({n_q} queries x {n_d} database, dim 16)\n")
    print("| data | metric | skcross | oracle | oracle value | abs diff | skcross (s) | oracle (s) |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.RandomState(1)
    for ties in (False, True):
        Q, D, y_q, y_d = random_problem(n_q, dim=16, n_database=n_d, seed=2)
        if ties:
            Q, D, y_d = tied(Q, D, y_d, rng)
        L_q = (rng.rand(n_q, 6) < 0.3).astype(int)
        L_d = (rng.rand(n_d, 6) < 0.3).astype(int)
        S = similarity_matrix(Q, D)
        rel = (y_q[:, None] == y_d[None, :])
        gains = (L_q @ L_d.T).astype(np.float64)
        tag = "ties" if ties else "no ties"
        rows = []
        ours_map, t_map = _timed(lambda: mean_average_precision(Q, D, y_q, y_d))
        sk, t_sk = _timed(lambda: np.mean([average_precision_score(r, s) for r, s in zip(rel, S)]))
        rows.append(("mAP, single-label", ours_map, t_map, "sklearn average_precision_score", sk, t_sk))
        ours_ndcg, t_ndcg = _timed(lambda: ndcg_at_k(Q, D, L_q, L_d, k=k))
        sk_ndcg, t_skn = _timed(lambda: ndcg_score(gains, S, k=k))
        rows.append((f"NDCG@{k}, multi-label counts", ours_ndcg, t_ndcg, "sklearn ndcg_score", sk_ndcg, t_skn))
        for name, (value, dt) in _torchmetrics_rows(S, rel, gains, k).items():
            ours, t_ours = (ours_map, t_map) if name == "map" else (ours_ndcg, t_ndcg)
            rows.append((f"{'mAP, single-label' if name == 'map' else f'NDCG@{k}, multi-label counts'}", ours, t_ours, f"torchmetrics {name}", value, dt))
        ranx_map = _ranx_value(S, rel, "map")
        if ranx_map is not None:
            rows.append(("mAP, single-label", ours_map, t_map, "ranx map", *ranx_map))
            rows.append((f"NDCG@{k}, multi-label counts", ours_ndcg, t_ndcg, f"ranx ndcg@{k}", *_ranx_value(S, gains, f"ndcg@{k}")))
        pml = _pml_rows(Q, D, y_q, y_d)
        if pml:
            for name, f in (("map_at_r", map_at_r), ("r_precision", r_precision)):
                ours, dt = _timed(lambda: f(Q, D, y_q, y_d))
                rows.append((name, ours, dt, f"pytorch-metric-learning {name}", *pml[name]))
            ours, dt = _timed(lambda: precision_at_k(Q, D, y_q, y_d, k=1))
            rows.append(("precision@1", ours, dt, "pytorch-metric-learning precision_at_1", *pml["precision_at_1"]))
        # instance-level: row i of the queries matches row i of a noisy copy
        P = Q + 1.5 * rng.randn(*Q.shape)
        if ties:
            P[::2] = P[1::2]  # pairs of identical database rows
        ours_r, t_r = _timed(lambda: recall_at_k(Q, P, ks=k))
        Sp = similarity_matrix(Q, P)
        tm = _oracle("torchmetrics")
        if tm is not None:
            idx = torch.arange(n_q).repeat_interleave(n_q)
            t = time.perf_counter()
            hit = float(tm.RetrievalHitRate(top_k=k)(torch.from_numpy(Sp.ravel() + 2.0), torch.eye(n_q, dtype=torch.long).ravel(), indexes=idx))
            rows.append((f"recall@{k} (hit rate), paired", ours_r, t_r, "torchmetrics RetrievalHitRate", hit, time.perf_counter() - t))
        for metric, ours, t_ours, oracle, value, dt in rows:
            print(f"| {tag} | {metric} | {ours:.6f} | {oracle} | {value:.6f} | {abs(ours - value):.1e} | {t_ours:.3f} | {dt:.3f} |")


_PEAK = """
def peak():
    # VmHWM is per address space, so a fresh exec starts it anew; ru_maxrss
    # would carry over the parent's resident set at fork time
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
"""


def peak_memory_child(n_q: int, n_d: int) -> dict:
    """Run one n_q x n_d evaluation in a fresh process and report its peak RSS."""
    code = f"""
import json, resource, time, sys
sys.path.insert(0, {str(sys.path[0])!r})
import torch
torch.set_num_threads(1)
from bench_metrics import random_problem
from skcross.metrics import mean_average_precision
{_PEAK}
Q, D, yq, yd = random_problem({n_q}, dim=64, n_database={n_d})
Q, D = Q.astype('float32'), D.astype('float32')
before = peak()
c, t = time.process_time(), time.perf_counter()
m = mean_average_precision(Q, D, yq, yd)
print(json.dumps(dict(map=m, seconds=time.perf_counter() - t, cpu=time.process_time() - c,
                      peak_gib=peak(), data_gib=before)))
"""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(n: int, loop: bool = True, repeats: int = 3) -> None:
    Q, D, yq, yd = random_problem(n)
    S = similarity_matrix(Q, D)
    load_before = _load()
    best = _best_interleaved(
        {
            "sort": lambda: np.sort(S, axis=1),
            "average": lambda: mean_average_precision(Q, D, yq, yd),
            "stable": lambda: mean_average_precision(Q, D, yq, yd, ties="stable"),
        },
        repeats,
    )
    ours = best["average"][0]
    t_sort, c_sort = best["sort"][2], best["sort"][1]
    print(f"\n## mAP@all speed, {n:,} x {n:,} (dim 64, float64 scores; one thread; best of {repeats}, interleaved; the sklearn loop once)\n")
    print(f"load average (1, 5, 15 min) before: {load_before}; after: {_load()}\n")
    print("| what | CPU s | wall s | CPU ratio to np.sort | wall ratio to np.sort |")
    print("|---|---|---|---|---|")
    rows = [
        (f"bare np.sort of the {n:,} x {n:,} float64 score matrix", "sort"),
        ("skcross mAP, ties='average' (similarities included)", "average"),
        ("skcross mAP, ties='stable'", "stable"),
    ]
    for label, key in rows:
        _, c, w = best[key]
        print(f"| {label} | {c:.3f} | {w:.3f} | {c / c_sort:.2f} | {w / t_sort:.2f} |")
    if loop:
        ref, c_ref, t_ref = _timed_cpu(lambda: sklearn_loop_map(Q, D, yq, yd))
        print(f"| per-query loop over sklearn average_precision_score | {c_ref:.3f} | {t_ref:.3f} | {c_ref / c_sort:.2f} | {t_ref / t_sort:.2f} |")
        c_ours = best["average"][1]
        print(
            f"\nmAP / np.sort: {c_ours / c_sort:.2f} in CPU time, {best['average'][2] / t_sort:.2f} in wall time (target <= 2); "
            f"speed-up over the sklearn loop: {c_ref / c_ours:.1f}x in CPU time, {t_ref / best['average'][2]:.1f}x in wall time "
            f"(target >= 20x); |mAP difference| {abs(ref - ours):.1e} (no ties in this data)"
        )


def breakdown(n: int, repeats: int = 5) -> None:
    """Where the CPU time of mAP (ties='average') goes, stage by stage.

    The stages mirror ``skcross.metrics._ties.average_precision_untied_cpu``
    and the block loop of ``average_precision_scores`` (whose APs they must
    reproduce bit for bit: checked), timed separately, best of ``repeats``.
    """
    from skcross.metrics import _ranking, _similarity as sim_, _ties

    Q0, D0, yq, yd = random_problem(n)
    expected = average_precision_scores(Q0, D0, yq, yd)
    S_full = similarity_matrix(Q0, D0)
    stages = ["setup (fixed point, labels, key factors)", "similarity product (float64, exact)", "relevance mask",
              "int32 keys (truncate, shift, relevance bit)", "np.sort of the int32 keys", "relevant positions (LSB, flatnonzero)",
              "AP from positions + tie check", "rows with values < 1 key unit apart, sorted again"]
    best = dict.fromkeys(stages, float("inf"))
    t_sort = float("inf")
    for _ in range(repeats):
        t_sort = min(t_sort, _timed_cpu(lambda: np.sort(S_full, axis=1))[1])
        acc = dict.fromkeys(stages, 0.0)
        t = time.process_time()

        def tick(stage):
            nonlocal t
            now = time.process_time()
            acc[stage] += now - t
            t = now

        Q, D = sim_.fixed_pair(Q0, D0, "cosine")
        gains = _ties.Gains(yq, yd, n, n, Q.device)
        factors = sim_.rank_key_factors(Q, D, "cosine")
        tick(stages[0])
        N = D.shape[0]
        step = max(_ranking._BLOCK_BYTES // (8 * N), _ranking._BLOCK_ROWS)
        buf, keys_buf = torch.empty((step, N), dtype=torch.float64), np.empty((step, N), dtype=np.int32)
        aps = []
        for start in range(0, n, step):
            rows = slice(start, min(start + step, n))
            nb = rows.stop - start
            S = sim_.similarity(Q[rows], D, "cosine", rank_only=True, out=buf[:nb], row_factor=factors[rows]).numpy()
            tick(stages[1])
            rel = gains.mask(rows).numpy()
            tick(stages[2])
            keys = keys_buf[:nb]
            np.copyto(keys, S, casting="unsafe")
            np.left_shift(keys, 1, out=keys)
            np.bitwise_or(keys, rel.view(np.uint8), out=keys)
            tick(stages[3])
            keys.sort(axis=1)
            tick(stages[4])
            at = np.flatnonzero(np.bitwise_and(keys.view(np.uint8)[:, ::4], 1).view(bool))
            tick(stages[5])
            ap, _, rows_, after = _ties._ap_of_positions(at, nb, N, N, "retrieved")
            flat = keys.reshape(-1)
            shared = (flat[at] - flat[at - 1] <= 1) & (after != N)
            redo = np.unique(rows_[shared])
            tick(stages[6])
            if redo.size:  # values closer than a key unit: those rows sorted in float64
                order = np.argsort(S[redo], axis=1)
                at = np.flatnonzero(np.take_along_axis(rel[redo], order, axis=1))
                # (real ties would go to the general path: none in this data, as the check below shows)
                ap[redo] = _ties._ap_of_positions(at, redo.size, N, N, "retrieved")[0]
            aps.append(ap)
            tick(stages[7])
        np.testing.assert_array_equal(np.concatenate(aps), expected)
        for s in stages:
            best[s] = min(best[s], acc[s])
    total = sum(best.values())
    print(f"\n## where mAP's time goes, {n:,} x {n:,} (dim 64, ties='average', no ties in the data; one thread; best of {repeats} per stage)\n")
    print(f"load average (1, 5, 15 min): {_load()}\n")
    print("| stage | CPU s | share | / np.sort (float64) |")
    print("|---|---|---|---|")
    for s in stages:
        print(f"| {s} | {best[s]:.3f} | {best[s] / total:.0%} | {best[s] / t_sort:.2f} |")
    print(f"| sum | {total:.3f} | 100% | {total / t_sort:.2f} |")
    print(f"| bare np.sort of the float64 score matrix (same run) | {t_sort:.3f} | | 1.00 |")


def recall_child(n: int, k: int = 10) -> dict:
    """One n x n recall@(1, 5, 10) run and the chunked matmul + top-k baseline in a
    fresh process (one thread), with peak RSS after each."""
    code = f"""
import json, resource, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from skcross.metrics import recall_at_k
{_PEAK}
rng = np.random.RandomState(0)
A = rng.randn({n}, 64).astype(np.float32)
B = (A + rng.randn({n}, 64).astype(np.float32)).astype(np.float32)
out = dict(data_gib=peak())
c, t = time.process_time(), time.perf_counter()
out["recall"] = recall_at_k(A, B, ks=(1, 5, 10)).tolist()
out["ours_cpu"], out["ours_wall"], out["ours_peak_gib"] = time.process_time() - c, time.perf_counter() - t, peak()
c, t = time.process_time(), time.perf_counter()
Qt, Dt = torch.from_numpy(A), torch.from_numpy(B)
Qt = Qt / Qt.norm(dim=1, keepdim=True)
Dt = Dt / Dt.norm(dim=1, keepdim=True)
step = max(1, 2**25 // {n})
hits = 0
for s in range(0, {n}, step):
    idx = torch.topk(Qt[s : s + step] @ Dt.T, {k}, dim=1).indices
    hits += int((idx == torch.arange(s, min(s + step, {n}))[:, None]).any(dim=1).sum())
out["base_cpu"], out["base_wall"], out["base_peak_gib"] = time.process_time() - c, time.perf_counter() - t, peak()
out["base_recall10"] = hits / {n}
print(json.dumps(out))
"""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.environ.get("PYTHONPATH", "")] if p))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def recall_speed(n: int, k: int = 10) -> None:
    load_before = _load()
    r = recall_child(n, k)
    print(f"\n## recall@(1, 5, 10) speed, {n:,} x {n:,} (dim 64, float32 embeddings; one thread; fresh process, each side once)\n")
    print(f"load average (1, 5, 15 min) before: {load_before}; after: {_load()}\n")
    print("| what | CPU s | wall s | peak RSS after (GiB) | skcross / this (CPU) |")
    print("|---|---|---|---|---|")
    print(f"| skcross recall_at_k, ties='average' | {r['ours_cpu']:.1f} | {r['ours_wall']:.1f} | {r['ours_peak_gib']:.2f} | 1.00 |")
    print(f"| chunked float32 matmul + topk({k}) | {r['base_cpu']:.1f} | {r['base_wall']:.1f} | {r['base_peak_gib']:.2f} | {r['ours_cpu'] / r['base_cpu']:.2f} |")
    print(f"\nrecall@1/5/10 = {', '.join(f'{x:.4f}' for x in r['recall'])} (baseline's hit rate at {k}: {r['base_recall10']:.4f}); "
          f"data and torch before either: {r['data_gib']:.2f} GiB; target: skcross / baseline <= 1.5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="agreement,speed,recall,memory",
                        help="comma-separated parts to run: agreement, speed, recall, memory, breakdown "
                             "(default: all but breakdown, the stage-by-stage CPU time of mAP)")
    parser.add_argument("--speed-n", type=int, default=None, help="size of the mAP speed run (default 5,000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many interleaved timings in the speed run")
    parser.add_argument("--recall-n", type=int, default=None, help="size of the recall run (default 50,000; 100,000 is the issue's size)")
    parser.add_argument("--memory-queries", type=int, default=50000, help="queries of the 50,000-item database memory run")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"agreement", "speed", "recall", "memory", "breakdown"}
    if unknown:
        parser.error(f"unknown parts in --only: {sorted(unknown)}")
    torch.set_num_threads(1)

    print(f"load average at start (1, 5, 15 min): {_load()} on {os.cpu_count()} cores; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, torch threads {torch.get_num_threads()}")
    if "agreement" in parts:
        agreement(200 if args.quick else 300, 600 if args.quick else 1200)
    if "speed" in parts:
        speed(args.speed_n or (2000 if args.quick else 5000), repeats=args.repeats)
    if "breakdown" in parts:
        breakdown(args.speed_n or (2000 if args.quick else 5000), repeats=args.repeats)
    if "recall" in parts:
        recall_speed(args.recall_n or (5000 if args.quick else 50000))
    if "memory" in parts and not args.quick:
        load_before = _load()
        res = peak_memory_child(args.memory_queries, 50000)
        print(f"\n## memory, {args.memory_queries:,} x 50,000 mAP (float32 embeddings, dim 64; one thread; fresh process)\n")
        print(f"load average (1, 5, 15 min) before: {load_before}; after: {_load()}\n")
        print("| CPU s | wall s | peak RSS (GiB) | of which data + torch (GiB) | mAP |")
        print("|---|---|---|---|---|")
        print(f"| {res['cpu']:.1f} | {res['seconds']:.1f} | {res['peak_gib']:.2f} | {res['data_gib']:.2f} | {res['map']:.4f} |")


if __name__ == "__main__":
    main()
