"""The outside probe's read findings, each reproduced through a live server with sign-in on, on
SQLite and PostgreSQL: a signed-in user with no role reads nothing of the owner's.

Every test failed before the fix (see the issue's findings 1-5, 11-13).
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from tests.conftest import postgres_database
from tests.server.probe import MLFLOW, PROXY, SECRET, leaks, ok, serve


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One staged server per backend for the whole module: the tests only add their own things."""
    tmp_path = tmp_path_factory.mktemp("probe")
    if request.param == "sqlite":
        staged = serve(f"sqlite:///{tmp_path / 'perennia.db'}", tmp_path)
        yield staged
        staged.close()
        return
    with postgres_database(request.getfixturevalue("postgres_template")) as uri:
        staged = serve(uri, tmp_path)
        yield staged
        staged.close()


def _fresh_run(probe) -> str:
    """Return a new run in the stranger's own experiment."""
    body = {"experiment_id": probe.ids["stranger_experiment"]}
    return ok(probe.stranger.post("/api/v1/runs", json=body))["info"]["run_id"]


def _fresh_model(probe) -> str:
    """Return the name of a new registered model the stranger manages."""
    name = f"mine-{uuid.uuid4().hex[:8]}"
    ok(probe.stranger.post("/api/v1/registered-models", json={"name": name}))
    return name


# -- 1. run search without experiment ids ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"{MLFLOW}/runs/search", {}),
        (f"{MLFLOW}/runs/search", {"experiment_ids": []}),
        ("/api/v1/runs/search", {"experiment_ids": []}),
        ("/api/v1/runs/search-frame", {"experiment_ids": []}),
    ],
)
def test_a_search_naming_no_experiment_sees_only_what_the_caller_may_read(probe, path, body):
    answer = ok(probe.stranger.post(path, json=body))
    assert SECRET not in json.dumps(answer)
    runs = answer.get("runs") or answer.get("items") or []
    if "columns" in answer:
        runs = answer["columns"]["run_id"]
    else:
        runs = [r["info"]["run_id"] for r in runs]
    assert probe.ids["stranger_run"] in runs and probe.ids["run"] not in runs
    # The owner still finds their run the same way, and an admin finds both.
    owner = ok(probe.owner.post(path, json=body))
    assert probe.ids["run"] in json.dumps(owner) and probe.ids["stranger_run"] not in json.dumps(
        owner
    )
    both = json.dumps(ok(probe.root.post(path, json=body)))
    assert probe.ids["run"] in both and probe.ids["stranger_run"] in both


def test_naming_an_unreadable_experiment_is_refused(probe) -> None:
    body = {"experiment_ids": [probe.ids["stranger_experiment"], probe.ids["experiment"]]}
    answer = probe.stranger.post(f"{MLFLOW}/runs/search", json=body)
    assert answer.status_code == 403 and not leaks(answer)


# -- 2. the artifact proxy with extra slashes ----------------------------------------------------


@pytest.mark.parametrize("slashes", ["/", "//", "///"])
def test_extra_slashes_in_a_proxied_path_do_not_skip_the_check(probe, slashes) -> None:
    tail = f"{probe.ids['experiment']}/{probe.ids['run']}/artifacts/secret.txt"
    answer = probe.stranger.get(f"{PROXY}{slashes}{tail}")
    assert answer.status_code in (400, 403) and not leaks(answer)
    listing = probe.stranger.get(PROXY, params={"path": f"{slashes}{tail.rsplit('/', 1)[0]}"})
    assert listing.status_code in (400, 403) and "secret.txt" not in listing.text
    mine = probe.owner.get(f"{PROXY}{slashes}{tail}")  # the owner still reads it
    assert mine.status_code == 200 and mine.content.decode() == probe.ids["content"]


