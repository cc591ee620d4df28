"""Serving: the inference server, its wire protocols, batching, routing and rollouts."""
