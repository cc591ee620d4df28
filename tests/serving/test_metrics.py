"""Serving metrics: what is observed is what a Prometheus scrape reads, across workers too."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from perennia.serving.metrics import LATENCY_BUCKETS, ServingMetrics


def scrape(metrics: ServingMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Render, parse with prometheus-client's own parser, and index samples by name and labels."""
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(pairs.items()))


MVV = dict(model="fraud", version="3", variant="stable")


def test_requests_are_counted_by_protocol_and_status_and_timed_in_buckets():
    metrics = ServingMetrics()
    for seconds in (0.0004, 0.0012, 0.0012, 0.02, 7.0):
        metrics.observe_request("fraud", "3", "stable", "v2", 200, seconds)
    metrics.observe_request("fraud", "3", "stable", "invocations", 400, 0.001)
    metrics.observe_request("fraud", "4", "canary", "v2", 500, 0.003)
    samples = scrape(metrics)

    ok = labels(**MVV, protocol="v2", status="200")
    assert samples[("perennia_requests_total", ok)] == 5
    assert (
        samples[("perennia_requests_total", labels(**MVV, protocol="invocations", status="400"))]
        == 1
    )
    canary = labels(model="fraud", version="4", variant="canary", protocol="v2", status="500")
    assert samples[("perennia_requests_total", canary)] == 1

    def bucket(le: str) -> float:
        return samples[("perennia_request_latency_seconds_bucket", labels(**MVV, le=le))]

    # Six requests of the stable variant (both protocols share the latency histogram).
    assert bucket("0.0005") == 1
    assert bucket("0.001") == 2
    assert bucket("0.0015") == 4
    assert bucket("0.025") == 5
    assert bucket("5.0") == 5
    assert bucket("+Inf") == 6
    assert samples[("perennia_request_latency_seconds_count", labels(**MVV))] == 6
    assert samples[("perennia_request_latency_seconds_sum", labels(**MVV))] == pytest.approx(
        0.0004 + 0.0012 * 2 + 0.02 + 7.0 + 0.001
    )
    assert LATENCY_BUCKETS[0] == 0.0005 and LATENCY_BUCKETS[-1] == 5.0


def test_batches_errors_shedding_and_dropped_log_records_are_exported():
    metrics = ServingMetrics()
    on_batch, on_shed = metrics.batch_hook("fraud", "3"), metrics.shed_hook("fraud", "3")
    for rows in (1, 7, 64, 64):
        on_batch(rows, 0.002)
    on_shed(3)
    metrics.observe_error("fraud", "3", "stable", "overloaded")
    metrics.observe_error("fraud", "3", "stable", "overloaded")
    metrics.observe_log_dropped(5)
    metrics.observe_shadow_skipped("fraud", "4")
    samples = scrape(metrics)

    mv = dict(model="fraud", version="3")
    assert samples[("perennia_batch_size_bucket", labels(**mv, le="1.0"))] == 1
    assert samples[("perennia_batch_size_bucket", labels(**mv, le="8.0"))] == 2
    assert samples[("perennia_batch_size_bucket", labels(**mv, le="64.0"))] == 4
    assert samples[("perennia_batch_size_sum", labels(**mv))] == 136
    assert samples[("perennia_batch_duration_seconds_count", labels(**mv))] == 4
    assert samples[("perennia_shed_total", labels(**mv))] == 3
    assert samples[("perennia_request_errors_total", labels(**MVV, kind="overloaded"))] == 2
    assert samples[("perennia_prediction_log_dropped_total", ())] == 5
    assert samples[("perennia_shadow_skipped_total", labels(model="fraud", version="4"))] == 1


def test_loaded_models_and_the_batchers_cost_model_and_queue_are_gauges():
    metrics = ServingMetrics()
    metrics.set_loaded("fraud", "3", "stable", True)
    metrics.set_loaded("fraud", "2", "stable", False)
    snapshot = {"queue_depth": 4, "cost_per_row_ms": 0.02, "cost_fixed_ms": 1.5}
    metrics.watch("fraud", "3", lambda: snapshot)
    samples = scrape(metrics)
    assert samples[("perennia_model_loaded", labels(**MVV))] == 1
    assert samples[("perennia_model_loaded", labels(**dict(MVV, version="2")))] == 0
    mv = labels(model="fraud", version="3")
    assert samples[("perennia_queue_depth", mv)] == 4
    assert samples[("perennia_batch_cost_per_row_seconds", mv)] == pytest.approx(0.00002)
    assert samples[("perennia_batch_cost_fixed_seconds", mv)] == pytest.approx(0.0015)

    snapshot["queue_depth"] = 9  # read again at every scrape
    assert scrape(metrics)[("perennia_queue_depth", mv)] == 9
    metrics.unwatch("fraud", "3")
    assert scrape(metrics)[("perennia_queue_depth", mv)] == 0


def test_two_servers_in_one_process_keep_separate_counts():
    first, second = ServingMetrics(), ServingMetrics()
    first.observe_request("m", "1", "a", "v2", 200, 0.001)
    ok = labels(model="m", version="1", variant="a", protocol="v2", status="200")
    assert scrape(first)[("perennia_requests_total", ok)] == 1
    assert ("perennia_requests_total", ok) not in scrape(second)


WORKER = textwrap.dedent(
    """
    import sys
    from perennia.serving.metrics import ServingMetrics

    metrics = ServingMetrics()
    assert metrics.multiprocess
    for _ in range(int(sys.argv[1])):
        metrics.observe_request("fraud", "3", "stable", "v2", 200, 0.002)
    metrics.observe_batch("fraud", "3", int(sys.argv[1]), 0.004)
    metrics.observe_batcher("fraud", "3", {"queue_depth": int(sys.argv[1])})
    """
)


def test_multiprocess_mode_aggregates_every_workers_metrics_in_one_scrape(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    for count in ("3", "5"):  # two worker processes, one after the other, sharing the folder
        subprocess.run([sys.executable, "-c", WORKER, count], env=env, check=True, timeout=120)

    samples = scrape(ServingMetrics(multiprocess_dir=str(tmp_path)))
    ok = labels(**MVV, protocol="v2", status="200")
    assert samples[("perennia_requests_total", ok)] == 8
    assert samples[("perennia_request_latency_seconds_count", labels(**MVV))] == 8
    assert samples[("perennia_request_latency_seconds_bucket", labels(**MVV, le="0.002"))] == 8
    mv = labels(model="fraud", version="3")
    assert samples[("perennia_batch_size_count", mv)] == 2
    assert samples[("perennia_batch_size_sum", mv)] == 8
    # Queue depth is summed over workers (neither was marked dead, so both still count).
    assert samples[("perennia_queue_depth", mv)] == 8