def test_mlflows_ui_downloads_ask_the_same_rules_as_the_proxy(probe) -> None:
    run_params = {"run_id": probe.ids["run"], "path": "secret.txt"}
    version_params = {"name": probe.ids["model"], "version": "1", "path": "secret.txt"}
    for path, params in (
        ("/get-artifact", run_params),
        ("/model-versions/get-artifact", version_params),
        (f"{probe.url}//model-versions/get-artifact", version_params),  # one slash too many
    ):
        answer = probe.stranger.get(path, params=params)  # a 403 names what was asked for
        assert answer.status_code == 403, (path, answer.text)
        assert probe.ids["content"] not in answer.text
    mine = probe.owner.get("/get-artifact", params=run_params)
    assert mine.status_code == 200 and mine.content.decode() == probe.ids["content"]


def test_dataset_summaries_need_sight_of_every_experiment_named(probe) -> None:
    ids = [probe.ids["stranger_experiment"], probe.ids["experiment"]]
    for answer in (
        probe.stranger.post(f"{MLFLOW}/experiments/search-datasets", json={"experiment_ids": ids}),
        probe.stranger.get("/api/v1/experiments/dataset-summaries", params={"experiment_ids": ids}),
    ):
        assert answer.status_code == 403 and not leaks(answer), answer.text
    mine = probe.stranger.get(
        "/api/v1/experiments/dataset-summaries", params={"experiment_ids": ids[:1]}
    )
    assert mine.status_code == 200 and mine.json() == []


# -- 3. experiment ids of the wrong JSON type ----------------------------------------------------


@pytest.mark.parametrize("shape", ["string", "digits-as-string", "number", "object", "nested"])
def test_experiment_ids_must_be_a_list_of_ids(probe, shape) -> None:
    own = probe.ids["stranger_experiment"]
    value = {
        "string": own,
        "digits-as-string": f"{own}{probe.ids['experiment']}",
        "number": int(own),
        "object": {"0": own},
        "nested": [[own]],
    }[shape]
    answer = probe.stranger.post(f"{MLFLOW}/runs/search", json={"experiment_ids": value})
    assert answer.status_code == 400 and not leaks(answer)
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "experiment_ids" in answer.json()["message"]


# -- 4. blobs by digest ---------------------------------------------------------------------------


def test_a_foreign_blob_cannot_be_read_tested_or_linked_through_ones_own_run(probe) -> None:
    mine, digest = _fresh_run(probe), probe.ids["digest"]
    blob = f"/api/v1/runs/{mine}/blobs/{digest}"
    read = probe.stranger.get(blob)
    assert read.status_code == 404 and not leaks(read)
    assert probe.stranger.head(blob).status_code == 404  # no existence oracle either
    link = {"entries": [{"path": "stolen.txt", "digest": digest, "size": 10}]}
    answer = probe.stranger.post(f"/api/v1/runs/{mine}/artifact-entries", json=link)
    assert answer.status_code == 403
    assert probe.backing.artifacts.list(mine) == []
    # A digest with no blob behind it is refused too, whoever asks.
    ghost = {"entries": [{"path": "ghost.txt", "digest": "0" * 64, "size": 1}]}
    assert probe.root.post(f"/api/v1/runs/{mine}/artifact-entries", json=ghost).status_code == 400


def test_uploading_the_bytes_proves_one_holds_them_and_allows_linking(probe) -> None:
    mine, digest = _fresh_run(probe), probe.ids["digest"]
    blob = f"/api/v1/runs/{mine}/blobs/{digest}"
    content = probe.ids["content"].encode()
    ok(probe.stranger.put(blob, content=content))
    entries = {"entries": [{"path": "mine.txt", "digest": digest, "size": len(content)}]}
    ok(probe.stranger.post(f"/api/v1/runs/{mine}/artifact-entries", json=entries))
    assert probe.stranger.get(blob).content == content
    assert [e.path for e in probe.backing.artifacts.list(mine)] == ["mine.txt"]


def test_the_owner_reads_their_blob_through_their_run(probe) -> None:
    answer = probe.owner.get(f"/api/v1/runs/{probe.ids['run']}/blobs/{probe.ids['digest']}")
    assert answer.content.decode() == probe.ids["content"]


