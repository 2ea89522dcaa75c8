"""Hyper-parameter search and SDML's per-modality training on a Dask cluster.

Both go through joblib, so ``joblib.parallel_config(backend="dask")``
(scikit-learn's current API) sends their jobs to whatever cluster the active
``dask.distributed.Client`` talks to. Here a ``LocalCluster`` of two
single-threaded worker *processes*, each declaring one (pretend) GPU as a Dask
resource, stands in for a real cluster; the results must equal those of the
default backend, and the jobs must really run on the Dask workers (seen in the
scheduler's task stream), also when every job asks for one GPU
(``parallel_config(backend="dask", resources={"GPU": 1})``).

Worker processes, not threads: the torch estimators seed torch's global RNG
for the duration of a fit (``skcross._torch_utils.torch_seed``), so two fits
running in threads of one process can interleave their random draws and stop
being reproducible; with one thread per worker process they cannot.
"""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import skcross
from skcross.datasets import make_multimodal_classification

from _toy import ToyLabelProjection

pytest.importorskip("dask", reason="dask is not installed (optional test extra: pip install dask[distributed])")
distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install dask[distributed])"
)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",  # any free port
        env={"OMP_NUM_THREADS": "1"}, resources={"GPU": 1},
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def data():
    return make_multimodal_classification(
        n_samples=120, n_modalities=3, n_classes=3, n_features=[8, 6, 5], random_state=0
    )


def _grid(estimator, grid, n_jobs=None):
    return GridSearchCV(estimator, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=n_jobs)


def test_gridsearch_on_dask_equals_default_backend(client, data):
    X, y = data
    grid = {"alpha": [1e-3, 1.0, 1e3]}
    local = _grid(ToyLabelProjection(random_state=0), grid).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = _grid(ToyLabelProjection(random_state=0), grid, n_jobs=2).fit(X, y)
    _assert_ran_on_workers(client, stream, "fit_and_score")
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12
    )


def _assert_ran_on_workers(client, stream, name):
    workers = set(client.scheduler_info()["workers"])
    ran = [t for t in stream.data if name in str(t["key"])]
    assert ran, f"no {name} task reached the Dask scheduler"
    assert {t["worker"] for t in ran} <= workers


@pytest.fixture
def SDML():
    if "SDML" not in skcross.__all__:
        pytest.skip("SDML is not exported yet")
    return skcross.SDML


def _sdml(SDML, **params):
    return SDML(**{**SDML._quick_test_params, "random_state": 0, "device": "cpu", **params})


def test_sdml_n_jobs_on_dask_equals_sequential(client, data, SDML):
    X, y = data
    sequential = _sdml(SDML, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        parallel = _sdml(SDML, n_jobs=2).fit(X, y)
    _assert_ran_on_workers(client, stream, "_fit_network")
    for c in range(3):
        np.testing.assert_array_equal(
            parallel.transform(c, X.modality(c)), sequential.transform(c, X.modality(c)),
            err_msg=f"modality {c} differs between the dask and the sequential fit",
        )


def test_sdml_gridsearch_on_dask(client, data, SDML):
    X, y = data
    grid = {"lam": [0.1, 0.9]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    local = GridSearchCV(_sdml(SDML), grid, cv=cv).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(backend="dask"):
        remote = GridSearchCV(_sdml(SDML), grid, cv=cv, n_jobs=2).fit(X, y)
    _assert_ran_on_workers(client, stream, "fit_and_score")
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-6
    )


def test_gridsearch_one_gpu_per_worker(client, data):
    """The production guide's recipe: every job holds a worker's single GPU."""
    X, y = data
    grid = {"alpha": [1e-3, 1e-1, 1.0, 1e1, 1e3]}
    local = _grid(ToyLabelProjection(random_state=0), grid).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(
        backend="dask", resources={"GPU": 1}
    ):
        remote = _grid(ToyLabelProjection(random_state=0), grid, n_jobs=-1).fit(X, y)
    _assert_ran_on_workers(client, stream, "fit_and_score")
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-12
    )


def test_sdml_modalities_one_gpu_per_worker(client, data, SDML):
    X, y = data
    sequential = _sdml(SDML, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, joblib.parallel_config(
        backend="dask", resources={"GPU": 1}
    ):
        parallel = _sdml(SDML, n_jobs=-1).fit(X, y)
    _assert_ran_on_workers(client, stream, "_fit_network")
    for c in range(3):
        np.testing.assert_array_equal(
            parallel.transform(c, X.modality(c)), sequential.transform(c, X.modality(c))
        )
