"""DSCMR on Wikipedia and UCI mfeat: the ablation of Tables 6-7, and skorch's overhead.

Prints markdown tables:

1. mAP (query modality -> database modality, both directions, and their mean)
   of the full DSCMR and the paper's four variants (DSCMR1: without J1,
   DSCMR2: without J2, DSCMR3: without J3, DSCMR4: J1 only), with scikit-learn's
   CCA as a reference row.
2. Fit time per epoch of ``skcross.DSCMR`` (skorch) against a plain hand-written
   PyTorch loop training the same network on the same data with the same batches,
   measured in the same run, alternating the two; the overhead must stay < 15%.
   Wall and process CPU time are both reported (a shared machine makes wall
   time noisy), and a tiny network isolates the fixed cost skorch adds per batch.

Data: Wikipedia (2173 train / 693 test; the validation split is carved from the
training pairs by the estimator) and UCI mfeat views "fou" and "kar" with the
fixed split ``train_test_split(X, y, test_size=500, stratify=y, random_state=0)``.
Features are standardised per modality on the training data (DSCMR and CCA
alike): the raw Wikipedia SIFT histograms have a standard deviation of ~0.01,
which the paper's learning rate of 1e-4 barely moves.

Usage::

    python benchmarks/bench_dscmr.py [--quick] [--data-home ../shared/data] [--epochs N]

The paper's setting is 500 epochs (the default); ``--quick`` trains 30 epochs
and times 3 epochs x 3 repeats, for a CPU.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch
from sklearn.cross_decomposition import CCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcross._dscmr import DSCMR, _DSCMRModule, dscmr_loss_terms
from skcross._torch_utils import resolve_device
from skcross.datasets import load_mfeat, load_wikipedia
from skcross.metrics import mean_average_precision

VARIANTS = [
    ("DSCMR1 (no J1)", dict(label_weight=0.0)),
    ("DSCMR2 (no J2)", dict(lam=0.0)),
    ("DSCMR3 (no J3)", dict(eta=0.0)),
    ("DSCMR4 (J1 only)", dict(lam=0.0, eta=0.0)),
    ("Full DSCMR", dict()),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def standardise(Xtr, Xte):
    out_tr, out_te = [], []
    for a, b in zip(Xtr.modalities(), Xte.modalities()):
        s = StandardScaler().fit(a)
        out_tr.append(s.transform(a).astype(np.float32))
        out_te.append(s.transform(b).astype(np.float32))
    return out_tr, out_te


def both_directions(a, b, y):
    ab = mean_average_precision(a, b, y, y)
    ba = mean_average_precision(b, a, y, y)
    return ab, ba, 0.5 * (ab + ba)


def load(name: str, data_home: str):
    if name == "Wikipedia":
        Xtr, Xte, ytr, yte = load_wikipedia(data_home)
    else:
        X, y = load_mfeat(data_home, views=["fou", "kar"])
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=500, stratify=y, random_state=0)
    return Xtr.names, *standardise(Xtr, Xte), ytr, yte


# ------------------------------------------------------------- plain PyTorch
def plain_torch_fit(X, y, epochs, seed=0, batch_size=100, hidden_layer_sizes=(2048,), n_components=1024,
                    lam=1e-3, eta=1e-1, lr=1e-4, device="cpu"):
    """The same network and loss trained by a hand-written loop (no skorch, no validation)."""
    classes, codes = np.unique(y, return_inverse=True)
    Y = torch.as_tensor(np.eye(len(classes), dtype=np.float32)[codes], device=device)
    Xt = [torch.as_tensor(x, device=device) for x in X]
    torch.manual_seed(seed)
    module = _DSCMRModule(
        [str(i) for i in range(len(X))], [x.shape[1] for x in X], hidden_layer_sizes, n_components,
        len(classes), learned_classifier=True,
    ).to(device)
    opt = torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    n = len(y)
    for _ in range(epochs):
        total = 0.0
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            emb = [module.embed(i, x[idx]) for i, x in enumerate(Xt)]
            J1, J2, J3 = dscmr_loss_terms(emb, [module.classifier(e) for e in emb], Y[idx])
            loss = J1 + lam * J2 + eta * J3
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if not np.isfinite(total):
            raise RuntimeError("diverged")
    return module


def time_per_epoch(X, y, epochs, repeats, device, **network):
    """Seconds per epoch of skcross.DSCMR and of the plain loop, interleaved.

    Returns ``{implementation: (wall_times, cpu_times)}``. The machine may be
    shared: wall time then includes waiting for a core, so the process CPU time
    is reported too (on the CPU device it is the cost of the work itself).
    """
    times = {"skcross.DSCMR (skorch)": ([], []), "plain PyTorch loop": ([], [])}
    # The same network on both sides: the paper's sizes unless given.
    network = {"hidden_layer_sizes": (2048,), "n_components": 1024, **network}
    model = DSCMR(max_epochs=epochs, early_stopping=False, lr=1e-4, random_state=0, device=device, **network)
    plain_torch_fit(X, y, 1, device=device, **network)  # warm-up: allocator, kernels
    runs = {
        "skcross.DSCMR (skorch)": lambda: model.fit(X, y),
        "plain PyTorch loop": lambda: plain_torch_fit(X, y, epochs, device=device, **network),
    }
    for _ in range(repeats):
        for key, run in runs.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times[key][0].append((time.perf_counter() - wall) / epochs)
            times[key][1].append((time.process_time() - cpu) / epochs)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 epochs, 3x3 timing epochs")
    parser.add_argument("--data-home", default=None, help="folder holding the shared data sets")
    parser.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--timing-only", action="store_true", help="skip the mAP tables")
    args = parser.parse_args(argv)
    epochs = args.epochs or (30 if args.quick else 500)
    t_epochs, t_repeats = (3, 3) if args.quick else (5, 5)
    device = str(resolve_device(args.device))

    print(f"# DSCMR benchmark ({epochs} epochs, device {device}, torch threads "
          f"{torch.get_num_threads()})\n")
    timing_rows = []
    for name in ["Wikipedia", "mfeat fou/kar"]:
        names, Xtr, Xte, ytr, yte = load(name, args.data_home)
        q, d = names
        if name == "Wikipedia":
            X_wiki, ytr_wiki = Xtr, ytr
        if args.timing_only:
            log(f"{name}: timing")
            timing_rows.append((name, len(ytr), time_per_epoch(Xtr, ytr, t_epochs, t_repeats, device)))
            continue
        print(f"## {name}: train {len(ytr)} (validation 10% of it), test {len(yte)}\n")
        print(f"| method | {q}->{d} | {d}->{q} | average | best epoch | fit s |")
        print("|---|---|---|---|---|---|")
        k = min(10, *[x.shape[1] for x in Xtr])
        t = time.perf_counter()
        cca = CCA(n_components=k, max_iter=1000).fit(Xtr[0], Xtr[1])
        a, b = cca.transform(Xte[0], Xte[1])
        fit_s = time.perf_counter() - t
        print(f"| sklearn CCA ({k} comp.) | %.3f | %.3f | %.3f | - | %.1f |"
              % (*both_directions(a, b, yte), fit_s))
        for label, kw in VARIANTS:
            log(f"{name}: {label}")
            t = time.perf_counter()
            model = DSCMR(max_epochs=epochs, random_state=0, device=device, **kw).fit(Xtr, ytr)
            fit_s = time.perf_counter() - t
            a, b = model.transform(0, Xte[0]), model.transform(1, Xte[1])
            print(f"| {label} | %.3f | %.3f | %.3f | {model.best_epoch_} | %.0f |"
                  % (*both_directions(a, b, yte), fit_s), flush=True)
        print()
        log(f"{name}: timing")
        times = time_per_epoch(Xtr, ytr, t_epochs, t_repeats, device)
        timing_rows.append((name, len(ytr), times))

    # The fixed cost skorch adds per batch, isolated: with a tiny network the
    # compute is negligible and what remains is the training-loop machinery.
    log("Wikipedia, tiny network: timing")
    tiny = dict(hidden_layer_sizes=(16,), n_components=16)
    timing_rows.append(("Wikipedia, tiny network (hidden 16, d 16)", len(ytr_wiki),
                        time_per_epoch(X_wiki, ytr_wiki, 10 * t_epochs, t_repeats, device, **tiny)))

    print(f"## Fit time per epoch ({t_repeats} interleaved repeats of {t_epochs} epochs, "
          "all training pairs, no validation)\n")
    print("| data | n train | clock | skcross.DSCMR (skorch) s/epoch, median [min, max] "
          "| plain PyTorch loop s/epoch, median [min, max] | overhead (median) | overhead (min) "
          "| median extra ms/batch |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n, times in timing_rows:
        (s_wall, s_cpu), (p_wall, p_cpu) = times.values()
        for clock, s, p in [("wall", s_wall, p_wall), ("process CPU", s_cpu, p_cpu)]:
            s, p = np.asarray(s), np.asarray(p)
            over_median = 100 * (np.median(s) / np.median(p) - 1)
            over_min = 100 * (s.min() / p.min() - 1)
            extra_ms = 1000 * (np.median(s) - np.median(p)) / np.ceil(n / 100)
            print(f"| {name} | {n} | {clock} | {np.median(s):.4f} [{s.min():.4f}, {s.max():.4f}] | "
                  f"{np.median(p):.4f} [{p.min():.4f}, {p.max():.4f}] | "
                  f"{over_median:+.1f}% | {over_min:+.1f}% | {extra_ms:+.2f} |")


if __name__ == "__main__":
    main()
