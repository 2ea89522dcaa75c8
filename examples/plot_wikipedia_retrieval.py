"""
=====================================================================
Every skcross method and two peers on Wikipedia image/text retrieval
=====================================================================

Fits each skcross method, scikit-learn's ``CCA`` as an unsupervised peer, on
the Wikipedia image/text data set (Rasiwasia et al. 2010: 2173 training and 693
test pairs; 128-d SIFT bag-of-words images, 10-d LDA texts). It reports the
mean average precision (mAP) of image→text and text→image retrieval on the test
pairs and draws the precision-recall curves of all methods in one figure
(:func:`skcross.metrics.plot_precision_recall`).

The data set is read from ``$SKCROSS_DATA_HOME`` (default: ``../shared/data``
next to the repository). When it is not there, the example says so and uses
the left and right halves of scikit-learn's digits instead.

In the default mode every method trains on 800 pairs for a few epochs (about a
minute and a half in all on a 2-core CPU), so the numbers are below those of the
benchmark table, ``benchmarks/RESULTS.md``; ``--full`` or
``SKCROSS_EXAMPLES_FULL=1`` trains on all pairs with longer schedules.
"""

# %%
# Settings and data
# -----------------
import os
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.cross_decomposition import CCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

import skcross
from skcross import PerModality
from skcross.datasets import load_digit_halves, load_wikipedia
from skcross.metrics import mean_average_precision, plot_precision_recall, precision_recall_curve

FULL = "--full" in sys.argv or os.environ.get("SKCROSS_EXAMPLES_FULL") == "1"
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
DATA_HOME = Path(os.environ.get("SKCROSS_DATA_HOME") or HERE.parent.parent / "shared" / "data")
OUT = HERE / "_out"

try:
    X_train, X_test, y_train, y_test = load_wikipedia(DATA_HOME)
    dataset = "Wikipedia"
except FileNotFoundError as exc:
    print(f"The Wikipedia data set is not available ({exc}).\n"
          "Falling back to the digits halves (set SKCROSS_DATA_HOME to use Wikipedia).")
    X, y = load_digit_halves()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    dataset = "digits halves"
if not FULL:
    X_train, y_train = X_train[:800], y_train[:800]
query, target = X_train.names[:2]
print(f"{dataset}: {len(y_train)} training / {len(y_test)} test pairs; "
      f"modalities {query!r} and {target!r}; {'full' if FULL else 'default (short)'} mode")

# %%
# The methods
# -----------
# Library defaults, except for the training length in the default mode. Every
# method sees each modality standardised by :class:`~skcross.PerModality`.
epochs = None if FULL else 30  # None: the library default
candidates = {
    "SDML": ("SDML", {"max_epochs": epochs}),
    "DSCMR": ("DSCMR", {"max_epochs": epochs}),
    "hm-RSimGP (tr)": ("HarmonizedGPLVM", {"model": "rsimgp", "prior": "trace",
                                           "max_iter": None if FULL else 40}),
    "MinVIRBM": ("MinVIRBM", {"n_components": None if FULL else 256, "max_epochs": None if FULL else 10}),
    "CrossModalVAE": ("CrossModalVAE", {"max_epochs": epochs}),
}
methods = {}
for label, (name, params) in candidates.items():
    if not hasattr(skcross, name):
        print(f"(skipping {label}: skcross.{name} is not available in this version)")
        continue
    params = {k: v for k, v in params.items() if v is not None}
    methods[label] = getattr(skcross, name)(random_state=0, **params)

# %%
# Fit, embed the test pairs, score
# --------------------------------
# A progress bar (on the terminal, not in this page) follows the fits.
curves = {}
rows = []


def report(label, emb_query, emb_target, fit_s, metric="cosine"):
    q2t = mean_average_precision(emb_query, emb_target, y_test, y_test, metric=metric)
    t2q = mean_average_precision(emb_target, emb_query, y_test, y_test, metric=metric)
    curves[label] = precision_recall_curve(emb_query, emb_target, y_test, y_test, metric=metric)
    rows.append((label, q2t, t2q, fit_s))


# The peer: scikit-learn's CCA on the same standardised features.
t0 = time.perf_counter()
scale = PerModality([StandardScaler(), StandardScaler()]).fit(X_train)
S_train, S_test = scale.transform(X_train), scale.transform(X_test)
cca = CCA(n_components=10, max_iter=1000).fit(S_train.modality(0), S_train.modality(1))
report("CCA (sklearn)", *cca.transform(S_test.modality(0), S_test.modality(1)), time.perf_counter() - t0)

bar = tqdm(methods.items(), desc="fitting", unit="method", file=sys.stderr)
for label, estimator in bar:
    bar.set_postfix_str(label)
    model = make_pipeline(PerModality([StandardScaler(), StandardScaler()]), estimator)
    t0 = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - t0
    emb = model.transform(X_test)  # a MultiModal of embeddings
    # Rank by the similarity the method's own score uses (cosine, or euclidean for the GPLVM).
    metric = model[-1]._get_retrieval_metric()
    report(label, emb.modality(query), emb.modality(target), fit_s, metric)

print(f"{'method':<16s} {query[:5] + '->' + target[:5]:>12s} {target[:5] + '->' + query[:5]:>12s} "
      f"{'mean':>7s} {'fit s':>7s}")
for label, q2t, t2q, fit_s in rows:
    print(f"{label:<16s} {q2t:12.4f} {t2q:12.4f} {(q2t + t2q) / 2:7.4f} {fit_s:7.1f}")

# %%
# Precision-recall curves
# -----------------------
fig, ax = plt.subplots(figsize=(6, 5))
plot_precision_recall(curves, ax=ax, title=f"{dataset}: {query} → {target}")
fig.tight_layout()
OUT.mkdir(exist_ok=True)
fig.savefig(OUT / "wikipedia_pr.png", dpi=110)
print("saved examples/_out/wikipedia_pr.png")
