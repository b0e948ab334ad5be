"""Reading the CLI's error panel in tests."""

from __future__ import annotations

import re


def flat(text: str) -> str:
    """The CLI's error panel as one line: no box drawing, no wrapping."""
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())
