"""skcross: scikit-learn compatible cross-modal retrieval.

Learn a common space in which a query of one modality (an image) retrieves
relevant items of another (texts, audio, 3-D models).
"""

from ._dscmr import DSCMR
from ._fuse import Fuse
from ._gplvm import HarmonizedGPLVM
from ._index import CrossModalIndex
from ._minvi import MinVIRBM
from ._multimodal import MultiModal
from ._per_modality import PerModality
from ._sdml import SDML
from ._vae import CrossModalVAE
from ._version import __version__
from .base import CrossModalEstimator

__all__ = [
    "CrossModalEstimator",
    "CrossModalIndex",
    "CrossModalVAE",
    "DSCMR",
    "Fuse",
    "HarmonizedGPLVM",
    "MinVIRBM",
    "MultiModal",
    "PerModality",
    "SDML",
    "__version__",
]
