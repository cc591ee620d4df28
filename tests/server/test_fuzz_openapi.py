"""A bounded schemathesis run against the native API's own OpenAPI document, on a live server.

Every operation gets generated requests, valid and not; the server must never answer 5xx, and
every error must be the JSON error body (never a stack trace), and no answer may contradict the
response schemas the document declares.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES_PER_OPERATION = 15


CALLS = []


def _check(case) -> None:
    CALLS.append(case.path)
    response = case.call(timeout=30)
    case.validate_response(response, checks=(not_a_server_error, response_schema_conformance))
    if response.status_code >= 400 and case.method.upper() != "HEAD":  # HEAD answers carry no body
        body = response.json()
        assert {"error_code", "message"} <= set(body), (case.path, body)
        assert "Traceback" not in response.text


def test_no_operation_answers_a_server_error(live_server) -> None:
    url, backing = live_server
    eid = backing.experiments.create("fuzzed")
    backing.runs.create(eid, run_name="fuzzed-run")
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # the whole native API is described and fuzzed
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            _check(case)

        run()
    assert len(CALLS) >= 10 * len(operations)
