"""What the demo's deployment did, read back from the prediction log: one row per stage and variant.

The demo records when each stage began (serving, shadow, each canary step, after the outcome);
every logged prediction belongs to the stage whose start is the latest at or before its
`time_ms`. Latencies are the server's own (request arrival to answer), accuracy is measured
on the predictions whose labels came back through `/feedback`, and agreement is the shadow's
with the variant that answered the same requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PREDICTION = "output.prediction"
# What followed an analysis, by the controller's action (`perennia.serving.rollout.Decision`).
OUTCOMES = {
    "canary_step": "next step",
    "promote": "promoted",
    "rollback": "rolled back",
    "pause": "paused",
}


@dataclass(frozen=True)
class Stage:
    """One stage of the rollout: its label, when it began, each variant's traffic and verdict."""

    label: str
    start_ms: int
    traffic: dict[str, str]  # variant -> "75%" or "copy" (a shadow)
    verdicts: dict[str, str] = field(default_factory=dict)  # variant -> analysis outcome


@dataclass(frozen=True)
class Step:
    """One canary step's deciding analysis: the weight it judged, what followed, every check."""

    weight: float
    action: str  # canary_step | promote | rollback | pause
    analysis: dict[str, Any]


@dataclass(frozen=True)
class StageRow:
    """One variant within one stage, as the summary table shows it."""

    stage: str
    variant: str
    version: int
    traffic: str
    requests: int
    p50_ms: float | None
    p99_ms: float | None
    accuracy: float | None
    agreement: float | None
    verdict: str


@dataclass(frozen=True)
class DeploymentSummary:
    """The demo's deployment: its final state, the table of stages, the analyses, the log."""

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "stage",
        "variant",
        "version",
        "traffic",
        "requests",
        "p50 ms",
        "p99 ms",
        "accuracy",
        "agreement",
        "analysis",
    )

    name: str
    model_name: str
    state: str
    alias: str | None
    champion_version: int
    challenger_version: int
    challenger: str  # the candidate the challenger was trained as
    stable_version: int
    log_location: str
    agreement: float | None
    rows: tuple[StageRow, ...]
    steps: tuple[Step, ...]
    predictions: int
    labels: int
    by_protocol: dict[str, int]

    def title(self) -> str:
        """Return the summary table's title."""
        return (
            f"Deployment {self.name!r} of {self.model_name}: v{self.challenger_version} "
            f"({self.challenger}) shadowed, canaried and {self.state.replace('_', ' ')}"
        )

    def table_rows(self) -> list[tuple[str, ...]]:
        """Return the summary table's rows as text, in COLUMNS order."""
        return [
            (
                r.stage,
                r.variant,
                f"v{r.version}",
                r.traffic,
                str(r.requests),
                _number(r.p50_ms, "{:.1f}"),
                _number(r.p99_ms, "{:.1f}"),
                _number(r.accuracy, "{:.3f}"),
                _number(r.agreement, "{:.1%}"),
                r.verdict,
            )
            for r in self.rows
        ]

    def notes(self) -> list[str]:
        """Return the lines to print under the table: analyses, the log, what to type next."""
        lines = [f"analysis at {s.weight:g}%: {describe_step(s)}" for s in self.steps]
        if self.agreement is not None:
            lines.append(
                f"shadow: v{self.challenger_version} agreed with v{self.champion_version} on "
                f"{self.agreement:.1%} of the requests it saw; its latency counts from the "
                "request's arrival, as it predicts off the response path, after the answer"
            )
        alias = f"@{self.alias} now points at v{self.stable_version}; " if self.alias else ""
        lines.append(
            f"deployment: {self.name} serves v{self.stable_version} ({self.state}); {alias}"
            f"@champion stays v{self.champion_version}, moved only by an approved review"
        )
        protocols = ", ".join(f"{n} {p}" for p, n in sorted(self.by_protocol.items()))
        lines.append(
            f"prediction log: {self.log_location} ({self.predictions} predictions, "
            f"{self.labels} labels; requests by protocol: {protocols})"
        )
        lines.extend(read_hints(self.log_location, self.name))
        lines.append(
            f"next: perennia serve --deployment {self.name}  |  perennia deploy show {self.name}"
            f"  |  perennia deploy history {self.name}"
        )
        return lines


