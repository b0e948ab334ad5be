"""The best reward of a run as a standalone Python module.

The module is a fixed docstring, the reward code exactly as the gate passed it,
and a fixed footer. Nothing else a person or the LLM wrote is written as code:
the run's task text is left out, and every other value (ids, names, the card's
state table, the gate's verdict, the sandbox level) is data, written by
:func:`python_literal`, which admits plain values only and checks that the
text reads back as the same value. The reward code is checked by today's gate
again before it is exported: it is about to run outside any sandbox.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from app.db.models import Candidate, Run
from app.evolution.validate import ValidationError, check_code
from app.run_options import TrainingOptions
from envs import get_card
from envs.card import EnvCard

HEADER = '''"""A reward function evolved by rewardforge, and the env that pays it.

    import exported_reward as reward         # this file, under any name
    env = reward.make_env()                  # the env it was evolved for, this reward
    env = reward.wrap_env(gym.make(...))     # or wrap an env you made

Every step returns this reward; info["reward_components"] holds its terms (they
sum to the reward) and info["env_reward"] the env's own. Any RL library that
takes a Gymnasium env trains on it. compute_reward(state, action) is batched
over B envs; STATE_VARIABLES describes the state it reads. REWARD_INFO names
the run and candidate it came from (iteration_index as in
/api/runs/<run_id>/iterations/<index>), the gate's verdict on this code and the
sandbox it was trained in. Needs the rewardforge package (for the env's state
extractor), not its service.
"""

# The reward code, exactly as the gate passed it and the sandbox trained it.

'''
FOOTER = '''

# Written by rewardforge's export: data, and the two ways to get the env.
REWARD_INFO = {info}
STATE_VARIABLES = {state_variables}


def wrap_env(env):
    """``env`` (a Gymnasium env of REWARD_INFO["env_id"]) paying this reward."""
    from sandbox.evolved_reward import EvolvedReward

    return EvolvedReward(
        env,
        compute_reward,
        card_spec=REWARD_INFO["card_spec"],
        backend=REWARD_INFO["reward_backend"],
    )


def make_env(**make_kwargs):
    """The env this reward was evolved for (gym.make with ``make_kwargs``), paying it."""
    from sandbox.evolved_reward import make_evolved_env

    return make_evolved_env(
        compute_reward,
        env_id=REWARD_INFO["env_id"],
        card_spec=REWARD_INFO["card_spec"],
        backend=REWARD_INFO["reward_backend"],
        **make_kwargs,
    )
'''
# A user card's "package.module:factory": the exported module imports it by name.
CARD_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
MODULE_NAMES = frozenset({"REWARD_INFO", "STATE_VARIABLES", "wrap_env", "make_env"})


def export_module(run: Run, best: Candidate | None) -> str:
    """Source text of the module for the run's best candidate ``best`` (the row
    ``run.best_candidate_id`` names, which the loop's one rule chose).

    Raises ValueError when there is none, or its code fails today's gate.
    """
    if not run.best_candidate_id:
        raise ValueError(f"run {run.id} has no trained candidate yet (status {run.status})")
    if best is None or best.id != run.best_candidate_id or not best.code:
        raise ValueError(f"run {run.id}: best candidate {run.best_candidate_id} has no code")
    return render_module(run=run, candidate=best, card=get_card(run.env_id, run.card_spec))


def render_module(*, run: Run, candidate: Candidate, card: EnvCard) -> str:
    """The module for ``candidate`` of ``run``: header, its code, the footer."""
    code = (candidate.code or "").strip()
    # The options alone: the run's task text plays no part in an export.
    backend = TrainingOptions.model_validate(run.options or {}).reward_backend
    try:
        gate = check_code(code, backend)
    except ValidationError as exc:
        raise ValueError(
            f"run {run.id}: candidate {candidate.id}'s code fails the gate, so it is not "
            f"exported:\n{exc}"
        ) from None
    if run.card_spec is not None and not CARD_SPEC.fullmatch(run.card_spec):
        raise ValueError(f"run {run.id}: env card spec {run.card_spec!r} is not a module path")
    clash = sorted(MODULE_NAMES & _identifiers(code))
    if clash:
        raise ValueError(
            f"run {run.id}: candidate {candidate.id}'s code uses {', '.join(clash)}, "
            "which the exported module defines; it cannot be exported as it is"
        )
    info = {
        "env_id": run.env_id,
        "card_spec": run.card_spec,
        "reward_backend": backend,
        "run_id": run.id,
        "candidate_id": candidate.id,
        "iteration_index": candidate.iteration_index,
        "sample_index": candidate.sample_index,
        "fitness_metric": run.fitness_metric,
        "fitness": candidate.fitness,
        "success_rate": candidate.success_rate,
        "gate": {"verdict": "passed", "imports": list(gate.imports), "lines": gate.lines},
        "sandbox_level": candidate.sandbox_level,
    }
    state_variables = [
        {
            "name": v.name,
            "shape": [int(n) for n in v.shape],
            "unit": v.unit,
            "description": v.description,
        }
        for v in card.state_vars
    ]
    footer = FOOTER.format(
        info=python_literal(info), state_variables=python_literal(state_variables)
    )
    return HEADER + code + "\n" + footer


def python_literal(value: Any) -> str:
    """``value`` as Python source that evaluates to it and can do nothing else.

    Only str, int, float, bool, None, lists and str-keyed dicts are admitted
    (exact types, so no subclass can bring its own repr); strings are written
    with ascii(), escapes only, and non-finite floats as None.
    """
    text = _literal(value)
    if type(value) in (dict, list) and value:  # the outer container one item per line
        items = value.items() if type(value) is dict else [(None, item) for item in value]
        lines = [(f"{ascii(k)}: " if k is not None else "") + _literal(v) for k, v in items]
        brackets = "{}" if type(value) is dict else "[]"
        text = brackets[0] + "\n" + "".join(f"    {line},\n" for line in lines) + brackets[1]
    if ast.literal_eval(text) != _finite(value):
        raise ValueError("the value does not read back as itself")  # defence in depth
    return text


def _literal(value: Any) -> str:
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else "None"
    if kind is str:
        return ascii(value)
    if kind is list:
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if kind is dict and all(type(key) is str for key in value):
        return "{" + ", ".join(f"{ascii(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"cannot write a {kind.__name__} into an exported module")


def _finite(value: Any) -> Any:
    if type(value) is float and not math.isfinite(value):
        return None
    if type(value) is list:
        return [_finite(item) for item in value]
    if type(value) is dict:
        return {key: _finite(item) for key, item in value.items()}
    return value


def _identifiers(code: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names
