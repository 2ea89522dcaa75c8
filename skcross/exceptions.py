"""Exceptions raised by skcross."""

__all__ = ["TrainingDivergedError", "IncompatibleVersionError"]


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss; the message names the epoch and the likely cause."""


class IncompatibleVersionError(ValueError):
    """A persisted model was saved by a skcross version this one cannot load."""
