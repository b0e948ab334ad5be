"""The static gate for candidate reward code: cheap, run in the service, and
written for the LLM to read.

It is the first layer, not the security boundary (the sandbox is): its job is
to turn common mistakes into messages the next prompt can show, before any
process starts. The smoke test on real states runs inside the sandbox. It is,
though, the only check between the best reward and a user who exports it and
runs it outside any sandbox, so it refuses every route from numpy (or torch)
to files, native libraries, URLs and other modules.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from sandbox.spec import RewardBackend

ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "numpy": frozenset({"numpy", "math"}),
    "torch": frozenset({"numpy", "math", "torch"}),
}
_FILES = "it reads or writes files"
_PYTHON = "a Python module numpy or torch imports; reward code needs none"
_PYTHON_MODULES = """
    os sys builtins subprocess importlib inspect operator types ast warnings functools
    itertools collections contextlib abc numbers re textwrap pickle io pathlib shutil
    tempfile socket urllib mmap threading signal platform sysconfig
"""
# Attribute names reward code may not reach, with what each reaches. The gate
# cannot know an object's type, so a name is refused whatever it is read from
# (np.load, n.load, x.load alike), as an imported name (from numpy import load)
# and as part of a dotted import (import numpy.ctypeslib). Builtins refused by
# name (FORBIDDEN_CALLS) are refused as attributes too (builtins.eval).
# tests/evolution/test_validate.py walks numpy's public modules and fails when
# a numpy release exposes a route that is missing here.
FORBIDDEN_ATTRIBUTES: dict[str, str] = {
    # numpy: native libraries, compilers, raw memory
    "ctypeslib": "it loads native libraries",
    "ctypes": "it hands out raw pointers and ctypes",
    "cffi": "it hands out raw pointers and cffi",
    "as_strided": "it forges views of arbitrary memory",
    "f2py": "it compiles and imports extensions",
    "distutils": "it builds and loads extensions",
    "testing": "it builds extensions and starts processes",
    "tests": "numpy's own test modules",
    "testutils": "numpy's own test helpers",
    "conftest": "numpy's own test configuration",
    "mypy_plugin": "it imports mypy",
    "show_config": "it inspects the installation",
    "show_runtime": "it inspects the loaded native libraries",
    # numpy: files, URLs and pickles
    "lib": "it reaches npyio, format, DataSource and stride tricks",
    "npyio": _FILES,
    "DataSource": "it opens files and URLs",
    "load": _FILES + " and may unpickle",
    "loads": "it unpickles",
    "save": _FILES,
    "savez": _FILES,
    "savez_compressed": _FILES,
    "loadtxt": _FILES,
    "savetxt": _FILES,
    "genfromtxt": _FILES,
    "fromfile": _FILES,
    "tofile": _FILES,
    "fromregex": _FILES,
    "fromtextfile": _FILES,
    "openfile": _FILES,
    "memmap": "it maps files into memory",
    "open_memmap": "it maps files into memory",
    "mrecords": "it reads text files",
    "dump": "it pickles to files",
    "dumps": "it pickles",
    # torch: files, native extensions, compilers, other processes
    "from_file": _FILES,
    "hub": "it downloads and runs code",
    "jit": "it compiles code; drop the decorator, compute_reward already runs once per "
    "step on the batch",
    "compile": "it compiles code",
    "ops": "it reaches native extensions",
    "library": "it loads native extensions",
    "classes": "it reaches native extensions",
    "utils": "it reaches files, native extensions and processes",
    "backends": "it changes process-wide settings",
    "multiprocessing": "it starts processes",
    "distributed": "it opens network connections",
    "package": "it imports packaged code",
    "cuda": "compute on the tensors you are given, on their device",
    # Python modules that numpy's modules expose as attributes (and their kin)
    **dict.fromkeys(_PYTHON_MODULES.split(), _PYTHON),
}
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
    try:
        size = len(code.encode())
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"the code holds a character that is not text (at position {exc.start}); "
            "write plain UTF-8 source"
        ) from None
    if size > MAX_CODE_BYTES:
        raise ValidationError(f"the code is {size} bytes; keep it under {MAX_CODE_BYTES} bytes")
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ValidationError(f"syntax error at line {exc.lineno}: {exc.msg}") from None
    problems: list[str] = []
    imports: list[str] = []
    aliases = _import_aliases(tree)
    for node in ast.walk(tree):
        problems.extend(_import_problems(node, imports, backend))
        problems.extend(_name_problems(node, aliases))
    functions = tuple(n.name for n in tree.body if isinstance(n, ast.FunctionDef))
    problems.extend(_entry_point_problems(tree))
    if problems:
        raise ValidationError("\n".join(dict.fromkeys(problems)))
    return GateReport(functions=functions, imports=tuple(imports), lines=code.count("\n") + 1)


def _import_problems(node: ast.AST, imports: list[str], backend: RewardBackend) -> list[str]:
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        names: list[str] = []
    elif isinstance(node, ast.ImportFrom):
        modules = [node.module or "."]
        names = [alias.name for alias in node.names]
    else:
        return []
    problems = []
    allowed = ALLOWED_IMPORTS[backend]
    for module in modules:
        imports.append(module)
        if module.split(".")[0] not in allowed:
            hint = "; torch needs the run option reward_backend=torch" if module == "torch" else ""
            only = ", ".join(sorted(allowed))
            problems.append(f"line {line}: import of {module!r} is not allowed (only {only}){hint}")
            continue
        root, *parts = module.split(".")
        problems.extend(_attribute_problems(line, root, parts))
    if "*" in names:
        problems.append(f"line {line}: from {modules[0]} import * is not allowed; import the names")
    problems.extend(_attribute_problems(line, modules[0], [n for n in names if n != "*"]))
    return problems


def _name_problems(node: ast.AST, aliases: dict[str, str]) -> list[str]:
    line = getattr(node, "lineno", "?")
    if isinstance(node, ast.Attribute):
        return _attribute_problems(line, _owner(node.value, aliases), [node.attr])
    problems = []
    if isinstance(node, ast.Name) and node.id.startswith("__") and node.id != "__name__":
        problems.append(f"line {line}: the name {node.id} is not allowed")
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_CALLS:
        problems.append(f"line {line}: {node.id} is not allowed in reward code")
    if isinstance(node, ast.Global | ast.Nonlocal):
        problems.append(f"line {line}: global/nonlocal state is not allowed; rewards are pure")
    return problems


def _attribute_problems(line: object, owner: str, names: list[str]) -> list[str]:
    """The one rule for every attribute reached: in code, in an import, in a dotted module."""
    problems = []
    for name in names:
        if name.startswith("__"):
            problems.append(f"line {line}: dunder attribute access ({name}) is not allowed")
        elif name.startswith("_"):
            problems.append(f"line {line}: private attribute access ({name}) is not allowed")
        elif name in FORBIDDEN_ATTRIBUTES:
            why = FORBIDDEN_ATTRIBUTES[name]
            problems.append(f"line {line}: {owner}'s {name} is not allowed in reward code: {why}")
        elif name in FORBIDDEN_CALLS:
            problems.append(f"line {line}: {owner}'s {name} is not allowed in reward code")
        owner = f"{owner}.{name}"
    return problems


def _import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module path it stands for (``n`` -> ``numpy``), for messages."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    aliases[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _owner(node: ast.expr, aliases: dict[str, str]) -> str:
    """What an attribute is read from, as a dotted path where it is one (``numpy.lib``)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return f"{_owner(node.value, aliases)}.{node.attr}"
    return "an object"


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
