"""Automation: pipelines of cached steps, cron schedules, Optuna tuning, the retraining loop.

Heavy libraries (optuna, croniter, ray) load only inside the functions that use them.
"""
