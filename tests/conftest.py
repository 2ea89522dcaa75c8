import os
import sys
from pathlib import Path

import numpy as np
import pytest

# Two CI cores are shared by two pytest workers: one torch thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover
    pass

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
DATA_HOME = Path(os.environ.get("SKCROSS_DATA_HOME", ROOT.parent / "shared" / "data"))


def _is_example_run(item: pytest.Item) -> bool:
    return item.path.name == "test_examples.py"


def _xdist_group(item: pytest.Item) -> str:
    if _is_example_run(item):
        return f"examples::{item.name}"
    return str(item.path)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scheduling for ``make test`` (``-n 2 --dist loadgroup --no-loadscope-reorder``).

    Each test file is one xdist group, so the fits a file caches are made by one
    worker, once. The example scripts run one to two minutes each in a
    subprocess: as one file they kept one worker busy for seven minutes while
    the other finished early, so each is its own group, and they are queued
    first, where the other worker's files fill the time beside them.
    """
    _skip_gpu_tests_without_cuda(items)
    if config.pluginmanager.hasplugin("xdist"):  # the marker is xdist's
        for item in items:
            item.add_marker(pytest.mark.xdist_group(_xdist_group(item)))
    items.sort(key=lambda item: not _is_example_run(item))


@pytest.fixture(scope="session")
def data_home():
    """The shared real-data folder; tests that need it skip when it is absent."""
    if not DATA_HOME.is_dir():
        pytest.skip(f"real data folder not found at {DATA_HOME} (set SKCROSS_DATA_HOME)")
    return DATA_HOME


def require_dataset(folder: str) -> Path:
    path = DATA_HOME / folder
    if not path.is_dir():
        pytest.skip(f"data set {folder!r} not found in {DATA_HOME}")
    return DATA_HOME


@pytest.fixture(scope="session")
def digit_halves_split():
    """Fixed stratified split of the digits halves: (X_train, X_test, y_train, y_test)."""
    from sklearn.model_selection import train_test_split

    from skcross.datasets import load_digit_halves

    X, y = load_digit_halves()
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


@pytest.fixture(scope="session")
def cca_digits_map(digit_halves_split):
    """Baseline: scikit-learn CCA's mean cross-modal mAP on the digits halves split."""
    from sklearn.cross_decomposition import CCA

    from skcross.metrics import mean_average_precision

    Xtr, Xte, ytr, yte = digit_halves_split
    cca = CCA(n_components=10, max_iter=1000).fit(Xtr.modality(0), Xtr.modality(1))
    a, b = cca.transform(Xte.modality(0), Xte.modality(1))
    return 0.5 * (
        mean_average_precision(a, b, yte, yte) + mean_average_precision(b, a, yte, yte)
    )


@pytest.fixture(scope="session")
def label_space_digits_map(digit_halves_split):
    """Baseline: the label-space retrieval of Rasiwasia et al. on the digits halves split.

    One StandardScaler + LogisticRegression per half, C chosen by 3-fold
    cross-validation on the training split, test items ranked by the cosine of
    their class-probability vectors.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skcross.metrics import mean_average_precision

    Xtr, Xte, ytr, yte = digit_halves_split
    posteriors = []
    for c in range(2):
        model = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
            cv=3,
        ).fit(Xtr.modality(c), ytr)
        posteriors.append(model.predict_proba(Xte.modality(c)))
    a, b = posteriors
    return 0.5 * (mean_average_precision(a, b, yte, yte) + mean_average_precision(b, a, yte, yte))


@pytest.fixture
def small_multimodal():
    from skcross.datasets import make_multimodal_classification

    return make_multimodal_classification(n_samples=120, n_modalities=2, n_classes=3, n_features=[8, 6], random_state=0)


@pytest.fixture
def numpy_blas_threads():
    """A function giving the thread count of each BLAS library outside torch's
    directory (numpy's and scipy's OpenBLAS), as threadpoolctl reports it."""
    import torch
    from threadpoolctl import threadpool_info

    torch_dir = str(Path(torch.__file__).parent)

    def counts() -> list[int]:
        return [info["num_threads"] for info in threadpool_info()
                if info["user_api"] == "blas" and not info["filepath"].startswith(torch_dir)]

    return counts


def has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return False


# A real marker, so that `pytest -m gpu` (make gpu-check) selects these tests;
# the hook below skips them where there is no CUDA device (CI).
gpu = pytest.mark.gpu


def _skip_gpu_tests_without_cuda(items: list[pytest.Item]) -> None:
    if has_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
