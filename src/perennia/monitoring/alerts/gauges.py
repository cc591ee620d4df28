"""The monitoring gauges in Prometheus's text format, through prometheus_client.

Four gauges, whose names and labels the generated alert rules and dashboards query:

    perennia_drift_score{model, feature, method}
    perennia_estimated_performance{model, metric}
    perennia_realised_performance{model, metric}
    perennia_monitor_value{monitor, value}

`MonitorCollector(source)` is a prometheus_client collector: register it on any
`CollectorRegistry` (the server's /metrics, later) and each scrape calls `source()` for the
current samples. `gauge_lines(samples)` renders samples once, as exposition format 0.0.4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from perennia.errors import InvalidInput
from perennia.monitoring.alerts.checks import (
    MONITOR_NAME,
    check_observed,
    check_pattern,
    check_text,
)
from perennia.monitoring.alerts.promql import (
    DRIFT_GAUGE,
    ESTIMATED_GAUGE,
    MONITOR_GAUGE,
    REALISED_GAUGE,
    check_model,
)
from perennia.monitoring.alerts.values import parse_value_key

GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    DRIFT_GAUGE: ("Drift score of one feature by one method.", ("model", "feature", "method")),
    ESTIMATED_GAUGE: (
        "Model performance estimated without ground-truth labels.",
        ("model", "metric"),
    ),
    REALISED_GAUGE: ("Model performance measured on labelled predictions.", ("model", "metric")),
    MONITOR_GAUGE: (
        "Any other value a monitor computes, by monitor and value key.",
        ("monitor", "value"),
    ),
}


@dataclass(frozen=True)
class GaugeSample:
    """One gauge value with its labels, e.g. perennia_drift_score{model,feature,method} = 0.31."""

    metric: str
    labels: dict[str, str] = field(hash=False)
    value: float

    def __post_init__(self) -> None:
        if self.metric not in GAUGES:
            raise InvalidInput(
                f"metric {self.metric!r:.80} is unknown; use one of " + ", ".join(GAUGES)
            )
        names = GAUGES[self.metric][1]
        if not isinstance(self.labels, Mapping) or set(self.labels) != set(names):
            raise InvalidInput(f"{self.metric} takes exactly the labels " + ", ".join(names))
        labels = {
            n: check_text(self.labels[n], f"{self.metric} label {n}", limit=1024, empty=True)
            for n in names
        }
        object.__setattr__(self, "labels", labels)
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise InvalidInput(f"{self.metric} value must be a number, got {self.value!r:.80}")
        object.__setattr__(self, "value", float(self.value))


def gauge_samples(
    model: str, monitor: str, values: Mapping[str, float | None]
) -> list[GaugeSample]:
    """Return the gauge samples for a monitor's output values (keys as in `values.py`).

    `feature.<f>.<m>` becomes a drift score, `estimated.<m>` / `realised.<m>` a performance
    gauge and any other key a monitor value; None or NaN values (not computable) are skipped.
    """
    model = check_model(model)
    check_pattern(monitor, "monitor", MONITOR_NAME, "letters, digits and _ . : -")
    samples = []
    for name, raw in values.items():
        key = parse_value_key(name, "value key")
        value = check_observed(raw, name)
        if value is None:
            continue
        if key.kind == "drift":
            if key.any_feature:
                raise InvalidInput(f"value key {name!r}: '*' names no feature; report each one")
            labels = {"model": model, "feature": key.feature, "method": key.method}
            samples.append(GaugeSample(DRIFT_GAUGE, labels, value))
        elif key.kind in ("estimated", "realised"):
            gauge = ESTIMATED_GAUGE if key.kind == "estimated" else REALISED_GAUGE
            samples.append(GaugeSample(gauge, {"model": model, "metric": key.metric}, value))
        else:
            samples.append(GaugeSample(MONITOR_GAUGE, {"monitor": monitor, "value": name}, value))
    return samples


class MonitorCollector:
    """A prometheus_client collector exporting the four monitoring gauges from `source()`."""

    def __init__(self, source: Callable[[], Iterable[GaugeSample]]) -> None:
        if not callable(source):
            raise InvalidInput("source must be a function returning the current GaugeSamples")
        self._source = source

    def describe(self) -> list[Any]:
        """Return the metric families without samples (so registering does not call `source`)."""
        return [_family(name) for name in GAUGES]

    def collect(self) -> Iterator[Any]:
        """Yield one GaugeMetricFamily per gauge with the current samples (last value wins)."""
        families = {name: _family(name) for name in GAUGES}
        latest: dict[tuple[str, tuple[str, ...]], float] = {}
        for sample in self._source():
            if not isinstance(sample, GaugeSample):
                raise InvalidInput(f"source returned {type(sample).__name__}, not GaugeSample")
            names = GAUGES[sample.metric][1]
            # A series may appear once per scrape; a repeated one keeps its latest value.
            latest[(sample.metric, tuple(sample.labels[n] for n in names))] = sample.value
        for (metric, label_values), value in latest.items():
            families[metric].add_metric(list(label_values), value)
        yield from families.values()


def gauge_lines(samples: Iterable[GaugeSample]) -> str:
    """Return the samples as Prometheus text exposition (format 0.0.4), HELP and TYPE included."""
    from prometheus_client import CollectorRegistry, generate_latest

    chosen = list(samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(lambda: chosen))
    return generate_latest(registry).decode("utf-8")


def _family(name: str) -> Any:
    from prometheus_client.core import GaugeMetricFamily

    help_text, labels = GAUGES[name]
    return GaugeMetricFamily(name, help_text, labels=list(labels))
