"""Find the reward code in a model's answer, and give code an identity.

Models wrap code in prose, write several blocks (a draft, a fix, a usage
example), split helpers into their own block, forget the fence or its language
tag, think aloud in ``<think>`` sections, and mix tabs into indentation.
``extract_code`` takes the block that defines ``compute_reward``, adds the
helpers it calls from other blocks, and refuses clearly when there is none.
``code_hash`` identifies code up to comments, docstrings and formatting, so
identical candidates are trained once.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
import textwrap
from dataclasses import dataclass

ENTRY_POINT = "compute_reward"
NO_CODE_MESSAGE = f"the response contains no Python code defining {ENTRY_POINT}"

_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "numpy"}
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\n`]*)\n"
    r"(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_DEFINES_ENTRY = re.compile(rf"^[ \t]*def[ \t]+{ENTRY_POINT}[ \t]*\(", re.MULTILINE)
_THINKING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_THINKING_END = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_THINKING_START = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_CODE_START = re.compile(
    r"^(?:def |async def |import |from [\w.]+ import |@|class |[A-Z_][A-Z0-9_]* *=)"
)
_IMPLICIT_IMPORTS = {"np": "import numpy as np", "numpy": "import numpy", "math": "import math"}
_BUILTINS = set(dir(builtins))


class ExtractionError(ValueError):
    """The response holds no usable reward code; the message says why."""


@dataclass(frozen=True)
class _Block:
    code: str
    tree: ast.Module | None  # None when the block does not parse

    @property
    def defines_entry(self) -> bool:
        return bool(_DEFINES_ENTRY.search(self.code))


def extract_code(text: str) -> str:
    """The Python source of the reward function in a model's response.

    Prefers the last fenced block that defines ``compute_reward`` (models revise
    drafts downwards), prepends helper functions, constants and imports it uses
    from the response's other blocks, and adds ``import numpy as np`` /
    ``import math`` when the code uses them without importing them.

    Raises ExtractionError when no code defining ``compute_reward`` is found.
    """
    if not text or not text.strip():
        raise ExtractionError("the response is empty")
    cleaned = _drop_thinking(_plain(text))
    blocks = _fenced_blocks(cleaned) or _unfenced_blocks(cleaned)
    defining = [b for b in blocks if b.defines_entry]
    if not defining:
        raise ExtractionError(_no_entry_message(blocks))
    parsed = [b for b in defining if b.tree is not None]
    chosen = parsed[-1] if parsed else defining[-1]
    if chosen.tree is None:
        # Unparseable code is still returned: the validator reports the syntax error
        # with its line, which tells the model more than a refusal here.
        return chosen.code.strip() + "\n"
    others = [b for b in blocks if b is not chosen and b.tree is not None]
    code = _without_main_guard(chosen.code, chosen.tree)
    return _with_dependencies(code, others).strip() + "\n"


def normalize_code(code: str) -> str:
    """``code`` without comments, docstrings and formatting (raises SyntaxError)."""
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if _is_docstring(node.body[0] if node.body else None):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def code_hash(code: str) -> str:
    """sha256 of the normalized code; code that does not parse is hashed by its
    stripped lines, so every candidate gets an identity."""
    try:
        canonical = normalize_code(code)
    except (SyntaxError, ValueError):
        canonical = "\n".join(line.rstrip() for line in code.strip().splitlines())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _plain(text: str) -> str:
    """Unix newlines, and no-break or zero-width spaces (pasted from chat UIs)
    that Python refuses in code."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u00a0", " ").replace("\u200b", "")


def _is_docstring(node: ast.stmt | None) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _drop_thinking(text: str) -> str:
    text = _THINKING.sub("", text)
    closing = list(_THINKING_END.finditer(text))
    if closing:  # some servers strip the opening tag and leave only the closing one
        text = text[closing[-1].end() :]
    opening = _THINKING_START.search(text)
    if opening:  # cut off while thinking: what follows is unfinished reasoning
        text = text[: opening.start()]
    return text


def _fenced_blocks(text: str) -> list[_Block]:
    blocks = []
    for match in _FENCE.finditer(text):
        words = match["tag"].strip().lower().split()
        tag = words[0].strip("{.}") if words else ""
        body = match["body"]
        if tag in _PYTHON_TAGS or _DEFINES_ENTRY.search(body):
            blocks.append(_block(textwrap.dedent(body.expandtabs(4))))
    return blocks


def _unfenced_blocks(text: str) -> list[_Block]:
    lines = text.expandtabs(4).split("\n")
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return []
    return [_block(_strip_prose_lines(lines[start:]))]


def _strip_prose_lines(lines: list[str]) -> str:
    """Drop unindented prose lines around and between unfenced code."""
    lines = list(lines)
    for _ in range(len(lines)):
        try:
            ast.parse("\n".join(lines))
            break
        except SyntaxError as exc:
            index = min((exc.lineno or len(lines)) - 1, len(lines) - 1)
            line = lines[index]
            if line[:1].isspace() or _CODE_START.match(line):
                break  # broken code rather than prose: leave it for the validator
            del lines[index]
    return "\n".join(lines)


def _block(code: str) -> _Block:
    try:
        tree: ast.Module | None = ast.parse(code)
    except SyntaxError:
        tree = None
    return _Block(code=code, tree=tree)


def _no_entry_message(blocks: list[_Block]) -> str:
    names = sorted(
        {
            node.name
            for block in blocks
            if block.tree is not None
            for node in ast.walk(block.tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    )
    if names:
        return f"{NO_CODE_MESSAGE} (it defines {', '.join(names)} instead)"
    return NO_CODE_MESSAGE


def _without_main_guard(code: str, tree: ast.Module) -> str:
    """Drop ``if __name__ == "__main__":`` demos, which call the function at import."""
    lines = code.split("\n")
    for node in reversed(tree.body):
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            del lines[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


def _with_dependencies(code: str, others: list[_Block]) -> str:
    """Prepend the definitions from other blocks that ``code`` needs, transitively."""
    definitions = _top_level_definitions(others)
    picked: set[tuple[bool, int, str]] = set()
    while True:
        program = "\n\n".join([*(source for *_, source in sorted(picked)), code])
        missing = _free_names(program)
        new = {definitions[name] for name in missing if name in definitions} - picked
        if not new:
            break
        picked |= new
    imports = [_IMPLICIT_IMPORTS[name] for name in sorted(missing & _IMPLICIT_IMPORTS.keys())]
    return "\n\n".join([*imports, program])


def _top_level_definitions(blocks: list[_Block]) -> dict[str, tuple[bool, int, str]]:
    """name -> (not an import, position, source) of its top-level definition;
    imports sort first, and a later block's definition wins."""
    definitions: dict[str, tuple[bool, int, str]] = {}
    position = 0
    for block in blocks:
        assert block.tree is not None
        for node in block.tree.body:
            position += 1
            names = _names_defined_by(node)
            source = ast.get_source_segment(block.code, node)
            if source is None or ENTRY_POINT in names:
                continue
            is_import = isinstance(node, ast.Import | ast.ImportFrom)
            for name in names:
                definitions[name] = (not is_import, position, source)
    return definitions


def _names_defined_by(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _bound_names(source: str) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.stmt):
            bound |= _names_defined_by(node)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _free_names(source: str) -> set[str]:
    """Names read but never bound in ``source`` (an over-approximation of scope)."""
    loaded = {
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return loaded - _bound_names(source) - _BUILTINS
