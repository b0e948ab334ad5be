"""Human feedback: notes on candidates, a parent pick, pairwise preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.schemas.common import PlainText, ResourceId

MAX_PREFERENCES = 32


class Preference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferred: ResourceId = Field(description="the candidate whose behaviour is better")
    other: ResourceId = Field(description="the candidate it is preferred over")

    @model_validator(mode="after")
    def _distinct(self) -> Preference:
        if self.preferred == self.other:
            raise ValueError("a preference needs two different candidates")
        return self


class Judgement(BaseModel):
    """Two behaviours judged together without a winner: a tie, or both bad."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["tie", "both_bad"] = Field(
        description="tie: equally good; both_bad: neither does what the task asks"
    )
    candidates: tuple[ResourceId, ResourceId] = Field(
        description="the two candidates compared, in either order"
    )

    @model_validator(mode="after")
    def _distinct(self) -> Judgement:
        if self.candidates[0] == self.candidates[1]:
            raise ValueError(f"a {self.verdict} needs two different candidates")
        return self


class FeedbackCreate(BaseModel):
    """Feedback about one iteration; every part is optional."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "iteration": 0,
                    "text": "it hops but leans forward too far",
                    "candidate_id": "9b0e51c2aa47",
                    "parent_candidate_id": "9b0e51c2aa47",
                    "preferences": [{"preferred": "9b0e51c2aa47", "other": "41c7d0e9f3b2"}],
                    "judgements": [
                        {"verdict": "tie", "candidates": ["41c7d0e9f3b2", "d2a80c6e5f19"]}
                    ],
                    "continue": True,
                }
            ]
        },
    )

    iteration: int | None = Field(
        None, ge=0, le=10_000, description="the iteration it is about; default: the latest finished"
    )
    text: PlainText | None = Field(None, description="free text for the next prompt")
    candidate_id: ResourceId | None = Field(None, description="the candidate the text is about")
    parent_candidate_id: ResourceId | None = Field(
        None, description="the candidate the next iteration should improve on"
    )
    preferences: list[Preference] = Field(default_factory=list, max_length=MAX_PREFERENCES)
    judgements: list[Judgement] = Field(
        default_factory=list,
        max_length=MAX_PREFERENCES,
        description="comparisons without a winner: ties and pairs that are both bad",
    )
    continue_: bool = Field(
        False, alias="continue", description="end the wait of a run paused for feedback"
    )

    @model_validator(mode="after")
    def _something_to_store(self) -> FeedbackCreate:
        if self.candidate_id and not self.text:
            raise ValueError("candidate_id names the candidate a text is about; give the text")
        parts = (self.text, self.parent_candidate_id, self.preferences, self.judgements)
        if not (any(parts) or self.continue_):
            raise ValueError(
                "nothing to store: give text, parent_candidate_id, preferences, judgements "
                "or continue"
            )
        return self


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: str
    iteration_index: int
    kind: str = Field(description="text, parent, preference, tie, both_bad or continue")
    candidate_id: str | None = Field(
        description="the note's or pick's candidate; the preferred one of a preference"
    )
    other_candidate_id: str | None = Field(
        description="the less preferred candidate, or the second of a tie or both-bad pair"
    )
    text: str | None
    consumed: bool = Field(description="a prompt has carried it")
    used_in_iteration: int | None = Field(description="the iteration whose prompt carried it")
    use: str = Field(
        "",
        description="in words: used in iteration N's prompt, waiting for the next prompt, "
        "or arrived after the last prompt",
    )
    created_at: datetime


class FeedbackList(BaseModel):
    items: list[FeedbackRead]
