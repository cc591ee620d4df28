"""Experiment tracking: the fluent API, the Client, the batching writer and heartbeats."""
