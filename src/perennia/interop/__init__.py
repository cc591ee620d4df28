"""Interoperation with other tools' stores: bringing an MLflow tracking store and registry in."""
