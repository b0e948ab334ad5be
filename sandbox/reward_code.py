"""Load candidate reward code and hold it to the reward contract.

The contract, batched over B parallel envs::

    def compute_reward(state: dict[str, np.ndarray], action: np.ndarray)
            -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return total, {"forward": forward, "ctrl_cost": ctrl_cost}

``total`` and every component are real-valued numpy arrays of shape (B,), the
components sum to the total, and every value is finite. ``state`` and ``action``
are read-only. Every violation raises :class:`RewardContractError` with a message
written to be acted on: what was returned, with its shape or value, and what
was expected.
"""

from __future__ import annotations

import inspect
import linecache
import traceback
import types
from collections.abc import Callable, Mapping

import numpy as np

State = dict[str, np.ndarray]
RewardFn = Callable[[State, np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]]]

FUNCTION_NAME = "compute_reward"
REWARD_FILENAME = "<reward>"  # the name tracebacks show for candidate code
SUM_ATOL = 1e-5
SUM_RTOL = 1e-4
_REAL = frozenset("fiub")  # dtype kinds: float, signed/unsigned int, bool


class RewardContractError(ValueError):
    """The candidate reward broke the contract; the message says how to fix it.

    ``env_index`` names the env of the batch whose values were wrong, when one was.
    """

    def __init__(self, message: str, env_index: int | None = None) -> None:
        super().__init__(message)
        self.env_index = env_index


def load_reward(source: str) -> RewardFn:
    """Compile ``source`` into a fresh module namespace and return its ``compute_reward``."""
    if not source or not source.strip():
        raise RewardContractError("the reward code is empty; define compute_reward(state, action)")
    try:
        code = compile(source, REWARD_FILENAME, "exec")
    except SyntaxError as exc:
        line = (exc.text or "").rstrip()
        raise RewardContractError(
            f"syntax error at line {exc.lineno}: {exc.msg}" + (f"\n    {line}" if line else "")
        ) from None
    # Registering the source lets tracebacks quote the offending line of candidate code.
    linecache.cache[REWARD_FILENAME] = (len(source), None, source.splitlines(True), REWARD_FILENAME)
    module = types.ModuleType("candidate_reward")
    module.__file__ = REWARD_FILENAME
    try:
        exec(code, module.__dict__)
    except (Exception, SystemExit) as exc:
        raise RewardContractError(f"module-level code raised {describe_exception(exc)}") from None
    fn = module.__dict__.get(FUNCTION_NAME)
    if fn is None:
        raise RewardContractError(
            f"no function named {FUNCTION_NAME}; define `def {FUNCTION_NAME}(state, action):`"
        )
    if not callable(fn):
        raise RewardContractError(f"{FUNCTION_NAME} is a {type(fn).__name__}, not a function")
    try:
        inspect.signature(fn).bind(None, None)
    except (TypeError, ValueError):
        raise RewardContractError(
            f"{FUNCTION_NAME}{_signature(fn)} cannot be called as {FUNCTION_NAME}(state, action); "
            "it must take exactly the two positional arguments state and action"
        ) from None
    return fn


def describe_exception(exc: BaseException) -> str:
    """``Type: message (line N: `source`)``, pointing into candidate code when it can."""
    text = f"{type(exc).__name__}: {exc}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == REWARD_FILENAME]
    if frames:
        last = frames[-1]
        text += f" (line {last.lineno}: `{(last.line or '').strip()}`)"
    if isinstance(exc, ValueError) and "read-only" in str(exc):
        text += (
            "; state arrays and action are read-only, copy before changing one "
            "(e.g. v = state['x'].copy())"
        )
    return text


