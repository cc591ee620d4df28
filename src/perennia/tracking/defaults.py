"""The process-wide default settings: the environment, unless `set_tracking_uri()` changed them.

`perennia.Client()` with no arguments uses these, as `MlflowClient()` follows
`mlflow.set_tracking_uri()`.
"""

from __future__ import annotations

from perennia.config import Settings

_override: Settings | None = None


def default_settings() -> Settings:
    """Return the settings set through the fluent API, else those of the environment."""
    return _override if _override is not None else Settings.from_env()


def set_default_settings(settings: Settings | None) -> None:
    """Make `settings` the process default (None returns to the environment)."""
    global _override
    _override = settings