# -- 5. experiment listings with the default role 'none' ---------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/api/v1/experiments", {}),
        ("GET", "/api/v1/experiments", {"name_like": "exp-%"}),
        ("GET", f"{MLFLOW}/experiments/search", {}),
        ("POST", f"{MLFLOW}/experiments/search", {"filter": f"name = 'exp-{SECRET}'"}),
        ("POST", f"{MLFLOW}/experiments/search", {"filter": "name LIKE 'exp-%'"}),
        ("GET", "/api/v1/registered-models", {}),
        ("GET", "/api/v1/model-versions", {}),
        ("GET", f"{MLFLOW}/registered-models/search", {}),
        ("GET", f"{MLFLOW}/registered-models/search", {"filter": f"name = 'model-{SECRET}'"}),
        ("GET", f"{MLFLOW}/model-versions/search", {}),
    ],
)
def test_listings_show_nothing_the_caller_may_not_read(probe, method, path, params) -> None:
    if method == "GET":
        answer = probe.stranger.get(path, params=params)
    else:
        answer = probe.stranger.post(path, json=params)
    assert answer.status_code == 200 and not leaks(answer), answer.text
    if "experiments" in path and "name" not in json.dumps(params):
        assert "strangers-own" in answer.text  # their own experiment is listed
    owner = (
        probe.owner.get(path, params=params)
        if method == "GET"
        else probe.owner.post(path, json=params)
    )
    assert leaks(owner)  # the owner's listing holds it


# -- 11. model-version sources ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "s3://bucket/model",
        "/srv/models/m",
        "models:/{mine}/1",  # itself: version 1 does not exist yet
        "models:/{mine}@champion",
        "models:/{mine}/latest",
        "runs:/{run}/model",  # another user's run, run_id omitted
        "mlflow-artifacts:/{experiment}/{run}/artifacts/model",
        "models:/model-" + SECRET + "/1",  # a version of a model the caller may not read
    ],
)
def test_a_version_source_must_be_one_the_server_vouches_for(probe, source) -> None:
    mine = _fresh_model(probe)
    source = source.format(run=probe.ids["run"], experiment=probe.ids["experiment"], mine=mine)
    native = probe.stranger.post(
        f"/api/v1/registered-models/{mine}/versions", json={"source": source}
    )
    mlflow = probe.stranger.post(
        f"{MLFLOW}/model-versions/create", json={"name": mine, "source": source}
    )
    for answer in (native, mlflow):
        assert answer.status_code in (400, 403, 404), (source, answer.text)
        # Naming the owner's model is the caller's own doing; nothing else of it comes back.
        assert not leaks(answer, f"model-{SECRET}")
    assert probe.backing.versions.search_model_versions(mine).items == []


def test_sources_the_caller_may_read_are_accepted(probe) -> None:
    mine = _fresh_model(probe)
    own = f"runs:/{probe.ids['stranger_run']}/model"
    first = ok(
        probe.stranger.post(f"/api/v1/registered-models/{mine}/versions", json={"source": own})
    )
    assert (first["version"], first["source"]) == (1, own)
    chained = ok(
        probe.stranger.post(
            f"{MLFLOW}/model-versions/create", json={"name": mine, "source": f"models:/{mine}/1"}
        )
    )
    assert chained["model_version"]["version"] == "2"
    mismatch = probe.stranger.post(
        f"/api/v1/registered-models/{mine}/versions", json={"source": own, "run_id": "a" * 32}
    )
    assert mismatch.status_code == 400 and "differs" in mismatch.json()["message"]


def test_path_like_model_names_are_refused(probe) -> None:
    for name in ("..", ".", "a\\b"):
        answer = probe.stranger.post("/api/v1/registered-models", json={"name": name})
        assert answer.status_code == 400, name
        mlflow = probe.stranger.post(f"{MLFLOW}/registered-models/create", json={"name": name})
        assert mlflow.status_code == 400, name