def validate_output(output: object, batch: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Check one return value of compute_reward for a batch of ``batch`` envs.

    Returns the total and the components, both unchanged; raises RewardContractError.
    This runs on every environment step, so the passing path is kept short.
    """
    if not isinstance(output, tuple) or len(output) != 2:
        raise RewardContractError(
            f"{FUNCTION_NAME} must return a tuple (total, components), got {_describe(output)}"
        )
    total, components = output
    shape = (batch,)
    # Fast path first: the type, shape and dtype tests inline; details only on failure.
    if type(total) is not np.ndarray or total.shape != shape or total.dtype.kind not in _REAL:
        _check_array("total", total, batch)
    if not isinstance(components, dict) or not components:
        raise RewardContractError(
            "components must be a non-empty dict of named arrays, e.g. "
            f'{{"forward": forward, "ctrl_cost": ctrl_cost}}; got {_describe(components)}'
        )
    for name, value in components.items():
        if type(value) is not np.ndarray or value.shape != shape or value.dtype.kind not in _REAL:
            _check_array(f"components[{name!r}]", value, batch)
        if type(name) is not str or not name:
            raise RewardContractError(f"component names must be non-empty strings, got {name!r}")
    summed = sum(components.values())
    close = np.abs(summed - total) <= SUM_ATOL + SUM_RTOL * np.abs(total)
    if not close.all():  # NaN compares False, so non-finite values land here too
        _raise_bad_values(total, components, np.asarray(summed))
    return total, components


def check_reward(
    fn: RewardFn, state: Mapping[str, np.ndarray], action: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Smoke-test ``fn`` on one batch of real states.

    ``state`` and ``action`` are copied and made read-only before the call; the
    copies are compared with the originals afterwards, so code that writes into
    its inputs is caught even if it flips the read-only flag.
    """
    batch = int(np.shape(action)[0])
    frozen = {key: read_only_copy(value) for key, value in state.items()}
    frozen_action = read_only_copy(action)
    try:
        output = fn(dict(frozen), frozen_action)
    except (Exception, SystemExit) as exc:
        raise RewardContractError(f"{FUNCTION_NAME} raised {describe_exception(exc)}") from None
    for key, value in state.items():
        if not np.array_equal(frozen[key], value, equal_nan=True):
            raise RewardContractError(
                f"{FUNCTION_NAME} modified state[{key!r}] in place; state is read-only, "
                f"copy first (v = state[{key!r}].copy())"
            )
    if not np.array_equal(frozen_action, action, equal_nan=True):
        raise RewardContractError(f"{FUNCTION_NAME} modified action in place; copy it first")
    return validate_output(output, batch)


def read_only_copy(value: np.ndarray) -> np.ndarray:
    """A private copy of ``value`` that numpy refuses to write into."""
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy


def _check_array(label: str, value: object, batch: int) -> None:
    if not isinstance(value, np.ndarray):
        raise RewardContractError(
            f"{label} is {_describe(value)}, expected a numpy array of shape ({batch},)"
            " (one value per env)"
        )
    if value.shape != (batch,):
        hint = " (reduce over the feature axis only, e.g. np.sum(x, axis=-1))" if value.ndim else ""
        raise RewardContractError(f"{label} has shape {value.shape}, expected ({batch},){hint}")
    if value.dtype.kind not in _REAL:
        raise RewardContractError(f"{label} has dtype {value.dtype}, expected a real number dtype")


def _raise_bad_values(
    total: np.ndarray, components: dict[str, np.ndarray], summed: np.ndarray
) -> None:
    for name, value in (("total", total), *components.items()):
        bad = np.flatnonzero(~np.isfinite(value))
        if bad.size:
            i = int(bad[0])
            label = "total" if name == "total" else f"components[{name!r}]"
            raise RewardContractError(
                f"{label} is not finite for env {i}: {_values_at(total, components, i)}", i
            )
    i = int(np.argmax(np.abs(summed - total)))
    raise RewardContractError(
        f"components do not sum to total for env {i}: sum {float(summed[i]):.6g} != total "
        f"{float(total[i]):.6g} ({_values_at(total, components, i)}); "
        "return total = the sum of the components",
        i,
    )


def _values_at(total: np.ndarray, components: dict[str, np.ndarray], i: int) -> str:
    parts = [f"total={float(total[i]):.6g}"]
    parts += [f"{name}={float(value[i]):.6g}" for name, value in components.items()]
    return ", ".join(parts)


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, np.generic):
        return f"a numpy scalar ({type(value).__name__}, shape ())"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"


def _signature(fn: Callable[..., object]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"
