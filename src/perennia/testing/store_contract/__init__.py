"""The store contract: one test module per part of `Store`, run against the `store` fixture.

`MODULES` lists them so a suite can import every test (see tests/store/test_store_contract.py).
"""

MODULES = (
    "test_experiments",
    "test_runs",
    "test_metrics",
    "test_metric_downsampling",
    "test_params_tags",
    "test_search_runs",
    "test_search_pages",
    "test_registry",
    "test_model_cards",
    "test_deployments",
    "test_registry_deployments",
    "test_datasets",
    "test_monitors",
    "test_monitor_leases",
    "test_alerts",
    "test_automation",
)
