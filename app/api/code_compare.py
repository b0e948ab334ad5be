"""Reward code side by side: both sides through ``ast.unparse`` before the diff, so
quotes, spacing, line breaks and comments never count as changed lines."""

from __future__ import annotations

import ast
import difflib


def normalized_code(code: str) -> tuple[str, bool]:
    """(the code as ``ast.unparse`` writes it, True), or (the code as it is, False)
    when it does not parse."""
    try:
        return ast.unparse(ast.parse(code)) + "\n", True
    except (SyntaxError, ValueError, RecursionError):
        return code, False


def formatting_free_diff(old: str, new: str, *, old_name: str, new_name: str) -> str:
    """Unified diff of ``old`` to ``new`` after normalising both."""
    lines = difflib.unified_diff(
        normalized_code(old)[0].splitlines(keepends=True),
        normalized_code(new)[0].splitlines(keepends=True),
        fromfile=old_name,
        tofile=new_name,
    )
    return "".join(lines)
