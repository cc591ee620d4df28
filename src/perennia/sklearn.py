"""`perennia.sklearn.autolog()`: track scikit-learn training without changing the training code."""

from perennia.tracking.autolog.sklearn import autolog

__all__ = ["autolog"]
