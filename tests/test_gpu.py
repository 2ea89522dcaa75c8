"""The CUDA paths on a real device (``make gpu-check``); skipped without CUDA.

Per-estimator CUDA-to-CPU round trips are in test_common.py and the estimator
files; this file checks what the rest of the package does on a GPU: metrics,
the index, determinism, sparse and memmapped input.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from skcross import CrossModalIndex
from skcross.metrics import mean_average_precision, precision_at_k, recall_at_k

from _toy import QUICK_NEURAL
from conftest import gpu

pytestmark = gpu


def _tied_embeddings(n=600, d=16, seed=0):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n, d)).astype(np.float32)
    E[::7] = E[0]  # many exact ties, across blocks
    return E, rng.integers(0, 9, n)


@pytest.mark.parametrize("ties", ["average", "stable", "optimistic", "pessimistic"])
def test_metrics_on_cuda_equal_the_cpu(ties):
    Q, yq = _tied_embeddings(seed=1)
    D, yd = _tied_embeddings(seed=2)
    for metric in (mean_average_precision, precision_at_k):
        kwargs = {"ties": ties, "batch_size": 128}
        if metric is precision_at_k:
            kwargs["k"] = 10
        cpu = metric(Q, D, yq, yd, device="cpu", **kwargs)
        cuda = metric(Q, D, yq, yd, device="cuda", **kwargs)
        assert cuda == pytest.approx(cpu, abs=1e-6), metric.__name__
    np.testing.assert_allclose(recall_at_k(Q, Q + 0.01, device="cuda"), recall_at_k(Q, Q + 0.01, device="cpu"))


@pytest.mark.parametrize("batch_size", [7, 64, 4096])
def test_index_on_cuda_returns_what_the_cpu_returns(batch_size):
    D, _ = _tied_embeddings(n=2000)
    Q = D[:50] + 0.01
    cpu = CrossModalIndex(None, metric="cosine", device="cpu", batch_size=batch_size).add_embeddings(D)
    cuda = CrossModalIndex(None, metric="cosine", device="cuda", batch_size=batch_size).add_embeddings(D)
    s_cpu, i_cpu = cpu.search_embeddings(Q, k=20)
    s_cuda, i_cuda = cuda.search_embeddings(Q, k=20)
    np.testing.assert_allclose(s_cuda, s_cpu, atol=1e-5)
    # tied items come back in database order on either device
    np.testing.assert_array_equal(i_cuda, i_cpu)


def _data(n=160):
    from skcross.datasets import make_multimodal_classification

    return make_multimodal_classification(n_samples=n, n_modalities=2, n_classes=4, n_features=[12, 9], random_state=0)


@pytest.mark.parametrize("Estimator", list(QUICK_NEURAL), ids=lambda c: c.__name__)
def test_same_random_state_same_model_on_cuda(Estimator):
    X, y = _data()
    fits = [Estimator(device="cuda", random_state=0, **QUICK_NEURAL[Estimator]).fit(X, y) for _ in range(2)]
    for c in range(2):
        a, b = (f.transform(c, X.modality(c)) for f in fits)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("Estimator", list(QUICK_NEURAL), ids=lambda c: c.__name__)
def test_sparse_input_on_cuda_equals_dense(Estimator):
    X, y = _data()
    dense = [np.abs(X.modality(c)) * (X.modality(c) > 0.3) for c in range(2)]
    sparse = [sp.csr_matrix(A) for A in dense]
    # standardize=False: sparse modalities are only scaled, dense ones also centred
    params = {"device": "cuda", "random_state": 0, "standardize": False, **QUICK_NEURAL[Estimator]}
    a = Estimator(**params).fit(dense, y)
    b = Estimator(**params).fit(sparse, y)
    for c in range(2):
        np.testing.assert_allclose(b.transform(c, sparse[c]), a.transform(c, dense[c]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("Estimator", list(QUICK_NEURAL), ids=lambda c: c.__name__)
def test_memmap_input_on_cuda_equals_in_memory(Estimator, tmp_path):
    X, y = _data()
    arrays = [np.ascontiguousarray(X.modality(c)) for c in range(2)]
    maps = []
    for c, A in enumerate(arrays):
        M = np.lib.format.open_memmap(tmp_path / f"m{c}.npy", mode="w+", dtype=A.dtype, shape=A.shape)
        M[:] = A
        M.flush()
        maps.append(np.load(tmp_path / f"m{c}.npy", mmap_mode="r"))
    params = {"device": "cuda", "random_state": 0, **QUICK_NEURAL[Estimator]}
    a = Estimator(**params).fit(arrays, y)
    b = Estimator(**params).fit(maps, y)
    for c in range(2):
        np.testing.assert_allclose(b.transform(c, maps[c]), a.transform(c, arrays[c]), rtol=1e-4, atol=1e-5)


def test_auto_device_trains_on_cuda():
    from skcross import DSCMR
    from skcross._torch_utils import resolve_device

    assert resolve_device("auto").type == "cuda"
    X, y = _data()
    model = DSCMR(random_state=0, **QUICK_NEURAL[DSCMR]).fit(X, y)
    # the default embedding: one class posterior per class
    assert model.transform(0, X.modality(0)).shape == (len(y), len(np.unique(y)))
