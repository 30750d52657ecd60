"""`puhui simulate`: seeded micro and small enterprises, individual businesses and individuals."""

from __future__ import annotations


def simulate() -> None:
    """Simulate borrowers and 24 months of their alternative data (not built yet)."""
    raise SystemExit("puhui simulate is not built yet")
