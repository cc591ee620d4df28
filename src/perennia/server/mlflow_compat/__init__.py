"""MLflow's REST API (`/api/2.0/mlflow/...`, `/api/2.0/mlflow-artifacts/...`) over our store.

`shapes.py` translates MLflow's JSON to and from the shared entities; `tracking.py` and
`artifacts.py` are thin routes. Nothing here knows SQL; everything goes through the store.
"""
