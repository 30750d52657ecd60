"""Puhui (普惠): an open digital small-loan platform.

Layers (dependencies point downwards): entry points (api/, cli.py) -> services/ -> domain/
(pure) ; adapters/ implement storage and channels. See DESIGN.md in the shared folder.
"""

__version__ = "0.1.0"
