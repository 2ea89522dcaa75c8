"""Out-of-core fitting: memmapped modalities read one batch at a time (issue 17 item 2)."""

import numpy as np
import pytest

from skcross import DSCMR, CrossModalIndex
from skcross import _streaming
from skcross._streaming import HostRows

from _toy import QUICK_NEURAL

QUICK = QUICK_NEURAL


@pytest.fixture
def small_chunks(monkeypatch):
    """Several chunks and page releases even on a small file."""
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 8 * 7 * 13)
    monkeypatch.setattr(_streaming, "RELEASE_BYTES", 4096)


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    a = (rng.normal(size=(n, 7)) + y[:, None]) * 10 + 100
    b = rng.normal(size=(n, 5)) - y[:, None]
    return [a.astype(np.float32), b.astype(np.float32)], y


def _memmap(folder, name, A):
    M = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=A.dtype, shape=A.shape)
    M[:] = A
    M.flush()
    return np.load(folder / f"{name}.npy", mmap_mode="r")


@pytest.mark.parametrize("cls", list(QUICK), ids=lambda c: c.__name__)
def test_memmap_fit_equals_in_memory_fit(cls, tmp_path, small_chunks):
    X, y = _data()
    M = [_memmap(tmp_path, f"m{c}", A) for c, A in enumerate(X)]
    assert all(isinstance(m, np.memmap) for m in M)
    params = dict(QUICK[cls], early_stopping=True, random_state=0)
    a = cls(**params).fit(X, y)
    b = cls(**params).fit(M, y)
    for c in range(2):
        if a.feature_scale_[c] is not None:
            np.testing.assert_array_equal(a.feature_mean_[c], b.feature_mean_[c])
            np.testing.assert_array_equal(a.feature_scale_[c], b.feature_scale_[c])
        Ea, Eb = a.transform(c, X[c]), b.transform(c, M[c])
        np.testing.assert_allclose(Ea, Eb, rtol=0, atol=1e-6)
        np.testing.assert_allclose(b.transform(c, X[c]), Eb, rtol=0, atol=1e-6)


def test_memmap_is_never_copied_whole(tmp_path, monkeypatch):
    """The estimator's _fit sees a HostRows view of the memmap, not an array."""
    X, y = _data()
    M = [_memmap(tmp_path, f"m{c}", A) for c, A in enumerate(X)]
    seen = []
    original = DSCMR._fit

    def spy(self, data):
        seen.extend(type(x) for x in data.X)
        return original(self, data)

    monkeypatch.setattr(DSCMR, "_fit", spy)
    DSCMR(**QUICK[DSCMR], random_state=0).fit(M, y)
    assert seen == [HostRows, HostRows]


def test_large_in_memory_array_streams_identically(monkeypatch):
    """Above STREAM_MIN_BYTES an ordinary array is streamed too, same model."""
    X, y = _data()
    a = DSCMR(**QUICK[DSCMR], random_state=0).fit(X, y)
    monkeypatch.setattr(_streaming, "STREAM_MIN_BYTES", 0)
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 500)
    b = DSCMR(**QUICK[DSCMR], random_state=0).fit(X, y)
    np.testing.assert_array_equal(a.feature_scale_[0], b.feature_scale_[0])
    np.testing.assert_allclose(a.transform(0, X[0]), b.transform(0, X[0]), atol=1e-6)


def test_streaming_statistics_equal_numpy(tmp_path, small_chunks):
    rng = np.random.default_rng(1)
    A = (rng.normal(size=(300, 7)) * rng.lognormal(size=7) + 1e4).astype(np.float32)
    A[:, 3] = 5.0  # constant feature
    from skcross.base import standardization

    mean, scale = standardization(HostRows(_memmap(tmp_path, "a", A)))
    ref_mean, ref_scale = standardization(A.astype(np.float64))
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(scale, ref_scale)
    assert scale[3] == 1.0


def test_memmap_with_nan_names_the_modality(tmp_path, small_chunks):
    X, y = _data()
    X[1][100, 2] = np.nan
    M = [_memmap(tmp_path, f"m{c}", A) for c, A in enumerate(X)]
    with pytest.raises(ValueError, match="modality '1' contains non-finite values \\(1 NaN"):
        DSCMR(**QUICK[DSCMR]).fit(M, y)


def test_memmap_wrong_width_at_transform(tmp_path):
    X, y = _data()
    model = DSCMR(**QUICK[DSCMR], random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="has 5 features, but the model was fitted with 7"):
        model.transform(0, _memmap(tmp_path, "w", X[1]))


def test_index_add_from_memmap(tmp_path, small_chunks):
    X, y = _data()
    M = [_memmap(tmp_path, f"m{c}", A) for c, A in enumerate(X)]
    model = DSCMR(**QUICK[DSCMR], random_state=0).fit(M, y)
    index = CrossModalIndex(model, 1, batch_size=50).add(M[1])
    ref = CrossModalIndex(model, 1).add(X[1])
    i1, s1 = index.search(0, X[0][:5], k=5)
    i2, s2 = ref.search(0, M[0][:5], k=5)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, atol=1e-6)
