"""Settings from the environment (PUHUI_*), with safe local defaults."""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEMO = "demo"
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigError(RuntimeError):
    pass


_DEV_SECRET = "puhui-development-only-secret"


def _dev_key(purpose: str) -> str:
    return base64.b64encode(hashlib.sha256(f"{_DEV_SECRET}:{purpose}".encode()).digest()).decode()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PUHUI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/puhui.db"
    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8000
    # field-level encryption of personal identifiers (AES-256-GCM) and their keyed look-up hash
    pii_key: str = ""
    pii_hash_key: str = ""
    token_ttl_minutes: int = 60
    otp_ttl_seconds: int = 300
    otp_per_phone_per_minute: int = 5
    otp_per_ip_per_minute: int = 10
    otp_max_attempts: int = 5
    offer_ttl_hours: int = 72
    signing_key: str = ""  # base64 of the platform's 32-byte Ed25519 private key
    bank_url: str = "http://127.0.0.1:8100"
    bank_secret: str = "demo-bank-secret"
    # how long a call to the bank channel may take before it counts as failed (the outbox keeps
    # the payout for `puhui reconcile`, which asks the bank what happened)
    bank_timeout_seconds: float = 5.0
    # "system": the calendar date in China; "eod": the day after the last completed end of day
    business_date_source: str = "system"
    # the credit model's artefact directory; empty: the demo model shipped in risk/models/demo
    model_dir: str = ""
    # Retention of personal data (PIPL Art. 19: no longer than the purpose needs), applied by
    # `puhui retention` (services/retention.py), which anonymises (never deletes) a borrower:
    # - who never had a loan (declined, abandoned, never applied): this many days after their last
    #   activity (sign-up, consent, data, application, decision, contract, sign-in)
    retention_no_loan_days: int = Field(default=365, ge=1)
    # - whose loans have all ended (closed or written off): this many years after the last loan
    #   ended or their last activity, whichever is later. The Anti-Money Laundering Law keeps
    #   customer identity data and transaction records at least five years after the relationship
    #   ends, so it cannot be set lower.
    retention_after_loans_years: int = Field(default=5, ge=5)
    # - never while a loan is open (not yet paid out, disbursing, active) or an application pending
    #   (in review, an offer or an unsigned contract still valid).
    # Sign-in records (OTP challenges, the SMS outbox, expired tokens) are deleted this many days old.
    retention_sign_in_days: int = Field(default=180, ge=1)

    @property
    def is_demo(self) -> bool:
        return self.env is Environment.DEMO

    def resolved_pii_keys(self) -> tuple[bytes, bytes]:
        """The encryption and hashing keys; development-only defaults outside production."""
        if self.env is Environment.PRODUCTION and not (self.pii_key and self.pii_hash_key):
            raise ConfigError("PUHUI_PII_KEY and PUHUI_PII_HASH_KEY must be set in production")
        enc = base64.b64decode(self.pii_key or _dev_key("pii-encryption"))
        mac = base64.b64decode(self.pii_hash_key or _dev_key("pii-hash"))
        if len(enc) != 32 or len(mac) < 32:
            raise ConfigError("PUHUI_PII_KEY must be 32 bytes and PUHUI_PII_HASH_KEY at least 32, base64-encoded")
        return enc, mac


def resolved_signing_key(settings: Settings) -> bytes:
    if settings.env is Environment.PRODUCTION and not settings.signing_key:
        raise ConfigError("PUHUI_SIGNING_KEY must be set in production")
    key = base64.b64decode(settings.signing_key or _dev_key("contract-signing"))
    if len(key) != 32:
        raise ConfigError("PUHUI_SIGNING_KEY must be 32 bytes, base64-encoded")
    return key


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
