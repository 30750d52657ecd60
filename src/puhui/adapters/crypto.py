"""Field-level protection of personal identifiers: AES-256-GCM encryption and a keyed hash.

Ciphertexts are `v1:<base64(nonce | ciphertext+tag)>`; the keyed hash (HMAC-SHA256) lets a value
be found (e.g. a borrower by phone) without storing it in plaintext or decrypting every row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class PiiCipher:
    def __init__(self, encryption_key: bytes, hash_key: bytes) -> None:
        self._aead = AESGCM(encryption_key)
        self._hash_key = hash_key

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt; `context` (e.g. "borrower.phone") is bound as associated data."""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        version, _, payload = token.partition(":")
        if version != _VERSION:
            raise ValueError("unknown ciphertext version")
        raw = base64.b64decode(payload)
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()

    def lookup_hash(self, value: str, context: str) -> str:
        return hmac.new(self._hash_key, f"{context}:{value}".encode(), hashlib.sha256).hexdigest()


def secret_hash(value: str) -> str:
    """Unkeyed SHA-256 for high-entropy secrets (bearer tokens, API keys)."""
    return hashlib.sha256(value.encode()).hexdigest()
