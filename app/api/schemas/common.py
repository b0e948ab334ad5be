"""Types every resource's schemas share: ids, safe text, pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field, StringConstraints

ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
MAX_TEXT_CHARS = 4000
MAX_PAGE = 200
MAX_OFFSET = 1_000_000_000
MAX_EVENT_ID = 2**31 - 1  # events.id is a 32-bit integer column on Postgres


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL; refusing it here keeps the error a 422.
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


ResourceId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    Field(
        description="a run or candidate id: 1-32 letters, digits, '_' or '-'",
        examples=["3f2a9c1d7b4e"],
    ),
]
"""An id in a request body."""

PlainText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(_no_nul),
]
"""Free text a person typed: trimmed, not empty, any characters but NUL."""

RunIdPath = Annotated[
    str, Path(pattern=ID_PATTERN, description="the run's id", examples=["3f2a9c1d7b4e"])
]
CandidateIdPath = Annotated[
    str, Path(pattern=ID_PATTERN, description="the candidate's id", examples=["9b0e51c2aa47"])
]


class Page(BaseModel):
    """Where a page of a longer list starts and how long it is."""

    total: int = Field(description="how many items match the filters in all")
    limit: int = Field(description="the most items one page holds")
    offset: int = Field(description="how many matching items come before this page")


class ErrorMessage(BaseModel):
    """Every 4xx carries a sentence saying what went wrong."""

    detail: str = Field(examples=["no run with id '3f2a9c1d7b4e'"])


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI entries for the error codes a route answers with."""
    meaning = {
        401: "missing or wrong bearer token",
        404: "no such run or candidate",
        409: "not allowed in the run's current state",
        413: "request body too large",
    }
    # Inline and always JSON: routes that stream or send files answer errors in JSON too.
    content = {"application/json": {"schema": ErrorMessage.model_json_schema()}}
    return {code: {"description": meaning[code], "content": content} for code in codes}
