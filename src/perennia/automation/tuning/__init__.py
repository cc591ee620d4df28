"""Tuning on Optuna, in small parts: arguments, search spaces, storages, trial runs, the study run.

The public entry point is `perennia.automation.tune.tune`; these modules are its machinery.
"""
