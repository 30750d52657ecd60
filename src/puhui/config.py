"""Settings from the environment (PUHUI_*), with safe local defaults."""

from __future__ import annotations

from enum import StrEnum

from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEMO = "demo"
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PUHUI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/puhui.db"
    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8000


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
