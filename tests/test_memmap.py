"""Out-of-core fitting: memmapped modalities read one batch at a time (issue 17 item 2)."""

import os

import numpy as np
import pytest

from skcross import DSCMR, CrossModalIndex
from skcross import _streaming
from skcross._streaming import HostRows

from _toy import QUICK_NEURAL

QUICK = QUICK_NEURAL


@pytest.fixture
def small_chunks(monkeypatch):
    """Several chunks even on a small file."""
    monkeypatch.setattr(_streaming, "CHUNK_BYTES", 8 * 7 * 13)


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


def _rss_file_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1])
    pytest.skip("no RssFile in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux /proc needed")
def test_memmap_rows_are_read_from_the_file_not_mapped(tmp_path):
    """An epoch of random batches over a memmap leaves none of its pages mapped
    in the process; reading the same batches through the mapping maps most of
    the file (the control, so that the measurement can fail)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4096, 1024)).astype(np.float32)  # 16 MiB
    M = _memmap(tmp_path, "big", A)
    rows = HostRows(M)
    assert rows._file is not None
    batches = np.array_split(rng.permutation(len(A)), 64)
    before = _rss_file_kib()
    for idx in batches:
        np.testing.assert_array_equal(rows.read(idx), A[idx])
    streamed = _rss_file_kib() - before
    for idx in batches:
        np.asarray(M[np.sort(idx)])
    mapped = _rss_file_kib() - before
    assert mapped > 8 * 1024, "the control mapped under half the file: cannot tell"
    assert streamed < 1024, f"{streamed} KiB of the 16 MiB file stayed mapped"


def _peak_rise_kib(fn):
    """How far the resident set's high-water mark rises above its start during fn()."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current VmRSS
    except OSError:
        pytest.skip("cannot reset VmHWM here")
    with open("/proc/self/status") as f:
        start = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fn()
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) - start


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux /proc needed")
def test_batches_never_map_the_file_even_briefly(tmp_path):
    """Pages released after each batch still count in the peak while the batch
    is read (a fault maps its neighbours, or a whole large folio); reading the
    file maps none. Control: the same batches read through the mapping."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(8192, 1024)).astype(np.float32)  # 32 MiB, a page a row
    M = _memmap(tmp_path, "peak", A)
    batches = np.array_split(rng.permutation(len(A)), 32)[:4]  # 256 rows, 3 MiB read a batch

    def epoch(rows):
        for idx in batches:
            rows.read(idx)

    through_file = HostRows(M)
    assert through_file._file is not None
    rise_mapped = _peak_rise_kib(lambda: epoch(HostRows(M, _file=None)))
    rise_file = _peak_rise_kib(lambda: epoch(through_file))
    # 256 faults map at least 64 KiB each (x86 fault-around): 16 MiB.
    assert rise_mapped > 12 * 1024, "the control mapped little: cannot tell"
    assert rise_file < 6 * 1024, f"the peak rose by {rise_file} KiB"


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux /proc needed")
def test_file_reads_follow_views_offsets_and_strides(tmp_path):
    rng = np.random.default_rng(2)
    A = rng.normal(size=(500, 6)).astype(">f8")  # big-endian: bytes as in the file
    M = _memmap(tmp_path, "v", A)
    odd = np.memmap(tmp_path / "v.npy", mode="r", dtype=">f8", offset=128 + 6 * 8 * 7, shape=(300, 6))
    idx = np.array([5, 0, 299, 3, 4, -1, 150, 151, 152])
    for view, ref in [(M, A), (M[37:400], A[37:400]), (M[::3], A[::3]), (M[::-2], A[::-2]),
                      (odd, A[7:307]), (M[:, 1:4], A[:, 1:4])]:
        rows = HostRows(view)
        assert rows._file is not None
        np.testing.assert_array_equal(rows.read(idx[idx < len(ref)]), ref[idx[idx < len(ref)]])
        np.testing.assert_array_equal(np.asarray(rows), ref.astype(np.float64))
        np.testing.assert_array_equal(rows.subset([2, 1])[[1, 0]], ref[[1, 2]])
    assert HostRows(M[:, ::2])._file is None  # rows not contiguous: read through the mapping
    np.testing.assert_array_equal(HostRows(M[:, ::2]).read([4, 2]), A[[4, 2], ::2])


def test_copy_on_write_memmap_keeps_its_changes(tmp_path):
    """A mode='c' memmap's changes live in private pages only: they are read
    through the mapping and never dropped, so the fit sees the changed data."""
    X, y = _data()
    M = [_memmap(tmp_path, f"m{c}", A) for c, A in enumerate(X)]
    C = np.load(tmp_path / "m0.npy", mmap_mode="c")
    C[:40] *= 3.0
    X[0][:40] *= 3.0
    assert HostRows(C)._file is None
    for _ in range(2):
        np.testing.assert_array_equal(HostRows(C).read(np.arange(50)), X[0][:50])
    a = DSCMR(**QUICK[DSCMR], random_state=0).fit(X, y)
    b = DSCMR(**QUICK[DSCMR], random_state=0).fit([C, M[1]], y)
    np.testing.assert_array_equal(a.feature_mean_[0], b.feature_mean_[0])
    np.testing.assert_allclose(a.transform(0, X[0]), b.transform(0, C), atol=1e-6)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="Linux /proc needed")
def test_replaced_file_is_not_read(tmp_path):
    """The file at the memmap's path replaced after mapping: the mapped (old)
    data are read, through the mapping, not the new file's."""
    A = np.arange(60, dtype=np.float32).reshape(20, 3)
    M = _memmap(tmp_path, "r", A)
    rows = HostRows(M)
    assert rows._file is not None
    replacement = tmp_path / "new.npy"
    np.save(replacement, -A)
    os.replace(replacement, tmp_path / "r.npy")
    np.testing.assert_array_equal(rows.read([3, 1]), A[[3, 1]])
    assert rows._file is None


def test_streaming_pass_drops_mapped_pages(monkeypatch):
    """Rows that must be read through a mapping (no file reader) are released
    after each read."""
    X, y = _data()
    calls = []
    monkeypatch.setattr(_streaming, "_release", lambda source: calls.append(source) or True)
    rows = HostRows(X[0], _file=None)
    list(rows.chunks(n_rows=50))
    rows.read([3, 1])
    assert len(calls) == 4 + 1
