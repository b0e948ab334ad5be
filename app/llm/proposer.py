"""The one interface every source of reward code implements.

A proposer turns a rendered prompt into K responses (markdown text with a
Python block, or an error). The LLM client reads the parent from the messages;
the offline proposer, which reads no prose, gets the parent's code directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LLMResponse:
    """One sample: the response text, or why there is none.

    Exactly one of ``text`` and ``error`` is set. ``cached`` is true when the
    text was answered from the store of earlier calls instead of the network.
    """

    text: str | None = None
    error: str | None = None
    cached: bool = False

    def __post_init__(self) -> None:
        if (self.text is None) == (self.error is None):
            raise ValueError("an LLMResponse holds either text or an error")


class Proposer(Protocol):
    """Anything that writes K candidate reward functions for one iteration."""

    def propose(
        self,
        *,
        messages: list[dict[str, str]],
        n: int,
        iteration: int,
        seed: int,
        parent_code: str | None = None,
    ) -> list[LLMResponse]:
        """Exactly ``n`` responses, in sample order; failures are error responses."""
        ...
