"""What one inference server serves and how: read from the command line, passed to workers.

Uvicorn's worker processes import the app by name, so the configuration travels to them as
JSON in one environment variable (`PERENNIA_SERVE_CONFIG`), written by `perennia serve`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

from perennia.entities import BatchingConfig
from perennia.errors import InvalidInput

ENV = "PERENNIA_SERVE_CONFIG"
MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ServeConfig:
    """One server's settings: a model URI or a deployment name, and the knobs around it."""

    model_uri: str | None = None
    deployment: str | None = None
    name: str | None = None  # the endpoint's name for a model URI (default: the model's name)
    tracking_uri: str | None = None
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    log_location: str | None = None  # prediction log folder or s3:// prefix; None: no log
    log_queue_rows: int = 1_000_000  # rows the log may hold unwritten; beyond, new ones drop
    auth: bool = False  # require a bearer token of a user of the store
    max_body_bytes: int = MAX_BODY_BYTES
    batching: BatchingConfig | None = None  # overrides the deployment's batching
    poll_interval_s: float = 2.0  # how often a deployment's state is re-read
    controller: bool = True  # run canary analysis and step rollouts (deployment mode)
    analysis_interval_s: float = 30.0
    no_data_after_s: float = 600.0  # an analysis still without data after this pauses/fails
    shadow_process: bool = True  # shadows predict in a child process, off the primary's GIL
    explain_max_rows: int = 1000  # rows one POST /explain may hold (explanations are costly)

    def __post_init__(self) -> None:
        if (self.model_uri is None) == (self.deployment is None):
            raise InvalidInput("serve either a MODEL_URI or --deployment NAME (exactly one)")
        if not 1024 <= self.max_body_bytes <= 2**31:
            raise InvalidInput(
                f"max_body_bytes must be between 1 KiB and 2 GiB, got {self.max_body_bytes}"
            )
        if type(self.log_queue_rows) is not int or self.log_queue_rows <= 0:
            raise InvalidInput(
                f"log_queue_rows must be a positive number of rows, got {self.log_queue_rows!r}"
            )
        if type(self.explain_max_rows) is not int or self.explain_max_rows <= 0:
            raise InvalidInput(
                f"explain_max_rows must be a positive number of rows, got {self.explain_max_rows!r}"
            )
        if self.poll_interval_s <= 0 or self.analysis_interval_s <= 0:
            raise InvalidInput("poll and analysis intervals must be positive seconds")

    def to_json(self) -> str:
        """Return the configuration as JSON (the form workers read)."""
        data = asdict(self)
        data["trusted_types"] = list(self.trusted_types)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Return the configuration `to_json` wrote."""
        data = json.loads(text)
        batching = data.pop("batching", None)
        data["trusted_types"] = tuple(data.get("trusted_types") or ())
        config = cls(**data)
        if batching is not None:
            config = replace(config, batching=BatchingConfig.from_dict(batching))
        return config

    @classmethod
    def from_env(cls) -> ServeConfig:
        """Return the configuration `perennia serve` left for its workers."""
        from perennia.config import Settings

        text = Settings.from_env().serve_config
        if not text:
            raise InvalidInput(f"{ENV} is not set: start the server with `perennia serve`")
        return cls.from_json(text)
