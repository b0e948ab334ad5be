"""All settings in one place: environment variables prefixed REWARDFORGE_, or .env."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
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
    llm_allowed_base_urls: str | None = Field(
        None,
        description="comma-separated LLM endpoints a run may name besides REWARDFORGE_LLM_BASE_URL "
        "(scheme://host[:port][/path]; port * takes any port; no path takes any path)",
    )

    executor: Literal["local", "ray"] = "local"
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    ray_address: str | None = None
    ray_cpus_per_candidate: float = Field(1.0, description="CPUs Ray reserves per candidate")
    ray_gpus_per_candidate: float = Field(
        0.0, description="GPU fraction Ray reserves per candidate whose device is not cpu"
    )
    ray_max_retries: int = Field(
        3, description="times a candidate is retried when its Ray worker or node dies"
    )
    ray_artifact_max_mb: float = Field(
        256.0, description="cap on the files one candidate sends back from a Ray node"
    )
    candidate_deadline_s: float = 3600.0
    sandbox_level: Literal["auto", "bwrap", "unshare", "rlimits"] = Field(
        "auto", description="kernel isolation of sandboxes; auto takes the strongest available"
    )
    sandbox_memory_mb: int = Field(
        6144, ge=512, description="address-space cap of each sandbox process (RLIMIT_AS)"
    )
    sandbox_file_size_mb: int = Field(
        2048, ge=1, description="largest file a sandbox may write (RLIMIT_FSIZE)"
    )
    sandbox_disk_mb: int = Field(
        8192,
        ge=16,
        description="what one sandbox may leave on disk in all (policy, checkpoints with a "
        "replay buffer, statistics, video, logs); past it the sandbox is killed",
    )
    sandbox_max_processes: int = Field(
        512, ge=32, description="processes and threads per sandbox (pids cgroup or RLIMIT_NPROC)"
    )
    heartbeat_timeout_s: float = 120.0
    sandbox_nice: int = Field(
        19,
        ge=0,
        le=19,
        description="CPU niceness of sandboxes: the API and workers come first, training "
        "takes the CPU time they leave",
    )
    sandbox_idle_class: bool = Field(
        True,
        description="run sandboxes in the kernel's idle scheduling class (SCHED_IDLE): a "
        "request that wakes takes the CPU from training at once, where niceness alone lets "
        "training finish its time slice first, at every wake-up of every query",
    )

    api_token: str | None = Field(None, description="comma-separated accepted bearer tokens")
    allowed_hosts: str | None = Field(
        None,
        description="comma-separated Host names the server answers besides localhost, "
        "127.0.0.1 and [::1] (name or name:port; * answers any Host)",
    )
    db_pool_size: int = Field(20, ge=1, description="database connections the API keeps open")
    db_max_overflow: int = Field(
        20, ge=0, description="connections the API may open beyond db_pool_size under load"
    )
    db_pool_timeout_s: float = Field(
        30.0, gt=0, description="how long a request waits for a free connection before a 503"
    )
    lease_seconds: float = 30.0
    api_threads: int = Field(
        8,
        ge=1,
        le=200,
        description="threads the API runs its database routes in: a few answer a crowd in "
        "arrival order, where anyio's default 40 take turns at the GIL in no order",
    )
    loop_stall_warning_ms: float = Field(
        500,
        ge=0,
        description="log a warning, with every thread's stack, when the API's event loop is "
        "blocked this long (0: off)",
    )

    @field_validator("api_token")
    @classmethod
    def _some_token_or_none(cls, value: str | None) -> str | None:
        # "," would otherwise count as set (passing the bind guard) yet accept no token,
        # which leaves every mutating route open.
        if value is None or not value.strip():
            return None
        if not any(part.strip() for part in value.split(",")):
            raise ValueError(
                "REWARDFORGE_API_TOKEN holds only separators, no token: set one or more "
                "comma-separated tokens, or leave it unset"
            )
        return value

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
