"""The floor every layer may import: small, dependency-light helpers (the report kit, conversions).

Nothing here imports another Perennia package; heavy libraries are imported inside functions.
"""
