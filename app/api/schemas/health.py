"""Liveness and readiness."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str = "ok"


class Readiness(BaseModel):
    status: str = Field(description="ready, or not_ready with the reason in detail")
    database: str = Field(description="ok, or the error reaching it")
    revision: str | None = Field(description="the schema revision the database is at")
    head: str | None = Field(description="the newest revision the migrations know")
    workers: dict[str, str] = Field(
        default_factory=dict,
        description="each worker in this process (rewardforge serve): ok, or why it is not "
        "working; empty when the process runs none",
    )
    detail: str | None = None
