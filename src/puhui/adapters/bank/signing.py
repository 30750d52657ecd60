"""HMAC-SHA256 signatures for bank-channel messages (header `X-Signature: sha256=<hex>`)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a signature header against the raw body."""
    if not signature or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), signature)
