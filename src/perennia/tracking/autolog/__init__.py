"""Autologging integrations: patch a framework so training is tracked without extra code."""
