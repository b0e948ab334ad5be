"""Write a genome as reward code, and read a genome back from that code.

The code keeps every weight and temperature in a named constant (``W_*``,
``T_*``) and each component in one assignment, so the next iteration can read
the parent's genome from its code alone.
"""

from __future__ import annotations

import ast
import re

from app.llm.offline_genome import Gene, Genome, Transform
from sandbox.spec import RewardBackend

_HELPER = "_per_env"
# The card's terms are numpy expressions over a small vocabulary (np.square,
# np.sum(..., axis=-1), np.cos, ...) whose torch twins share the names; the
# torch backend renders them with these substitutions and reads them back.
_TO_TORCH = ((re.compile(r"\bnp\."), "torch."), (re.compile(r"\baxis="), "dim="))
_TO_NUMPY = ((re.compile(r"\btorch\."), "np."), (re.compile(r"\bdim="), "axis="))
_HELPERS = {
    "numpy": (
        "import numpy as np",
        "batch",
        "state[{var!r}].shape[0]",
        f"def {_HELPER}(value, batch: int) -> np.ndarray:",
        '    """``value`` as a float array of shape (batch,)."""',
        "    return np.broadcast_to(np.asarray(value, dtype=np.float64), (batch,))",
    ),
    "torch": (
        "import torch",
        "like",
        "state[{var!r}]",
        f"def {_HELPER}(value, like: torch.Tensor) -> torch.Tensor:",
        '    """``value`` as a float tensor of shape (B,) on the device of ``like``."""',
        "    value = torch.as_tensor(value, dtype=torch.float32, device=like.device)",
        "    return value.broadcast_to(like.shape[:1])",
    ),
}


def _translate(text: str, rules: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def numpy_to_torch(text: str) -> str:
    """A card expression (numpy over the card's term vocabulary) written in torch."""
    return _translate(text, _TO_TORCH)


def render_code(genome: Genome, batch_var: str, backend: RewardBackend = "numpy") -> str:
    """A complete module defining ``compute_reward`` for ``genome``.

    ``batch_var`` names a state variable whose first dimension is the batch;
    ``backend`` says whether the code computes with numpy or torch.
    """
    module_import, ref, ref_value, *helper = _HELPERS[backend]
    constants = []
    for gene in genome:
        constants.append(f"W_{gene.name.upper()} = {gene.weight!r}")
        if gene.transform != "linear":
            constants.append(f"T_{gene.name.upper()} = {gene.temperature!r}")
    body = [f"    {ref} = {ref_value.format(var=batch_var)}"]
    body += [f"    {gene.name} = {_component(gene, ref)}" for gene in genome]
    names = [gene.name for gene in genome]
    parts = ", ".join(f"{name!r}: {name}" for name in names)
    body += [f"    total = {' + '.join(names)}", f"    return total, {{{parts}}}"]
    imports = [module_import]
    if any("math." in gene.expression for gene in genome):
        imports.insert(0, "import math")
    code = "\n".join(
        [
            *imports,
            "",
            "# Weight (W_) of each reward component; temperature (T_) of the bounded ones.",
            *constants,
            "",
            "",
            *helper,
            "",
            "",
            "def compute_reward(state, action):",
            *body,
            "",
        ]
    )
    return code if backend == "numpy" else numpy_to_torch(code)


def parse_genome(code: str) -> Genome | None:
    """The genome ``render_code`` wrote ``code`` from; None for other code."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    constants = _constants(tree)
    function = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "compute_reward"),
        None,
    )
    if function is None:
        return None
    genes = []
    for statement in function.body:
        gene = _gene(statement, constants)
        if gene is not None:
            genes.append(gene)
    return tuple(genes) or None


def _component(gene: Gene, ref: str) -> str:
    constant = gene.name.upper()
    value = f"{_HELPER}({gene.expression}, {ref})"
    sign = "-" if gene.sign < 0 else ""
    if gene.transform == "tanh":
        return f"{sign}W_{constant} * np.tanh({value} / T_{constant})"
    if gene.transform == "exp":
        return f"-W_{constant} * (1.0 - np.exp(-np.abs({value}) / T_{constant}))"
    return f"{sign}W_{constant} * {value}"


def _constants(tree: ast.Module) -> dict[str, float]:
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id[:2] in ("W_", "T_"):
                try:
                    found[target.id] = float(ast.literal_eval(node.value))
                except (ValueError, TypeError, SyntaxError):
                    continue
    return found


def _negated(node: ast.expr) -> bool:
    """True for ``-a`` and for products that start with it (``-a * b``)."""
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub)
    return isinstance(node, ast.BinOp) and _negated(node.left)


def _gene(statement: ast.stmt, constants: dict[str, float]) -> Gene | None:
    """The gene one component assignment encodes, if it is one."""
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
        return None
    target = statement.targets[0]
    if not isinstance(target, ast.Name) or f"W_{target.id.upper()}" not in constants:
        return None
    name = target.id
    value = next(
        (
            n
            for n in ast.walk(statement.value)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == _HELPER
        ),
        None,
    )
    if value is None or not value.args:
        return None
    calls = {
        n.func.attr
        for n in ast.walk(statement.value)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    transform: Transform = "exp" if "exp" in calls else "tanh" if "tanh" in calls else "linear"
    # The saturating exp form is always a penalty; the others carry their sign in front.
    negative = transform == "exp" or _negated(statement.value)
    return Gene(
        name=name,
        expression=_translate(ast.unparse(value.args[0]), _TO_NUMPY),
        sign=-1.0 if negative else 1.0,
        weight=constants[f"W_{name.upper()}"],
        transform=transform,
        temperature=constants.get(f"T_{name.upper()}", 1.0),
    )
