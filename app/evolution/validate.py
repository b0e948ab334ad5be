"""The static gate for candidate reward code: cheap, run in the service, and
written for the LLM to read.

It is the first layer, not the security boundary (the sandbox is): its job is
to turn common mistakes into messages the next prompt can show, before any
process starts. The smoke test on real states runs inside the sandbox.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from sandbox.spec import RewardBackend

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "numpy": frozenset({"numpy", "math"}),
    "torch": frozenset({"numpy", "math", "torch"}),
}
# Parts of torch that reach files, native extensions, compilers or other
# processes: reward code computes on the tensors it is given and needs none.
FORBIDDEN_TORCH_ATTRIBUTES = frozenset(
    {
        "load",
        "save",
        "hub",
        "jit",
        "compile",
        "ops",
        "library",
        "classes",
        "utils",
        "backends",
        "multiprocessing",
        "distributed",
        "package",
        "from_file",
        "cuda",
    }
)
FORBIDDEN_CALLS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "open",
        "__import__",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "memoryview",
    }
)
MAX_CODE_BYTES = 20_000
ENTRY_POINT = "compute_reward"
EXPECTED_ARGS = ("state", "action")


class ValidationError(ValueError):
    """The code breaks the reward contract; the message is shown to the LLM."""


@dataclass(frozen=True)
class GateReport:
    functions: tuple[str, ...]
    imports: tuple[str, ...]
    lines: int


def check_code(code: str, backend: RewardBackend = "numpy") -> GateReport:
    """Check size, syntax, imports, forbidden names and the entry point.

    ``backend`` is the run's reward backend: ``"torch"`` also admits ``import torch``.

    Raises ValidationError with every problem found, one per line.
    """
    if len(code.encode()) > MAX_CODE_BYTES:
        raise ValidationError(
            f"the code is {len(code.encode())} bytes; keep it under {MAX_CODE_BYTES} bytes"
        )
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ValidationError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    problems: list[str] = []
    imports: list[str] = []
    for node in ast.walk(tree):
        problems.extend(_node_problems(node, imports, backend))
    functions = tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    problems.extend(_entry_point_problems(tree))
    if problems:
        raise ValidationError("\n".join(dict.fromkeys(problems)))
    return GateReport(functions=functions, imports=tuple(imports), lines=code.count("\n") + 1)


def _node_problems(node: ast.AST, imports: list[str], backend: RewardBackend) -> list[str]:
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or "."]
    else:
        names = []
    problems = []
    allowed = ALLOWED_IMPORTS[backend]
    for name in names:
        imports.append(name)
        if name.split(".")[0] not in allowed:
            hint = "; torch needs the run option reward_backend=torch" if name == "torch" else ""
            only = ", ".join(sorted(allowed))
            problems.append(f"line {line}: import of {name!r} is not allowed (only {only}){hint}")
    if backend == "torch":
        problems.extend(_torch_problems(node, line))
    if isinstance(node, ast.Attribute) and node.attr.startswith("__"):
        problems.append(f"line {line}: dunder attribute access ({node.attr}) is not allowed")
    if isinstance(node, ast.Name) and node.id.startswith("__") and node.id != "__name__":
        problems.append(f"line {line}: the name {node.id} is not allowed")
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
        problems.append(f"line {line}: {node.id} is not allowed in reward code")
    if isinstance(node, ast.Global | ast.Nonlocal):
        problems.append(f"line {line}: global/nonlocal state is not allowed; rewards are pure")
    return problems


def _torch_problems(node: ast.AST, line: object) -> list[str]:
    if isinstance(node, ast.Attribute):
        names = [node.attr]
    elif isinstance(node, ast.ImportFrom):
        names = [alias.name for alias in node.names]
    else:
        return []
    problems = []
    for name in names:
        if name in FORBIDDEN_TORCH_ATTRIBUTES:
            hint = (
                "; drop the decorator, compute_reward already runs once per step on the batch"
                if name == "jit"
                else "; compute on the tensors you are given, on their device"
            )
            problems.append(f"line {line}: torch's {name} is not allowed in reward code{hint}")
        elif name.startswith("_") and not name.startswith("__"):
            problems.append(f"line {line}: private attribute access ({name}) is not allowed")
    return problems


def _entry_point_problems(tree: ast.Module) -> list[str]:
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == ENTRY_POINT]
    if not found:
        return [f"no top-level function named {ENTRY_POINT}(state, action) was found"]
    fn = found[-1]
    args = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if tuple(args[:2]) != EXPECTED_ARGS or len(args) - len(fn.args.defaults) > 2:
        return [
            f"{ENTRY_POINT} must take (state, action) and nothing else required; "
            f"it takes ({', '.join(args)})"
        ]
    if not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn)):
        return [f"{ENTRY_POINT} never returns (total, components)"]
    return []
