"""All settings in one place: environment variables prefixed REWARDFORGE_, or .env."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REWARDFORGE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(Path("data"), description="SQLite file and run artifacts live here")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/rewardforge.db"
    )

    llm_model: str | None = Field(None, description="model name; none configured -> offline")
    llm_base_url: str | None = Field(None, description="any OpenAI-compatible endpoint")
    llm_api_key: str | None = Field(None, description="falls back to OPENAI_API_KEY")
    llm_timeout_s: float = 120.0
    llm_max_retries: int = 4
    llm_temperature: float = 1.0
    llm_price_in_per_mtok: float = 0.0  # USD per million prompt tokens, for the cost column
    llm_price_out_per_mtok: float = 0.0

    executor: Literal["local", "ray"] = "local"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    ray_address: str | None = None
    candidate_deadline_s: float = 3600.0
    heartbeat_timeout_s: float = 120.0

    api_token: str | None = Field(None, description="comma-separated accepted bearer tokens")
    lease_seconds: float = 30.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rewardforge.db').resolve()}"

    @property
    def artifacts_dir(self) -> Path:
        return (self.data_dir / "artifacts").resolve()

    @property
    def resolved_llm_api_key(self) -> str | None:
        return self.llm_api_key or os.environ.get("OPENAI_API_KEY")


@lru_cache
def get_settings() -> Settings:
    return Settings()
