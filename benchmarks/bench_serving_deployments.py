"""Deployments under load: the shadow's cost to the primary's p99, a long run at saturation whose
every prediction must be logged exactly once, and a hot swap that must drop no request.

Used by bench_serving.py (same model, same load generator); runnable alone for the deployment
figures only.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from common import Result, emit, fresh_dir
from load import run_load, run_rate
from server_processes import Server

BIN = os.path.dirname(sys.executable)
SECONDS = float(os.environ.get("BENCH_SERVING_SECONDS", "8"))
SHADOW_ROUNDS = int(os.environ.get("BENCH_SHADOW_ROUNDS", "8"))
# The shadow's cost is judged at a load with headroom, as a service is run: at saturation the
# primary's p99 is queueing behind the CPU, which any second model on the same cores lengthens.
LOAD_SHARE = 0.6
SATURATION_SECONDS = float(os.environ.get("BENCH_SERVING_SATURATION_SECONDS", "60"))


def registry(model, frame, folder: Path) -> dict[str, str]:
    """Register two versions of `model` in a fresh store; return the environment pointing at it."""
    env = {
        "PERENNIA_HOME": str(folder / "home"),
        "PERENNIA_TRACKING_URI": f"sqlite:///{folder / 'store.db'}",
        "PERENNIA_ARTIFACTS_URI": str(folder / "artifacts"),
    }
    os.environ.update(env)
    from perennia.registry.deployments import create_deployment
    from perennia.registry.packages import log_model
    from perennia.tracking import fluent

    for _ in range(2):
        with fluent.start_run():
            log_model(
                model,
                "model",
                signature="infer",
                input_example=frame.iloc[:5],
                registered_model_name="bench",
            )
    create_deployment("bench-api", "bench", 1)
    return env


def serve_deployment(env: dict[str, str], log: Path) -> Server:
    """Return `perennia serve --deployment bench-api` (one worker)."""
    return Server(
        [
            os.path.join(BIN, "perennia"),
            "serve",
            "--deployment",
            "bench-api",
            "--log-location",
            str(log),
        ],
        env=env,
    )


def _wait_for_variants(server: Server, count: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = httpx.get(f"{server.url}/metrics").text
        loaded = [
            line
            for line in text.splitlines()
            if line.startswith("perennia_model_loaded{") and line.endswith(" 1.0")
        ]
        if len(loaded) >= count:
            return
        time.sleep(0.1)
    raise RuntimeError("the deployment's new variants were not loaded in time")


def _pooled_p99(runs) -> float:
    latencies = sorted(x for run in runs for x in run.latencies_ms)
    return latencies[int(0.99 * len(latencies))]


def shadow_cost(env: dict[str, str], body: bytes, folder: Path) -> list[Result]:
    """Return the primary's p99 with a shadow variant against without: at 60% of capacity (the
    target) and at saturation (for the record)."""
    from perennia.registry.deployments import rollback, start_shadow

    server = serve_deployment(env, folder / "log-shadow")
    try:
        run_load("127.0.0.1", server.port, "/invocations", body, concurrency=8, seconds=1)
        capacity = run_load(
            "127.0.0.1", server.port, "/invocations", body, concurrency=8, seconds=3
        ).rps
        rate = LOAD_SHARE * capacity

        def open_loop() -> object:
            return run_rate(
                "127.0.0.1", server.port, "/invocations", body, rate=rate, seconds=SECONDS / 2
            )

        def saturated() -> object:
            return run_load(
                "127.0.0.1", server.port, "/invocations", body, concurrency=8, seconds=SECONDS / 2
            )

        def shadowed(measure) -> object:
            start_shadow("bench-api", 2)
            _wait_for_variants(server, 2)
            # The shadow's child process imports and loads its model after the server has
            # swapped: that one-off start-up is not what the shadow costs per request.
            run_load("127.0.0.1", server.port, "/invocations", body, concurrency=8, seconds=3)
            result = measure()
            rollback("bench-api")
            time.sleep(0.5)
            return result

        arms = {"open": ([], []), "saturated": ([], [])}
        # ABBA order over many rounds: on this shared machine two identical runs' p99 differ by
        # up to 10%, so a 5% effect needs both arms spread evenly over the machine's drift.
        for index in range(SHADOW_ROUNDS):
            for kind, measure in (("open", open_loop), ("saturated", saturated)):
                without, with_shadow = arms[kind]
                if index % 2 == 0:
                    without.append(measure())
                    with_shadow.append(shadowed(measure))
                else:
                    with_shadow.append(shadowed(measure))
                    without.append(measure())
    finally:
        server.stop()
    results = []
    for kind, (without, with_shadow) in arms.items():
        # p99 over every request of the rounds of each kind: a tail from tens of thousands of
        # samples moves far less with the machine's noise than a median of small-sample p99s.
        base = _pooled_p99(without)
        shadowed_p99 = _pooled_p99(with_shadow)
        added = shadowed_p99 / base - 1
        load = f"{rate:,.0f} req/s open loop ({LOAD_SHARE:.0%} of capacity)"
        if kind == "saturated":
            load = "c=8 closed loop, saturated: every request queues behind CPU; for the record"
        results.append(
            Result(
                f"shadow p99 cost ({'60% load' if kind == 'open' else 'saturated'})",
                shadowed_p99 / 1000,
                base / 1000,
                "s",
                "no shadow",
                "<= +5%" if kind == "open" else "info",
                added <= 0.05 if kind == "open" else True,
                f"primary p99 {base:.1f} ms -> {shadowed_p99:.1f} ms ({added:+.1%}); {load}",
            )
        )
    return results


def saturation_and_swap(env: dict[str, str], body: bytes, folder: Path) -> list[Result]:
    """Return the long run's errors and log count, with a blue-green switch in its middle."""
    from perennia.data.predlog import read_predictions
    from perennia.registry.deployments import switch

    log = folder / "log-saturation"
    server = serve_deployment(env, log)
    switcher = threading.Timer(SATURATION_SECONDS / 2, switch, args=("bench-api", 2))
    try:
        switcher.start()
        result = run_load(
            "127.0.0.1",
            server.port,
            "/invocations",
            body,
            concurrency=64,
            seconds=SATURATION_SECONDS,
            keep_request_ids=True,
        )
    finally:
        switcher.cancel()
        server.stop()  # SIGTERM: the server flushes its prediction log before it exits
    table = read_predictions(
        str(log), deployment="bench-api", columns=["request_id", "model_version"]
    )
    logged = table.column("request_id").to_pylist()
    sent = [r.decode() for r in result.bodies]
    exactly_once = len(logged) == len(set(logged)) == len(sent) and set(logged) == set(sent)
    versions = sorted(set(table.column("model_version").to_pylist()))
    note = (
        f"{result.requests:,} requests in {result.seconds:.0f} s at c=64 "
        f"({result.rps:,.0f} req/s), {result.errors} errors, statuses {result.statuses}; "
        f"{len(logged):,} logged rows, {len(set(logged)):,} distinct; versions served "
        f"{versions} (switched mid-run)"
    )
    # Ratios of 1.0 are the targets: every request answered, every answer logged once.
    return [
        Result(
            "saturation + hot swap: answered",
            result.requests,
            result.requests + result.errors,
            "requests",
            "requests sent",
            "0 errors",
            result.errors == 0 and 2 in versions,
            note,
        ),
        Result(
            "saturation: logged exactly once",
            len(set(logged)),
            len(sent),
            "requests",
            "requests answered",
            "all, once",
            exactly_once,
        ),
    ]


def deployment_results(model, frame, body: bytes, folder: Path) -> list[Result]:
    """Return every deployment figure for `model` (the benchmark model of bench_serving)."""
    env = registry(model, frame, folder / "registry")
    return [*shadow_cost(env, body, folder), *saturation_and_swap(env, body, folder)]


def main() -> None:
    """Run the deployment figures alone."""
    from bench_serving import save_models, train

    folder = fresh_dir("serving-deployments")
    model, frame, body = train(folder)
    save_models(model, frame, folder)
    emit(deployment_results(model, frame, body, folder))


if __name__ == "__main__":
    main()
