"""Retrieval at scale: a database of embeddings searched by exact chunked top-k.

``CrossModalEstimator.retrieve`` embeds the whole database on every call and
ranks it in one go, which is fine for evaluation but not for serving. The index
embeds the database once, in chunks, keeps the embeddings, and answers queries
by scanning the database block by block, so memory stays bounded by the block
size whatever the database size. FAISS is an optional backend for users who
already rely on it (or want its approximate indexes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._torch_utils import resolve_device
from ._validation import check_choice, check_number, resolve_modality
from ._version import __version__
from .base import check_saved_version
from .exceptions import IncompatibleVersionError
from .metrics import _similarity as _sim

__all__ = ["CrossModalIndex"]

# float64 elements of the fixed-point candidate rows rescored at once (32 MiB).
_EXACT_ELEMENTS = 2**22

_METRICS = ("cosine", "dot", "euclidean")
_BACKENDS = ("torch", "faiss")
# Elements of one query x database similarity block (float32: 256 MiB).
_BLOCK_ELEMENTS = 2**26


def _import_faiss():
    try:
        import faiss  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "backend='faiss' needs the faiss package, which is not installed. "
            "Install it with `pip install faiss-cpu` (or `pip install skcross[faiss]`; "
            "faiss-gpu from conda for GPUs), or use backend='torch' (exact search)."
        ) from exc
    return faiss


def _exact_top_k(Qf, D: torch.Tensor, cand: torch.Tensor, k: int, metric: str, bits: int):
    """The ``k`` best candidates ``cand`` (n, c) of each query by exact
    fixed-point similarity, equal scores in database order (``-1``: padding)."""
    n, c = cand.shape
    dim = D.shape[1]
    sims = torch.empty((n, c), dtype=torch.float64, device=cand.device)
    rows_at_once = max(1, _EXACT_ELEMENTS // max(c * dim, 1))
    cols_at_once = max(1, _EXACT_ELEMENTS // dim) if rows_at_once == 1 else c
    for r0 in range(0, n, rows_at_once):
        r1 = min(r0 + rows_at_once, n)
        Qr = Qf[r0:r1]
        for c0 in range(0, c, cols_at_once):
            c1 = min(c0 + cols_at_once, c)
            Df = _sim.gather_fixed(D, cand[r0:r1, c0:c1].clamp_min(0), metric, bits, precise=True)
            sims[r0:r1, c0:c1] = _sim.paired_similarity(Qr, Df, metric)
    sims.masked_fill_(cand < 0, -float("inf"))  # padding: never selected (k <= real candidates)
    by_pos = torch.argsort(cand, dim=1)
    cand, sims = cand.gather(1, by_pos), sims.gather(1, by_pos)
    order = torch.sort(sims, dim=1, descending=True, stable=True).indices[:, :k]
    return cand.gather(1, order), sims.gather(1, order)


def _ivf_of(faiss, index):
    """The IVF part of a FAISS index, or None for an index without inverted lists."""
    try:
        return faiss.extract_index_ivf(index)
    except (RuntimeError, AttributeError):
        return None


class CrossModalIndex:
    """A searchable database of one modality's embeddings in the common space.

    ``add`` embeds database items of ``modality`` with a fitted skcross
    estimator, in chunks of ``batch_size``, and stores the embeddings;
    ``search`` embeds queries of any modality and returns the ``k`` most similar
    database items. The torch backend is exact: the database is scanned block by
    block (on the GPU when available) and a running top-``k`` is merged, so no
    ``n_queries x n_database`` matrix is ever built. The FAISS backend hands the
    stored embeddings to a FAISS index (exact ``"Flat"`` by default, or any
    ``index_factory`` string such as ``"IVF1024,Flat"`` for approximate search).

    Parameters
    ----------
    estimator : fitted CrossModalEstimator or None
        Embeds database items and queries. ``None`` is allowed when only
        precomputed embeddings are used (:meth:`add_embeddings` and
        :meth:`search_embeddings`).
    modality : int or str, default=None
        The modality of the database items (position or name in the
        estimator's ``modalities_``). Required by :meth:`add`.
    backend : {"torch", "faiss"}, default="torch"
        Exact chunked search in torch, or a FAISS index (optional dependency).
    batch_size : int, default=65536
        Items embedded per ``estimator.transform`` call in :meth:`add`, and
        database rows per similarity block in the torch search. Queries are
        processed in chunks sized so that a block holds at most 2**26 scores.
    device : str or torch.device, default="auto"
        Where the torch backend computes ("auto": CUDA when available).
    metric : {"cosine", "dot", "euclidean"} or None, default=None
        Similarity to rank by. ``None`` uses the estimator's retrieval metric
        (the one its ``score`` uses), or "cosine" without an estimator.
    faiss_factory : str, default="Flat"
        FAISS ``index_factory`` description for ``backend="faiss"``. Cosine
        similarity uses an inner-product index on L2-normalised vectors.
    nprobe : int or None, default=None
        Inverted lists visited per query by FAISS IVF indexes.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_items, n_components)
        The stored database embeddings (their dtype is the estimator's
        embedding dtype, float32 for the torch methods).
    n_items_ : int
        Number of stored items.

    Notes
    -----
    Equal similarities are returned in database order, like
    :func:`skcross.metrics.top_k_similarities`. For ``metric="euclidean"`` the
    returned scores are negative distances (larger is more similar). ``k``
    larger than the database is clipped to the database size.

    The FAISS index is built (and trained, for IVF indexes) from the stored
    embeddings at the first search after an :meth:`add`, so add in large
    batches. It is not pickled: :meth:`save` stores the embeddings and the
    estimator, and the FAISS index is rebuilt at the first search after
    :meth:`load`. With the torch backend on a GPU, the database is copied to
    the GPU once and cached until the next :meth:`add`.

    Examples
    --------
    >>> import numpy as np
    >>> from skcross import CrossModalIndex
    >>> index = CrossModalIndex(None, metric="cosine")
    >>> index = index.add_embeddings(np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]]))
    >>> idx, sim = index.search_embeddings(np.array([[1.0, 0.1]]), k=2)
    >>> idx
    array([[0, 2]])
    >>> sim.round(3)
    array([[0.995, 0.774]])
    """

    def __init__(
        self,
        estimator: Any = None,
        modality: Any = None,
        backend: str = "torch",
        batch_size: int = 65536,
        device: Any = "auto",
        metric: str | None = None,
        faiss_factory: str = "Flat",
        nprobe: int | None = None,
    ) -> None:
        self.estimator = estimator
        self.modality = modality
        self.backend = backend
        self.batch_size = batch_size
        self.device = device
        self.metric = metric
        self.faiss_factory = faiss_factory
        self.nprobe = nprobe
        self._chunks: list[np.ndarray] = []
        self._embeddings: np.ndarray | None = None
        self._faiss_index = None
        self._device_cache: tuple | None = None

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        check_choice(self, "backend", _BACKENDS)
        if self.backend == "faiss":
            _import_faiss()
        check_number(self, "batch_size", integer=True, low=1)
        metric = self._metric()
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}.")
        if self.backend == "torch":
            resolve_device(self.device)  # ValueError naming device="..." when unavailable
        if self.nprobe is not None:
            if self.backend != "faiss":
                raise ValueError(
                    f"nprobe={self.nprobe!r} only applies to backend='faiss' with an IVF "
                    "faiss_factory; the torch backend is exact. Leave nprobe=None."
                )
            check_number(self, "nprobe", integer=True, low=1)

    def _final_estimator(self) -> Any:
        """The estimator that embeds: the last step of a Pipeline."""
        from sklearn.pipeline import Pipeline

        if isinstance(self.estimator, Pipeline):
            return self.estimator[-1]
        return self.estimator

    def _metric(self) -> str:
        if self.metric is not None:
            return self.metric
        final = self._final_estimator()
        if final is not None and hasattr(final, "_get_retrieval_metric"):
            return final._get_retrieval_metric()
        return "cosine"

    def _modalities(self) -> list:
        final = self._final_estimator()
        if not hasattr(final, "modalities_"):
            raise TypeError(
                f"{type(final).__name__} is not a fitted skcross estimator: CrossModalIndex "
                "needs one (or a Pipeline ending in one) to embed data."
            )
        return final.modalities_

    def _embed(self, modality: Any, X: Any) -> np.ndarray:
        """Embed one modality's samples; a Pipeline's earlier steps transform
        them first, one modality at a time (``transform_modality``, as
        :class:`~skcross.PerModality` has)."""
        from sklearn.pipeline import Pipeline

        if isinstance(self.estimator, Pipeline):
            for name, step in self.estimator.steps[:-1]:
                if step is None or (isinstance(step, str) and step == "passthrough"):
                    continue
                if not hasattr(step, "transform_modality"):
                    raise TypeError(
                        f"CrossModalIndex: the Pipeline step {name!r} ({type(step).__name__}) "
                        "transforms multi-modal input and has no transform_modality(modality, X), "
                        "so it cannot transform one modality's samples. Put per-modality "
                        "preprocessing in skcross.PerModality."
                    )
                X = step.transform_modality(modality, X)
        return self._final_estimator().transform(modality, X)

    def _check_estimator(self, what: str) -> None:
        if self.estimator is None:
            raise ValueError(
                f"{what} embeds data with the estimator, but this index has none: "
                "pass a fitted estimator, or use add_embeddings / search_embeddings "
                "with precomputed embeddings."
            )
        check_is_fitted(self.estimator)

    # ------------------------------------------------------------------ add
    def add(self, X: Any) -> "CrossModalIndex":
        """Embed database items of ``modality`` and store them.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_items, n_features)
            Samples of the index's modality; validated by the estimator.

        Returns
        -------
        self
        """
        self._check_params()
        self._check_estimator("add")
        if self.modality is None:
            raise ValueError("add needs the database modality: CrossModalIndex(estimator, modality).")
        modality = resolve_modality(self.modality, self._modalities())
        if not sp.issparse(X) and not isinstance(X, np.ndarray):
            X = np.asarray(X) if not hasattr(X, "to_numpy") else X.to_numpy()
        n = X.shape[0] if getattr(X, "ndim", 0) >= 1 else 0
        if n == 0 or X.ndim != 2:
            # Let the estimator's validation name the problem (empty, 1-D, 3-D...).
            self._embed(modality, X)
        parts = [
            self._embed(modality, X[start : start + self.batch_size])
            for start in range(0, n, self.batch_size)
        ]
        self._append(np.concatenate(parts) if len(parts) > 1 else parts[0])
        return self

    def add_embeddings(self, E: Any) -> "CrossModalIndex":
        """Store precomputed database embeddings (rows of the common space).

        Returns
        -------
        self
        """
        self._check_params()
        E = self._as_embeddings(E, "embeddings")
        self._append(E)
        return self

    def _as_embeddings(self, E: Any, what: str) -> np.ndarray:
        if isinstance(E, torch.Tensor):
            E = E.detach().cpu().numpy()
        E = np.asarray(E)
        if E.dtype.kind not in "biuf":
            raise TypeError(f"{what} must be numeric, got dtype {E.dtype}.")
        if E.ndim != 2:
            raise ValueError(f"{what} must be 2-D (n_items, n_dims), got shape {E.shape}.")
        if E.shape[0] == 0:
            raise ValueError(f"{what} is empty.")
        if E.dtype.kind != "f":
            E = E.astype(np.float32)
        if not np.all(np.isfinite(E)):
            raise ValueError(f"{what} contain NaN or inf.")
        dims = self.n_components_ if self._has_items() else None
        if dims is not None and E.shape[1] != dims:
            raise ValueError(
                f"{what} have {E.shape[1]} dimensions, but the index holds "
                f"{dims}-dimensional embeddings."
            )
        return E

    def _append(self, E: np.ndarray) -> None:
        if self._has_items() and E.shape[1] != self.n_components_:
            raise ValueError(
                f"new embeddings have {E.shape[1]} dimensions, but the index holds "
                f"{self.n_components_}-dimensional embeddings."
            )
        self._chunks.append(np.ascontiguousarray(E))
        self._faiss_index = None
        self._device_cache = None

    def _has_items(self) -> bool:
        return bool(self._chunks) or self._embeddings is not None

    @property
    def embeddings_(self) -> np.ndarray:
        if not self._has_items():
            raise NotFittedError("This CrossModalIndex is empty: call add(X) or add_embeddings(E) first.")
        if self._chunks:
            parts = ([self._embeddings] if self._embeddings is not None else []) + self._chunks
            self._embeddings = np.concatenate(parts) if len(parts) > 1 else parts[0]
            self._chunks = []
        return self._embeddings

    @property
    def n_items_(self) -> int:
        return 0 if not self._has_items() else int(self.embeddings_.shape[0])

    @property
    def n_components_(self) -> int:
        first = self._embeddings if self._embeddings is not None else self._chunks[0]
        return int(first.shape[1])

    def __len__(self) -> int:
        return self.n_items_

    # --------------------------------------------------------------- search
    def search(self, query_modality: Any, X_query: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` database items most similar to each query.

        Parameters
        ----------
        query_modality : int or str
            Modality of the queries (position or name).
        X_query : array-like of shape (n_queries, n_features)
        k : int, default=10

        Returns
        -------
        indices : ndarray of shape (n_queries, min(k, n_items))
            Positions of database items (in the order they were added), most
            similar first.
        scores : ndarray of shape (n_queries, min(k, n_items))
            Their similarities (negative distances for "euclidean").
        """
        self._check_params()
        self._check_k(k)
        self._check_estimator("search")
        if not self._has_items():
            raise NotFittedError("This CrossModalIndex is empty: call add(X) before search.")
        self._modalities()
        Q = self._embed(query_modality, X_query)
        return self.search_embeddings(Q, k)

    def search_embeddings(self, Q: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search`, for precomputed query embeddings ``Q``."""
        self._check_params()
        self._check_k(k)
        if not self._has_items():
            raise NotFittedError(
                "This CrossModalIndex is empty: call add(X) or add_embeddings(E) before searching."
            )
        Q = self._as_embeddings(Q, "query embeddings")
        k = int(min(k, self.n_items_))
        if self.backend == "faiss":
            return self._search_faiss(Q, k)
        return self._search_torch(Q, k)

    @staticmethod
    def _check_k(k: Any) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}.")

    def _database(self, device: torch.device):
        """The stored embeddings on ``device``, their float32 screening rows and
        largest norm, cached until the next add."""
        key = (str(device), self.n_items_, self._metric())
        if self._device_cache is not None and self._device_cache[0] == key:
            return self._device_cache[1]
        D = torch.from_numpy(self.embeddings_).to(device)  # no copy on the CPU
        A = _sim.to_approx(D, self._metric())
        d_max = float(A.norm.max()) if A.norm.numel() else 0.0
        self._device_cache = (key, (D, A, d_max))
        return self._device_cache[1]

    def _search_torch(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k in two passes that touch the database once.

        1. Screening: each block of database rows is scored with one float32
           matrix product (what a plain ``topk(Q @ D.T)`` does), and its best
           ``k + margin`` rows are kept.
        2. The kept candidates are rescored exactly, in fixed point (bit-identical
           to :func:`skcross.metrics.similarity_matrix`, so identical rows tie
           exactly), and merged with a stable order: equal scores in database
           order, for every ``batch_size``.

        A row left out of a block scores below that block's last kept one; if
        that is within twice the float32 error bound of the ``k``-th candidate,
        the left-out row might belong to the top ``k`` (or tie with it), and
        that query is screened again with a four times larger margin, up to
        whole blocks. So rounding never drops a true top-``k`` item.
        """
        device = resolve_device(self.device)
        metric = self._metric()
        out_dtype = torch.promote_types(torch.from_numpy(Q[:0]).dtype, torch.from_numpy(self.embeddings_[:0]).dtype)
        D, A, d_max = self._database(device)
        n, dim = D.shape
        block = min(int(self.batch_size), n)
        q_chunk = max(1, _BLOCK_ELEMENTS // block)
        bits = _sim.fraction_bits(dim)
        out_idx, out_sim = [], []
        with torch.no_grad():
            for qs in range(0, Q.shape[0], q_chunk):
                Qt = torch.from_numpy(np.ascontiguousarray(Q[qs : qs + q_chunk])).to(device)
                Qa = _sim.to_approx(Qt, metric)
                window = 2.0 * _sim.screen_tolerance(Qa, d_max, metric, dim)
                best_i = torch.empty((Qt.shape[0], k), dtype=torch.long, device=device)
                best_s = torch.empty((Qt.shape[0], k), dtype=torch.float64, device=device)
                pending = torch.arange(Qt.shape[0], device=device)
                kk = k + max(8, k)
                while pending.numel():
                    cand, complete = self._screen(Qa[pending], A, window[pending], k, kk, block, metric)
                    if kk >= block:
                        complete[:] = True  # whole blocks were kept
                    rows = pending[complete]
                    if rows.numel():
                        Qf = _sim.to_fixed(Qt[rows], metric, bits, precise=True)
                        best_i[rows], best_s[rows] = _exact_top_k(Qf, D, cand[complete], k, metric, bits)
                    pending = pending[~complete]
                    kk *= 4
                out_sim.append(best_s.to(out_dtype).cpu())
                out_idx.append(best_i.cpu())
        return torch.cat(out_idx).numpy(), torch.cat(out_sim).numpy()

    @staticmethod
    def _screen(Qa, A, window, k: int, kk: int, block: int, metric: str):
        """float32 candidates of each query (the best ``kk`` of every block) and
        whether they surely hold the exact top ``k`` (see ``_search_torch``)."""
        n = A.x.shape[0]
        vals, idx, cuts = [], [], []
        for ds in range(0, n, block):
            s = _sim.approx_scores(Qa, A[ds : ds + block], metric)
            kb = min(kk, s.shape[1])
            v, i = torch.topk(s, kb, dim=1, sorted=False)
            vals.append(v)
            idx.append(i.add_(ds))
            if kb < s.shape[1]:
                cuts.append(v.amin(dim=1))
        vals, cand = torch.cat(vals, 1), torch.cat(idx, 1)
        kth = torch.topk(vals, k, dim=1).values[:, -1:].to(torch.float64)
        if cuts:
            cut = torch.stack(cuts, 1).amax(dim=1).to(torch.float64)
            complete = cut < kth[:, 0] - window
        else:
            complete = torch.ones(cand.shape[0], dtype=torch.bool, device=cand.device)
        # Only candidates within the window of the k-th can make the exact top
        # k (the others score exactly below it): rescore those, best first,
        # marking the padding with -1.
        near = vals.to(torch.float64) >= kth - window[:, None]
        width = int(near.sum(dim=1).max())
        order = torch.topk(vals, width, dim=1).indices
        cand = torch.where(near.gather(1, order), cand.gather(1, order), torch.full_like(order, -1))
        return cand, complete

    def _search_faiss(self, Q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        faiss = _import_faiss()
        metric = self._metric()
        if self._faiss_index is None:
            D = np.ascontiguousarray(self.embeddings_, dtype=np.float32)
            if metric == "cosine":
                D = D / np.maximum(np.linalg.norm(D, axis=1, keepdims=True), np.finfo(np.float32).tiny)
            kind = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
            try:
                index = faiss.index_factory(D.shape[1], self.faiss_factory, kind)
            except RuntimeError as exc:
                raise ValueError(
                    f"faiss_factory={self.faiss_factory!r} is not a valid FAISS index_factory "
                    f"description for {D.shape[1]}-dimensional embeddings: {str(exc).strip().splitlines()[-1]}"
                ) from exc
            ivf = _ivf_of(faiss, index)
            if self.nprobe is not None and ivf is None:
                raise ValueError(
                    f"nprobe={self.nprobe} applies to IVF indexes (inverted lists), but "
                    f"faiss_factory={self.faiss_factory!r} has none; leave nprobe=None or use "
                    "an IVF index such as 'IVF1024,Flat'."
                )
            if ivf is not None and D.shape[0] < ivf.nlist:
                raise ValueError(
                    f"faiss_factory={self.faiss_factory!r} has {ivf.nlist} inverted lists, but the "
                    f"index holds only {D.shape[0]} items, fewer than the lists it trains: add more "
                    f"items, or use fewer lists (about sqrt(n_items), e.g. 'IVF{max(1, int(np.sqrt(D.shape[0])))},Flat')."
                )
            if not index.is_trained:
                index.train(D)
            index.add(D)
            self._faiss_index = index
        index = self._faiss_index
        if self.nprobe is not None:
            ivf = _ivf_of(faiss, index)
            ivf.nprobe = int(self.nprobe)
        Qf = np.ascontiguousarray(Q, dtype=np.float32)
        if metric == "cosine":
            Qf = Qf / np.maximum(np.linalg.norm(Qf, axis=1, keepdims=True), np.finfo(np.float32).tiny)
        scores, indices = index.search(Qf, k)
        if metric == "euclidean":
            # FAISS returns squared distances; report negative distances like torch.
            scores = -np.sqrt(np.maximum(scores, 0.0))
        return indices.astype(np.int64), scores

    # ---------------------------------------------------------- persistence
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._has_items():
            state["_embeddings"] = self.embeddings_
        state["_chunks"] = []
        state["_faiss_index"] = None  # rebuilt from the embeddings when needed
        state["_device_cache"] = None
        state["_skcross_version"] = __version__
        return state

    def __setstate__(self, state: dict) -> None:
        saved = state.pop("_skcross_version", None)
        if saved is None:
            raise IncompatibleVersionError(
                "This CrossModalIndex records no skcross version: it was not saved by "
                "CrossModalIndex.save; rebuild the index."
            )
        check_saved_version(saved, "CrossModalIndex", "rebuild the index")
        self.__dict__.update(state)

    def save(self, path: str | Path, compress: int = 0) -> None:
        """Save the embeddings and the estimator to ``path`` with joblib.

        The file records the skcross version; :meth:`load` refuses a file from
        an incompatible version with :class:`~skcross.exceptions.IncompatibleVersionError`.
        """
        import joblib

        joblib.dump(self, path, compress=compress)

    @classmethod
    def load(cls, path: str | Path) -> "CrossModalIndex":
        """Load an index written by :meth:`save` (on any device)."""
        import joblib

        obj = joblib.load(path)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}.")
        return obj

    def __repr__(self) -> str:
        est = "None" if self.estimator is None else type(self.estimator).__name__
        return (
            f"CrossModalIndex(estimator={est}, modality={self.modality!r}, "
            f"backend={self.backend!r}, n_items={self.n_items_})"
        )