# -- 12. depth and size of filters, tokens and bodies -------------------------------------------


def _limit_refused(answer: httpx.Response, word: str) -> None:
    assert answer.status_code == 400, answer.text[:200]
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert word in answer.json()["message"], answer.json()["message"][:200]


def test_deep_or_wide_filters_are_refused_with_the_limit_named(probe) -> None:
    search = f"{MLFLOW}/runs/search"
    nested = "(" * 1000 + "metrics.auc > 0" + ")" * 1000
    _limit_refused(probe.stranger.post(search, json={"filter": nested}), "limit of 32")
    wide = " OR ".join(f"params.p = '{i}'" for i in range(20_000))
    _limit_refused(probe.stranger.post(search, json={"filter": wide}), "limit")
    terms = " OR ".join(f"params.p = '{i}'" for i in range(300))
    _limit_refused(probe.stranger.post(search, json={"filter": terms}), "limit of 256")
    fine = " OR ".join(f"params.p = '{i}'" for i in range(50))
    assert probe.stranger.post(search, json={"filter": fine}).status_code == 200


def test_hostile_page_tokens_are_refused(probe) -> None:
    search = f"{MLFLOW}/runs/search"
    brackets = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    for token in ("[" * 100_000, brackets, base64.urlsafe_b64encode(b"[" * 300).decode()):
        answer = probe.stranger.post(search, json={"page_token": token})
        assert answer.status_code == 400 and "page_token" in answer.json()["message"]


def test_deeply_nested_json_bodies_are_refused_before_any_route_parses_them(probe) -> None:
    deep = b'{"experiment_ids": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for path in (
        f"{MLFLOW}/runs/search",
        "/api/v1/runs/search",
        f"/api/v1/runs/{probe.ids['stranger_run']}/batch",
    ):
        answer = probe.stranger.post(
            path, content=deep, headers={"content-type": "application/json"}
        )
        _limit_refused(answer, "deeper than 64")
    shallow = {"experiment_ids": [], "filter": "params.p = '[[[[[[[[{{{{{{{{'"}
    assert probe.stranger.post(f"{MLFLOW}/runs/search", json=shallow).status_code == 200


# -- 13. MLflow arguments of the wrong type --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "runs/search", {"page_token": 5}, "page_token"),
        ("POST", "runs/search", {"page_token": ["a"]}, "page_token"),
        ("POST", "runs/search", {"page_token": {"offset": 1}}, "page_token"),
        ("POST", "runs/search", {"max_results": "abc"}, "max_results"),
        ("POST", "runs/search", {"order_by": "metrics.auc"}, "order_by"),
        ("POST", "runs/search", {"filter": ["a"]}, "filter"),
        ("POST", "runs/log-batch", {"metrics": "abc"}, "metrics"),
        ("POST", "runs/log-batch", {"params": [1, 2]}, "params"),
        ("POST", "runs/log-batch", {"tags": [{"key": 1, "value": "v"}]}, "tags"),
        ("POST", "runs/create", {"tags": [1]}, "tags"),
        ("POST", "runs/create", {"start_time": "yesterday"}, "start_time"),
        ("POST", "experiments/search", {"max_results": [1]}, "max_results"),
        ("POST", "runs/log-inputs", {"datasets": "x"}, "datasets"),
        ("GET", "metrics/get-history", {"max_results": "x", "metric_key": "auc"}, "max_results"),
        ("GET", "registered-models/search", {"max_results": "x"}, "max_results"),
    ],
)
def test_mlflow_arguments_of_the_wrong_type_get_invalid_parameter_value(
    probe, method, path, body, field
) -> None:
    run_id = probe.ids["stranger_run"]
    if method == "GET":
        answer = probe.stranger.get(f"{MLFLOW}/{path}", params={"run_id": run_id, **body})
    else:
        payload = {"run_id": run_id, "experiment_id": probe.ids["stranger_experiment"], **body}
        answer = probe.stranger.post(f"{MLFLOW}/{path}", json=payload)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in answer.json()["message"]
