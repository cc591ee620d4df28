"""MLflow's semantics on the MLflow adapter, through a live server and the real mlflow client.

Any string is a run id (one that names nothing is not found), errors carry MLflow's texts,
experiment and registry searches take MLflow's operators, and the artifact proxy serves paths
outside runs to administrators with MLflow's content types.
"""

from __future__ import annotations

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402


@pytest.fixture
def client(live_server, monkeypatch):
    url, backing = live_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    return mlflow.MlflowClient(url), url, backing


def test_an_unknown_run_id_of_any_form_is_not_found(client) -> None:
    mlflow_client, _url, _backing = client
    for run_id in ("fake_run_id", "0" * 32):
        with pytest.raises(MlflowException, match=r"Run with id=.+ not found") as caught:
            mlflow_client.get_run(run_id)
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_bad_arguments_get_mlflows_messages(client) -> None:
    _client, url, _backing = client
    api = f"{url}/api/2.0/mlflow"
    with httpx.Client() as http:
        sent = http.post(f"{api}/runs/log-metric", json={"run_id": 31, "key": "m", "value": 1})
        assert sent.status_code == 400
        assert "Invalid value 31 for parameter 'run_id' supplied" in sent.json()["message"]
        sent = http.post(f"{api}/experiments/create", json={})
        assert "Missing value for required parameter 'name'" in sent.json()["message"]


def test_new_endpoints_refuse_bad_input_and_keep_what_is_stored(client) -> None:
    mlflow_client, url, _backing = client
    eid = mlflow_client.create_experiment("kept", tags={"key": "value"})
    run_id = mlflow_client.create_run(eid).info.run_id
    api = f"{url}/api/2.0/mlflow"
    with httpx.Client() as http:
        for body in ({"experiment_id": eid}, {"experiment_id": eid, "key": ["key"]}):
            sent = http.post(f"{api}/experiments/delete-experiment-tag", json=body)
            assert (
                sent.status_code == 400 and sent.json()["error_code"] == "INVALID_PARAMETER_VALUE"
            )
        for path in ("../other", "a/../../b", "/etc/passwd"):
            listed = http.get(f"{api}/artifacts/list", params={"run_id": run_id, "path": path})
            assert listed.status_code == 400, (path, listed.text)
            assert "Invalid path" in listed.json()["message"]
    assert mlflow_client.get_experiment(eid).tags == {"key": "value"}


def test_a_parent_that_names_no_run_is_kept_as_a_tag(client) -> None:
    mlflow_client, _url, _backing = client
    eid = mlflow_client.create_experiment("parents")
    run = mlflow_client.create_run(eid, tags={"mlflow.parentRunId": "7"})
    assert mlflow_client.get_run(run.info.run_id).data.tags["mlflow.parentRunId"] == "7"


def test_experiment_tags_can_be_deleted_and_names_searched_with_not_equal(client) -> None:
    mlflow_client, _url, _backing = client
    eid = mlflow_client.create_experiment("a", tags={"key": "value"})
    mlflow_client.create_experiment("b", tags={"key": "VALUE"})
    found = mlflow_client.search_experiments(filter_string="name != 'a'")
    assert [e.name for e in found] == ["b", "Default"]
    found = mlflow_client.search_experiments(filter_string="tag.key ILIKE 'val%'")
    assert sorted(e.name for e in found) == ["a", "b"]
    mlflow_client.delete_experiment_tag(eid, "key")
    assert "key" not in mlflow_client.get_experiment(eid).tags


def test_experiment_search_pages_in_the_order_asked_with_exact_names(client) -> None:
    mlflow_client, _url, _backing = client
    for name in ("a_b", "axb", "c%d", "b"):
        mlflow_client.create_experiment(name, tags={"k": "v"} if name != "b" else None)
    found = mlflow_client.search_experiments(filter_string="name = 'a_b'")
    assert [e.name for e in found] == ["a_b"]  # `_` is a character here, not a wildcard
    assert [e.name for e in mlflow_client.search_experiments(filter_string="name = 'c%d'")] == [
        "c%d"
    ]
    names, token = [], None
    while True:
        page = mlflow_client.search_experiments(
            max_results=1, order_by=["name DESC"], filter_string="tag.k = 'v'", page_token=token
        )
        names += [e.name for e in page]
        token = page.token
        if not token:
            break
    assert names == ["c%d", "axb", "a_b"]


def test_registry_searches_take_ilike_and_mlflows_version_order(client) -> None:
    mlflow_client, _url, _backing = client
    for name in ("Alpha", "beta"):
        mlflow_client.create_registered_model(name)
        mlflow_client.create_model_version(name, "runs:/run_id/model", "run_id")
    found = mlflow_client.search_registered_models(filter_string="name ILIKE 'ALP%'")
    assert [m.name for m in found] == ["Alpha"]
    # LIKE is case-sensitive on every engine, for models and versions alike (as MLflow's).
    assert mlflow_client.search_registered_models(filter_string="name LIKE 'alp%'") == []
    assert mlflow_client.search_model_versions(filter_string="name LIKE 'alp%'") == []
    found = mlflow_client.search_model_versions(filter_string="name LIKE 'Alp%'")
    assert [v.name for v in found] == ["Alpha"]
    versions = mlflow_client.search_model_versions()
    assert [v.name for v in versions] == ["beta", "Alpha"]  # newest-updated first
    with pytest.raises(MlflowException, match="Registered Model with name=gone not found"):
        mlflow_client.get_registered_model("gone")


def test_the_proxy_serves_paths_outside_runs_with_guessed_types(client) -> None:
    _client, url, _backing = client
    proxy = f"{url}/api/2.0/mlflow-artifacts/artifacts"
    with httpx.Client() as http:
        assert http.put(f"{proxy}/dir/c.png", content=b"png").status_code == 200
        got = http.get(f"{proxy}/dir/c.png", headers={"Accept": "text/html"})
        assert got.content == b"png" and got.headers["content-type"] == "image/png"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert http.get(proxy, params={"path": "dir"}).json() == {
            "files": [{"path": "c.png", "is_dir": False, "file_size": 3}]
        }
        assert http.put(f"{proxy}/blobs/x", content=b"x").status_code == 400
        assert http.put(f"{proxy}/dir/../../x", content=b"x").status_code in (400, 404)


def test_paths_outside_runs_are_refused_to_signed_in_non_admins(rest_server) -> None:
    url, backing, _admin_token = rest_server
    backing.users.create_user("member", None, is_admin=False)
    token = backing.users.create_token("member", "test")[1]
    proxy = f"{url}/api/2.0/mlflow-artifacts/artifacts"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
        sent = http.put(f"{proxy}/dir/a.txt", content=b"x")
    assert sent.status_code == 403
