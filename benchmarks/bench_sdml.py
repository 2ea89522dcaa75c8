"""Benchmark of SDML (Hu et al., SIGIR 2019) against scikit-learn's CCA.

Prints markdown tables:

1. Wikipedia (Rasiwasia et al.; 2173 train / 693 test; 128-d SIFT BoVW images,
   10-d LDA texts): mAP image->text, text->image and their average, with fit
   times. SDML's validation split (10%) is carved from the training set.
2. UCI mfeat, all six views, fixed stratified 1500/500 split
   (``train_test_split(X, y, test_size=500, stratify=y, random_state=0)``): the
   mAP of all 30 ordered pairs of views and their average, as the paper's PKU
   XMedia table does. CCA, a two-view method, is fitted once per pair of views.
3. The three training strategies of the paper's Table 6 on mfeat (six views):
   joint (one process, one optimiser stepping all six networks on every batch,
   SDML-1), serial (``n_jobs=1``, SDML-2) and parallel (``n_jobs=-1``, SDML-3),
   with the peak resident memory of the process tree; and the cost of
   ``add_modality`` for the sixth view against refitting all six.

Inputs are standardised per modality (``StandardScaler`` fitted on the
training set): the reconstruction term of Eq. (1) is an unscaled Euclidean
norm, so unstandardised inputs (SIFT counts in the tens, mfeat's pixel and
Karhunen-Loeve views on different scales) would let the largest-scale
modality's reconstruction swamp the label term. CCA gets the same inputs.

Usage::

    python benchmarks/bench_sdml.py              # the paper's 200 epochs
    python benchmarks/bench_sdml.py --quick      # fewer epochs (CPU smoke run)
    python benchmarks/bench_sdml.py --data-home /path/to/data

Peak memory is the largest sum of resident set sizes of the training process
and its children (joblib workers), sampled every 20 ms with psutil, each
strategy in a fresh Python process. On a CPU the paper's GPU-memory numbers
become host-memory numbers, which include each process's own copy of torch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from itertools import combinations, permutations
from pathlib import Path

import numpy as np
import torch
from sklearn.cross_decomposition import CCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcross._sdml import SDML, SDMLLoss, SupervisedAutoEncoder, orthonormal_projection
from skcross._torch_utils import derive_seed, torch_seed
from skcross.datasets import load_mfeat, load_wikipedia
from skcross.metrics import mean_average_precision

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_HOME = ROOT.parent / "shared" / "data"
SEED = 0


def standardise(train: list, test: list) -> tuple[list, list]:
    scalers = [StandardScaler().fit(a) for a in train]
    return (
        [s.transform(a).astype(np.float32) for s, a in zip(scalers, train)],
        [s.transform(a).astype(np.float32) for s, a in zip(scalers, test)],
    )


def mfeat_split(data_home: Path):
    X, y = load_mfeat(data_home)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=500, stratify=y, random_state=0)
    tr, te = standardise(Xtr.modalities(), Xte.modalities())
    return list(X.names), tr, te, ytr, yte


def cca_pair(a_tr, b_tr, a_te, b_te, n_components: int):
    cca = CCA(n_components=n_components, max_iter=1000).fit(a_tr, b_tr)
    return cca.transform(a_te, b_te)


# ----------------------------------------------------------------- Wikipedia
def bench_wikipedia(data_home: Path, epochs: int) -> list[str]:
    Xtr, Xte, ytr, yte = load_wikipedia(data_home)
    tr, te = standardise(Xtr.modalities(), Xte.modalities())
    rows = []

    start = time.perf_counter()
    model = SDML(max_epochs=epochs, random_state=SEED).fit(tr, ytr)
    fit_time = time.perf_counter() - start
    img, txt = model.transform(0, te[0]), model.transform(1, te[1])
    i2t, t2i = mean_average_precision(img, txt, yte, yte), mean_average_precision(txt, img, yte, yte)
    rows.append(("SDML", i2t, t2i, fit_time, f"best epochs {model.best_epochs_}"))

    start = time.perf_counter()
    a, b = cca_pair(tr[0], tr[1], te[0], te[1], n_components=10)
    fit_time = time.perf_counter() - start
    i2t, t2i = mean_average_precision(a, b, yte, yte), mean_average_precision(b, a, yte, yte)
    rows.append(("CCA (10 components)", i2t, t2i, fit_time, ""))

    lines = [
        f"### Wikipedia (2173 train, of which 10% validation for SDML / 693 test), SDML {epochs} epochs",
        "",
        "| method | image->text | text->image | average | fit time (s) | note |",
        "|---|---|---|---|---|---|",
    ]
    for name, i2t, t2i, t, note in rows:
        lines.append(f"| {name} | {i2t:.3f} | {t2i:.3f} | {(i2t + t2i) / 2:.3f} | {t:.1f} | {note} |")
    return lines


# --------------------------------------------------------------------- mfeat
def pair_table(title: str, names: list, maps: dict) -> list[str]:
    lines = [title, "", "| query \\ database | " + " | ".join(names) + " |",
             "|---" * (len(names) + 1) + "|"]
    for i, q in enumerate(names):
        cells = ["-" if i == j else f"{maps[i, j]:.3f}" for j in range(len(names))]
        lines.append(f"| {q} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Average over the {len(maps)} ordered pairs: **{np.mean(list(maps.values())):.3f}**")
    return lines


def bench_mfeat(data_home: Path, epochs: int) -> list[str]:
    names, tr, te, ytr, yte = mfeat_split(data_home)
    m = len(names)

    start = time.perf_counter()
    model = SDML(max_epochs=epochs, random_state=SEED).fit(tr, ytr)
    sdml_time = time.perf_counter() - start
    emb = [model.transform(i, te[i]) for i in range(m)]
    sdml = {(i, j): mean_average_precision(emb[i], emb[j], yte, yte) for i, j in permutations(range(m), 2)}

    start = time.perf_counter()
    cca = {}
    for i, j in combinations(range(m), 2):
        k = min(10, tr[i].shape[1], tr[j].shape[1])
        a, b = cca_pair(tr[i], tr[j], te[i], te[j], n_components=k)
        cca[i, j] = mean_average_precision(a, b, yte, yte)
        cca[j, i] = mean_average_precision(b, a, yte, yte)
    cca_time = time.perf_counter() - start

    lines = pair_table(
        f"### UCI mfeat, six views, 1500/500 split: SDML ({epochs} epochs, one model for all views; "
        f"fit {sdml_time:.1f} s)", names, sdml)
    lines += [""]
    lines += pair_table(
        "### UCI mfeat: CCA reference (one two-view CCA per pair of views, min(10, d_i, d_j) "
        f"components; 15 fits, {cca_time:.1f} s in all)", names, cca)
    return lines


# ---------------------------------------------------- Table 6: strategies
def train_joint(tr: list, Y: np.ndarray, epochs: int, seed: int) -> None:
    """SDML-1: one optimiser over all six networks, every batch steps all of them.

    Plain torch (no skorch), the same networks, loss and Adam settings as SDML.
    """
    projection = orthonormal_projection(512, Y.shape[1], seed)
    modules = []
    for i, X in enumerate(tr):
        with torch_seed(derive_seed(seed, i)):
            modules.append(SupervisedAutoEncoder(X.shape[1], projection))
    params = [p for module in modules for p in module.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.999))
    loss_fn = SDMLLoss(0.5)
    Xt = [torch.as_tensor(X) for X in tr]
    Yt = torch.as_tensor(Y)
    generator = torch.Generator().manual_seed(seed)
    n, batch = len(Yt), 100
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch + 1, batch):  # last partial batch dropped
            idx = order[start : start + batch]
            total = 0.0
            for module, X in zip(modules, Xt):
                x = X[idx]
                z, x_hat = module(x)
                total = total + loss_fn(z, x_hat, x, Yt[idx], module.projection)[0]
            optimizer.zero_grad()
            total.backward()
            optimizer.step()


def run_strategy(strategy: str, data_home: Path, epochs: int) -> dict:
    """Runs inside a fresh process; returns timings as a dict."""
    import psutil

    names, tr, te, ytr, yte = mfeat_split(data_home)
    Y = np.eye(10, dtype=np.float32)[ytr]
    # Warm up torch's lazy imports (the optimiser pulls in torch._dynamo) outside the timing.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    result = {"baseline_rss_mib": psutil.Process().memory_info().rss / 2**20,
              "torch_threads": torch.get_num_threads()}
    params = dict(max_epochs=epochs, early_stopping=False, random_state=SEED)
    start = time.perf_counter()
    if strategy == "joint":
        train_joint(tr, Y, epochs, SEED)
    elif strategy == "serial":
        SDML(n_jobs=1, **params).fit(tr, ytr)
    elif strategy == "parallel":
        SDML(n_jobs=-1, **params).fit(tr, ytr)
    elif strategy == "add_modality":
        model = SDML(n_jobs=1, **params).fit(tr[:5], ytr)
        result["fit_five_s"] = time.perf_counter() - start
        start = time.perf_counter()
        model.add_modality(tr[5], ytr, name=names[5])
    else:
        raise ValueError(strategy)
    result["time_s"] = time.perf_counter() - start
    return result


def measure(strategy: str, data_home: Path, epochs: int) -> dict:
    """Run one strategy in a fresh process, sampling its process tree's memory."""
    import psutil

    cmd = [sys.executable, __file__, "--strategy", strategy, "--epochs", str(epochs),
           "--data-home", str(data_home)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0.0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    out = proc.stdout.read()
    if proc.returncode:
        raise RuntimeError(f"strategy {strategy!r} failed:\n{out}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mib"] = peak / 2**20
    return result


def bench_strategies(data_home: Path, epochs: int) -> list[str]:
    res = {s: measure(s, data_home, epochs) for s in ("joint", "serial", "parallel", "add_modality")}
    lines = [
        f"### Training strategies on mfeat (six views, 1500 training samples, {epochs} epochs, "
        f"no validation split; {os.cpu_count()} CPU cores, torch threads per process: "
        f"{res['serial']['torch_threads']})",
        "",
        "| strategy | paper name | time (s) | peak RSS of process tree (MiB) | RSS before training (MiB) |",
        "|---|---|---|---|---|",
    ]
    labels = {"joint": "SDML-1 (joint)", "serial": "SDML-2 (serial, n_jobs=1)",
              "parallel": "SDML-3 (parallel, n_jobs=-1)"}
    for s, paper in (("joint", "SDML-1"), ("serial", "SDML-2"), ("parallel", "SDML-3")):
        r = res[s]
        lines.append(f"| {labels[s]} | {paper} | {r['time_s']:.1f} | {r['peak_rss_mib']:.0f} | "
                     f"{r['baseline_rss_mib']:.0f} |")
    add = res["add_modality"]
    lines += [
        "",
        "| new view (mor) | time (s) | share of refitting all six (serial) |",
        "|---|---|---|",
        f"| `add_modality` after fitting five views | {add['time_s']:.1f} | "
        f"{add['time_s'] / res['serial']['time_s']:.0%} |",
        f"| refit all six views (serial) | {res['serial']['time_s']:.1f} | 100% |",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 epochs for the accuracy tables and 3 for the timings")
    parser.add_argument("--data-home", type=Path, default=DEFAULT_DATA_HOME)
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs for the accuracy tables (default 200, or 20 with --quick)")
    parser.add_argument("--timing-epochs", type=int, default=None,
                        help="epochs for the strategy timings (default 200, or 3 with --quick)")
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.strategy:  # child process of bench_strategies
        print(json.dumps(run_strategy(args.strategy, args.data_home, args.epochs)))
        return
    epochs = args.epochs or (20 if args.quick else 200)
    timing_epochs = args.timing_epochs or (3 if args.quick else 200)
    print(f"# SDML benchmark (torch {torch.__version__}, device: "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'}, seed {SEED})\n")
    for section in (lambda: bench_wikipedia(args.data_home, epochs),
                    lambda: bench_mfeat(args.data_home, epochs),
                    lambda: bench_strategies(args.data_home, timing_epochs)):
        print("\n".join(section()) + "\n", flush=True)


if __name__ == "__main__":
    main()
