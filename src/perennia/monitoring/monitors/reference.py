"""Reference profiles kept with the run that trained a model, and found again from a URI.

`log_reference_profile(train_df)` profiles the data once, stores the profile as an artifact of
the active run (verified by sha256 like every artifact) and tags the run with its path, so a
model version registered from that run leads to its reference: version -> run -> tag ->
artifact. `load_reference(uri)` follows any of:

    runs:/<run_id>/<path>           a profile artifact
    models:/<name>/<version>        the reference of the version's run (also @alias)
    models:/<name>@<alias>
    datasets:/<name>@<version>      a dataset version, profiled when loaded
    /path/to/profile.json           a profile file written by DatasetProfile.to_bytes
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perennia.errors import InvalidInput, NotFound
from perennia.monitoring.profiles.dataset import DatasetProfile

PROFILE_TAG = "perennia.reference_profile"
DEFAULT_FILE = "reference_profile.json"


def log_reference_profile(data: Any, artifact_file: str = DEFAULT_FILE, **options: Any) -> str:
    """Return the runs:/ URI of the profile of `data`, logged in the active run and tagged on it."""
    from perennia.monitoring.profiles.build import profile
    from perennia.tracking.fluent import active_run, set_tag
    from perennia.tracking.fluent_artifacts import log_text

    reference = profile(data, **options) if not isinstance(data, DatasetProfile) else data
    # The profile is canonical JSON, so its text form is its bytes.
    log_text(reference.to_bytes().decode("utf-8"), artifact_file)
    set_tag(PROFILE_TAG, artifact_file, synchronous=True)
    return f"runs:/{active_run().info.run_id}/{artifact_file}"


def load_reference(uri: Any, client: Any = None) -> DatasetProfile:
    """Return the profile `uri` names (see the module docstring for the forms); `client` (a
    tracking Client) picks the store and artifacts, by default those of the environment."""
    if isinstance(uri, DatasetProfile):
        return uri
    if not isinstance(uri, (str, Path)):
        raise InvalidInput(f"reference must be a URI or a path, got {type(uri).__name__}")
    text = str(uri)
    if text.startswith("runs:/"):
        run_id, _, path = text[len("runs:/") :].partition("/")
        if not run_id or not path:
            raise InvalidInput(f"reference {text!r} must look like runs:/<run_id>/<path>")
        return _from_run(run_id, path, client)
    if text.startswith("models:/"):
        return _from_model(text, client)
    if text.startswith("datasets:/"):
        from perennia.data.versions import load
        from perennia.monitoring.profiles.build import profile

        return profile(load(text[len("datasets:/") :]))
    path = Path(text)
    if not path.is_file():
        raise NotFound(
            f"no reference profile at {text!r}; give runs:/, models:/, datasets:/ or a file"
        )
    return DatasetProfile.from_bytes(path.read_bytes())


def _from_run(run_id: str, path: str, client: Any = None) -> DatasetProfile:
    from perennia.data.session import current_client

    client = client or current_client()
    return DatasetProfile.from_bytes(client.read_artifact(run_id, path))


def _from_model(uri: str, client: Any = None) -> DatasetProfile:
    from perennia.data.session import current_client
    from perennia.models.uri import resolve_models_uri

    client = client or current_client()
    version = resolve_models_uri(client.store, uri)
    if not version.run_id:
        raise NotFound(f"{uri} has no source run, so no reference profile; log one with the run")
    path = client.store.runs.get(version.run_id).data.tags.get(PROFILE_TAG)
    if not path:
        raise NotFound(
            f"the run of {uri} logged no reference profile; call "
            "perennia.monitoring.log_reference_profile(train_df) inside it"
        )
    return _from_run(version.run_id, path, client)
