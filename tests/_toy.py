"""A tiny linear cross-modal estimator used to test the shared base, metrics and scorers."""

import numpy as np

from skcross import DSCMR, SDML, CrossModalVAE, MinVIRBM
from skcross.base import CrossModalEstimator

# Tiny settings of the neural estimators, for the sparse and memmap tests.
QUICK_NEURAL = {
    SDML: dict(n_components=4, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32),
    DSCMR: dict(n_components=4, hidden_layer_sizes=(8,), max_epochs=3, batch_size=32),
    CrossModalVAE: dict(n_components=3, hidden_layer_sizes=(8,), translation_hidden_sizes=(8,),
                        max_epochs=3, batch_size=32),
    MinVIRBM: dict(n_components=8, max_epochs=2, n_mean_field=3, batch_size=32),
}


class ToyLabelProjection(CrossModalEstimator):
    """Least-squares map of each modality to its (scaled) label indicators.

    ``alpha`` is a ridge penalty: large alpha shrinks every embedding towards 0 and
    hurts retrieval, so GridSearchCV has a real choice to make.
    """

    def __init__(self, alpha=1e-3, n_components=None, random_state=None):
        self.alpha = alpha
        self.n_components = n_components
        self.random_state = random_state

    def _fit(self, data):
        self.weights_ = []
        rng = np.random.RandomState(self.random_state)
        for X, Y in zip(data.X, data.Y):
            X = np.hstack([X, np.ones((len(X), 1), X.dtype)])
            A = X.T @ X + self.alpha * np.eye(X.shape[1])
            W = np.linalg.solve(A, X.T @ Y)
            # with large alpha the signal vanishes under a fixed random offset
            self.weights_.append(W)
        self.offset_ = 0.05 * rng.randn(data.Y[0].shape[1])
        return self

    def _transform(self, index, X):
        X = np.hstack([X, np.ones((len(X), 1), X.dtype)])
        return X @ self.weights_[index] + self.offset_
