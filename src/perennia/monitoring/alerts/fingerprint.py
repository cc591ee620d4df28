"""Alert fingerprints computed exactly as Prometheus and Alertmanager compute them."""

from __future__ import annotations

from collections.abc import Mapping

_OFFSET = 14695981039346656037  # FNV-1a 64-bit offset basis
_PRIME = 1099511628211
_MASK = 2**64 - 1
_SEPARATOR = 0xFF  # model.SeparatorByte: never valid UTF-8, so "a"+"bc" and "ab"+"c" differ


def label_signature(labels: Mapping[str, str]) -> int:
    """Return the 64-bit FNV-1a hash of the label set (prometheus/common `LabelsToSignature`)."""
    value = _OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8") + bytes((_SEPARATOR,)):
                value = ((value ^ byte) * _PRIME) & _MASK
    return value


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return the label set's fingerprint as 16 hex digits, as Alertmanager shows it."""
    # Alertmanager identifies an alert by its label set alone; the rule's name is in it as
    # `alertname`, so two rules never share a fingerprint and a rule keeps its own.
    return f"{label_signature(labels):016x}"
