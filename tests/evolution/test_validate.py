"""The static gate: common mistakes become messages the next prompt can show."""

from __future__ import annotations

import importlib
import pkgutil
import types
import warnings

import numpy as np
import pytest

from app.evolution.validate import (
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_CALLS,
    MAX_CODE_BYTES,
    ValidationError,
    check_code,
)

GOOD = """
import numpy as np
import math

SCALE = 2.0

def _speed(state):
    return np.abs(state["velocity"])

def compute_reward(state, action, scale=SCALE):
    speed = _speed(state) * scale
    effort = -0.1 * np.sum(np.square(action), axis=-1) * math.pi
    return speed + effort, {"speed": speed, "effort": effort}
"""


def test_gate_accepts_helpers_constants_and_allowed_imports() -> None:
    report = check_code(GOOD)
    assert report.functions == ("_speed", "compute_reward")
    assert set(report.imports) == {"numpy", "math"}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os\ndef compute_reward(state, action):\n    return 0, {}", "import of 'os'"),
        (
            "from subprocess import run\ndef compute_reward(state, action):\n    return 0, {}",
            "import of 'subprocess'",
        ),
        ("def compute_reward(state, action):\n    return eval('1'), {}", "eval is not allowed"),
        (
            "def compute_reward(state, action):\n    open('/etc/passwd')\n    return 0, {}",
            "open is not allowed",
        ),
        (
            "def compute_reward(state, action):\n    x = ().__class__\n    return 0, {}",
            "dunder attribute",
        ),
        ("def compute_reward(state, action):\n    return __builtins__, {}", "__builtins__"),
        (
            "def reward(state, action):\n    return 0, {}",
            "no top-level function named compute_reward",
        ),
        ("def compute_reward(obs):\n    return 0, {}", "must take (state, action)"),
        ("def compute_reward(state, action):\n    pass", "never returns"),
        ("def compute_reward(state, action)\n    return 0", "syntax error at line 1"),
        ("x = 0\ndef compute_reward(state, action):\n    global x\n    return 0, {}", "global"),
    ],
)
def test_gate_rejects_with_a_clear_message(code: str, message: str) -> None:
    with pytest.raises(ValidationError, match=None) as caught:
        check_code(code)
    assert message in str(caught.value)


def test_gate_lists_every_problem_once() -> None:
    code = "import os\nimport sys\ndef compute_reward(state, action):\n    return 0, {}"
    with pytest.raises(ValidationError) as caught:
        check_code(code)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and "'os'" in lines[0] and "'sys'" in lines[1]


def test_gate_caps_the_size() -> None:
    code = GOOD + "\n" + "# padding\n" * (MAX_CODE_BYTES // 10 + 1)
    with pytest.raises(ValidationError, match="bytes"):
        check_code(code)


TORCH = """
import torch

def compute_reward(state, action):
    speed = torch.abs(state["velocity"])
    return speed, {"speed": speed}
"""


def test_torch_is_refused_in_a_numpy_run_with_the_option_named() -> None:
    with pytest.raises(ValidationError, match="reward_backend=torch"):
        check_code(TORCH)


def test_torch_backend_admits_torch() -> None:
    assert check_code(TORCH, "torch").imports == ("torch",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('    speed = torch.load("/etc/passwd")', "torch's load is not allowed"),
        ('    torch.save(speed, "/tmp/x")', "torch's save is not allowed"),
        ("    speed = torch.ops.aten.abs(speed)", "torch's ops is not allowed"),
        ("    speed = torch._C._nn.relu(speed)", "private attribute access (_C)"),
        ("    torch.hub.load('a', 'b')", "torch's hub is not allowed"),
        ("    from torch import load", "torch's load is not allowed"),
    ],
)
def test_torch_backend_refuses_files_natives_and_privates(line: str, message: str) -> None:
    code = TORCH.replace(
        '    return speed, {"speed": speed}', f'{line}\n    return speed, {{"speed": speed}}'
    )
    with pytest.raises(ValidationError) as caught:
        check_code(code, "torch")
    assert message in str(caught.value)


def test_torch_jit_decorator_is_refused_with_a_reason() -> None:
    code = TORCH.replace("def compute_reward", "@torch.jit.script\ndef compute_reward")
    with pytest.raises(ValidationError, match="drop the decorator"):
        check_code(code, "torch")


HONEST_NUMPY = """
import numpy as np

def compute_reward(state, action):
    speed = np.abs(state["velocity"])
    return speed, {"speed": speed}
"""


