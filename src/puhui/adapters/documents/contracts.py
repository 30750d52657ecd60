"""Render the loan contract and sign it. The stored HTML is the contract of record: its SHA-256
is signed with the platform's Ed25519 key, so any later change to the stored document is found."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html"]), undefined=StrictUndefined
)


def render_contract(context: dict[str, Any]) -> str:
    return _env.get_template("contract.html").render(**context)


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class ContractSigner:
    def __init__(self, private_key: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(private_key)
        self.public_key = self._key.public_key()

    def sign(self, digest_hex: str) -> str:
        return base64.b64encode(self._key.sign(digest_hex.encode())).decode()

    def verify(self, digest_hex: str, signature_b64: str) -> bool:
        try:
            self.public_key.verify(base64.b64decode(signature_b64), digest_hex.encode())
        except (InvalidSignature, ValueError):
            return False
        return True