def _number(value: float | None, form: str) -> str:
    return "" if value is None else form.format(value)


def describe_step(step: Step) -> str:
    """Return one line: the verdict, what followed and each check's value against its limit."""
    analysis = step.analysis
    checks = []
    for check in analysis.get("checks", []):
        value, limit = check.get("value"), check.get("threshold")
        shown = "n/a" if value is None else f"{value:.3g}"
        bound = "" if limit is None else f" (limit {limit:g})"
        checks.append(f"{check['name']} {shown}{bound} {check['verdict']}")
    followed = OUTCOMES.get(step.action, step.action)
    return f"{analysis.get('verdict', '?')} -> {followed}: " + "; ".join(checks)


def read_hints(location: str, deployment: str) -> list[str]:
    """Return one-line commands reading the prediction log: pandas (through Perennia) and SQL."""
    # Perennia's reader needs nothing beyond perennia[serving], so the first line works wherever
    # the demo ran; it stacks parts of different schemas, as DuckDB's union_by_name does.
    pandas = (
        'python -c "from perennia.data.predlog import read_predictions; '
        f"log = read_predictions('{location}', deployment='{deployment}').to_pandas(); "
        "print(log.groupby(['variant', 'shadow'])['latency_ms'].describe())\""
    )
    sql = (
        "duckdb -c \"SELECT variant, shadow, count(*), median(latency_ms) FROM read_parquet('"
        f"{location}/predictions/**/*.parquet', hive_partitioning=true, union_by_name=true) "
        'GROUP BY ALL"'
    )
    return [f"read it: {pandas}", f"or SQL:  {sql}"]


def stage_rows(frame: Any, stages: list[Stage], agreement: float | None) -> list[StageRow]:
    """Return one row per (stage, variant) of the prediction log `frame` (joined with labels)."""
    import numpy as np

    starts = np.asarray([s.start_ms for s in stages], dtype=np.int64)
    index = np.searchsorted(starts, frame["time_ms"].to_numpy(dtype=np.int64), side="right") - 1
    frame = frame.assign(_stage=index)
    rows = []
    for position, stage in enumerate(stages):
        within = frame[frame["_stage"] == position]
        # Incumbent first, then the newcomer, as the deployment lists them.
        for variant in stage.traffic:
            part = within[within["variant"] == variant]
            if part.empty:
                continue
            rows.append(_row(stage, variant, part, agreement))
    return rows


def _row(stage: Stage, variant: str, part: Any, agreement: float | None) -> StageRow:
    import numpy as np

    ok = part[part["ok"]]
    latency = ok["latency_ms"].dropna().to_numpy(dtype=float)
    labelled = ok[ok["ground_truth"].notna()] if "ground_truth" in ok.columns else ok.iloc[0:0]
    accuracy = None
    if len(labelled):
        predicted = labelled[PREDICTION].to_numpy(dtype=float)
        truth = labelled["ground_truth"].to_numpy(dtype=float)
        accuracy = float(np.mean(predicted == truth))
    is_shadow = bool(part["shadow"].any())
    return StageRow(
        stage=stage.label,
        variant=variant,
        version=int(part["model_version"].iloc[0]),
        traffic=stage.traffic[variant],
        requests=int(part["request_id"].nunique()),
        p50_ms=float(np.percentile(latency, 50)) if latency.size else None,
        p99_ms=float(np.percentile(latency, 99)) if latency.size else None,
        accuracy=accuracy,
        agreement=agreement if is_shadow else None,
        verdict=stage.verdicts.get(variant, ""),
    )