def _with(line: str, head: str = "") -> str:
    code = HONEST_NUMPY.replace("import numpy as np\n", f"import numpy as np\n{head}")
    return code.replace("    return speed,", f"{line}\n    return speed,")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            _with('    np.ctypeslib.load_library("libc.so.6", "/lib").system(b"id")'),
            "numpy's ctypeslib is not allowed in reward code: it loads native libraries",
        ),
        (_with("    n.ctypeslib.load_library", "import numpy as n\n"), "numpy's ctypeslib"),
        (_with("    ctypeslib.load_library", "from numpy import ctypeslib\n"), "numpy's ctypeslib"),
        (
            _with("    lib = load_library", "from numpy.ctypeslib import load_library\n"),
            "ctypeslib",
        ),
        (_with("    c.load_library", "import numpy.ctypeslib as c\n"), "numpy's ctypeslib"),
        (_with("    x = np\n    x.ctypeslib.load_library"), "x's ctypeslib"),
        (_with('    np.lib.npyio.DataSource().open("http://x")'), "numpy's lib"),
        (_with("    np.lib.format.open_memmap"), "numpy's lib"),
        (_with("    from numpy.lib import npyio"), "numpy's lib"),
        (_with('    np.load("/etc/passwd", allow_pickle=True)'), "numpy's load"),
        (_with('    np.save("/tmp/x", speed)'), "numpy's save"),
        (_with('    np.savez("/tmp/x", speed)'), "numpy's savez"),
        (_with('    np.savez_compressed("/tmp/x", speed)'), "numpy's savez_compressed"),
        (_with('    np.loadtxt("/etc/passwd")'), "numpy's loadtxt"),
        (_with('    np.savetxt("/tmp/x", speed)'), "numpy's savetxt"),
        (_with('    np.genfromtxt("http://x/data.csv")'), "numpy's genfromtxt"),
        (_with('    np.fromfile("/etc/passwd")'), "numpy's fromfile"),
        (_with('    np.fromregex("/etc/passwd", "(.*)", [("a", "S9")])'), "numpy's fromregex"),
        (_with('    np.memmap("/tmp/x", mode="w+", shape=(9,))'), "numpy's memmap"),
        (_with('    np.rec.fromfile("/etc/passwd", formats="S9")'), "numpy.rec's fromfile"),
        (_with('    speed.tofile("/tmp/x")'), "speed's tofile"),
        (_with('    action.dump("/tmp/x")'), "action's dump"),
        (_with("    action.dumps()"), "action's dumps"),
        (_with("    np.zeros(3).ctypes.data_as"), "an object's ctypes"),
        (_with("    np.random.default_rng().bit_generator.cffi"), "cffi"),
        (_with("    np.f2py.compile"), "numpy's f2py"),
        (_with("    np.testing.extbuild"), "numpy's testing"),
        (_with("    np.distutils"), "numpy's distutils"),
        (_with("    import numpy.ma.mrecords"), "numpy.ma's mrecords"),
        (_with("    np.show_runtime()"), "numpy's show_runtime"),
        (_with('    np.ma.core.builtins.eval("1")'), "numpy.ma.core's builtins"),
        (_with('    np.ma.core.builtins.eval("1")'), "numpy.ma.core.builtins's eval"),
        (_with("    np.polynomial.polyutils.operator.attrgetter"), "polyutils's operator"),
        (_with("    np.matrixlib.defmatrix.sys.modules"), "defmatrix's sys"),
        (_with("    np._core.multiarray"), "private attribute access (_core)"),
        (_with('    getattr(np, "ctypeslib")'), "getattr is not allowed"),
        (_with("", "from numpy import *\n"), "from numpy import * is not allowed"),
    ],
)
def test_gate_refuses_numpy_routes_to_files_libraries_and_urls(code: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_code(code)
    assert message in str(caught.value)


def test_gate_still_admits_ordinary_numpy() -> None:
    line = (
        "    speed = np.clip(np.linalg.norm(action, axis=-1), 0, 1) * speed"
        " + np.random.default_rng(0).normal(size=speed.shape) * 0 + np.ma.masked_invalid(speed)"
        ' * 0 + float("{:.3f}".format(1.0)) * 0'
    )
    assert check_code(_with(line)).imports == ("numpy",)


def test_gate_refuses_code_that_is_not_text() -> None:
    with pytest.raises(ValidationError, match="not text"):
        check_code(HONEST_NUMPY + "# \ud800\n")


# Objects from outside numpy that numpy's public modules hand out and that
# reach nothing beyond the process: reviewed, and re-checked by the walk below.
_HARMLESS_FOREIGN = frozenset(
    {"builtins", "typing", "collections.abc", "functools", "itertools", "random", "threading"}
) | {"_thread", "math"}


def _refused(name: str) -> bool:
    return name.startswith("_") or name in FORBIDDEN_ATTRIBUTES or name in FORBIDDEN_CALLS


def _public_numpy_modules() -> list[tuple[str, types.ModuleType]]:
    """numpy and every submodule a reward may import (no refused part in its path)."""
    found = [("numpy", np)]
    for path, module in found:
        for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
            if not _refused(info.name):
                name = f"{path}.{info.name}"
                found.append((name, importlib.import_module(name)))
    return found


def _routes_out_of_numpy() -> list[str]:
    """Attribute chains the gate admits that end outside numpy (a module, or a
    callable from an unreviewed place, or a refused builtin under another name)."""
    escapes: list[str] = []
    queue, seen = _public_numpy_modules(), set()
    while queue:
        chain, module = queue.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        for name in dir(module):
            if _refused(name):
                continue
            try:
                value = getattr(module, name)
            except Exception:  # lazy attributes that fail to import are no route
                continue
            where = f"{chain}.{name}"
            if isinstance(value, types.ModuleType):
                if value.__name__.split(".")[0] == "numpy":
                    queue.append((where, value))
                elif value.__name__ != "math":
                    escapes.append(f"{where} (module {value.__name__})")
            elif callable(value):
                origin = getattr(value, "__module__", None) or "numpy"
                if origin.split(".")[0] != "numpy" and origin not in _HARMLESS_FOREIGN:
                    escapes.append(f"{where} ({origin})")
                elif getattr(value, "__name__", "") in FORBIDDEN_CALLS:
                    escapes.append(f"{where} (builtin {value.__name__})")
    return escapes


def test_every_route_out_of_numpy_is_refused() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        escapes = _routes_out_of_numpy()
    assert escapes == [], "add these to FORBIDDEN_ATTRIBUTES (or review them as harmless)"
