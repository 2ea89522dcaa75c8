"""Device and random-state handling for every torch backend, in one place."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

__all__ = [
    "resolve_device",
    "derive_seed",
    "torch_seed",
    "to_numpy",
    "as_tensor",
    "single_threaded_numpy_blas",
]


def resolve_device(device: Any = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, the CPU otherwise.

    An explicit ``"cuda"`` on a machine without CUDA raises a clear error rather
    than failing deep inside torch.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}."
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='auto' or 'cpu'."
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)."
        )
    if dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise ValueError(
            f"device={device!r} was requested but this torch build or machine has no MPS "
            "support; use device='auto' or 'cpu'."
        )
    if dev.type not in ("cpu", "cuda", "mps", "meta"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.")
    return dev


def derive_seed(random_state: Any, *offsets: int) -> int:
    """A reproducible 31-bit seed from ``random_state`` and positional offsets.

    ``derive_seed(rs, c)`` gives modality ``c`` its own seed that does not depend
    on how many other modalities exist or in which process it is trained.
    """
    if isinstance(random_state, (int, np.integer)):
        base = int(random_state)
    else:  # None or a RandomState: draw from it
        base = int(check_random_state(random_state).randint(2**31 - 1))
    # The count of offsets is part of the entropy: SeedSequence([b]) equals
    # SeedSequence([b, 0]), which would give derive_seed(rs) == derive_seed(rs, 0).
    seq = np.random.SeedSequence([base % (2**63), len(offsets), *[int(o) for o in offsets]])
    return int(seq.generate_state(1, dtype=np.uint32)[0] >> 1)


# torch has one global RNG per process: seeded blocks running in threads of one
# process (a threaded joblib or dask backend) would draw from each other's stream.
_SEED_LOCK = threading.RLock()


@contextlib.contextmanager
def torch_seed(seed: int, device: torch.device | None = None) -> Iterator[None]:
    """Seed torch inside the block without touching the caller's global RNG.

    Seeded blocks are serialised within a process, so fits running in threads
    stay reproducible; use processes for parallelism (the default of joblib).
    """
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        devices = [torch.device(device).index or 0]
    with _SEED_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def as_tensor(X: Any, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Dense tensor on ``device`` from a numpy array or scipy.sparse matrix."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    return torch.as_tensor(np.asarray(X), dtype=dtype, device=device)


@contextlib.contextmanager
def single_threaded_numpy_blas() -> Iterator[None]:
    """Run the BLAS libraries of numpy and scipy on one thread inside the block.

    For loops that alternate torch work with many small numpy / scipy calls
    (scipy's L-BFGS-B around a torch objective). After each call OpenBLAS's
    worker threads keep spinning for new work and take the cores torch's own
    threads need: HarmonizedGPLVM's default fit on Wikipedia took 50.8 s with
    both pools at two threads and 23.6 s with OpenBLAS on one, on the 2-core
    machine (``benchmarks/bench_threads.py``). Torch's thread pool, and a BLAS
    bundled inside torch, are left alone, so large problems keep their
    parallel matrix products.
    """
    controller = ThreadpoolController()
    torch_dir = os.path.dirname(torch.__file__)
    outside_torch = [
        info["filepath"]
        for info in controller.info()
        if info["user_api"] == "blas" and not info["filepath"].startswith(torch_dir)
    ]
    with controller.select(filepath=outside_torch).limit(limits=1):
        yield
