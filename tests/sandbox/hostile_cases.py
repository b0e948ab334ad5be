"""Hostile reward code, one case per attack, for tests/sandbox/test_hostile.py.

Each case is candidate code with ``$NAME`` placeholders (string.Template) that
the suite fills with the paths and ports of its arena: ``$OUT`` (the
candidate's output directory), ``$OUTSIDE`` (a directory with a victim file),
``$DATA``, ``$ARTIFACTS``, ``$DB``, ``$DOTENV``, ``$OTHER`` (another
candidate's directory), ``$SANDBOX_PKG``, ``$PORT_IP``, ``$PORT_NAME``,
``$PORT_SERVICE``, ``$SERVICE_PID``, ``$MARKER`` and ``$TAG`` (unique to the run).

Probes (:func:`probe`) try several things, record what they got in
``loot.json`` and then raise, so the candidate ends invalid at its smoke test;
the suite then checks that nothing they got was worth having.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

# What every shell route runs: read the secrets, list another candidate, write
# outside, and leave a process behind.
SHELL = (
    "cat $DB $DOTENV > loot_shell.txt 2>&1; env >> loot_shell.txt; "
    "ls $OTHER >> loot_shell.txt 2>&1; echo pwned > $OUTSIDE/shell_$TAG; sleep 313 &"
)

# Where the numpy route looks for the C library (any folder holding libc.so.6).
LIBC = next(
    (d for d in ("/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/lib64", "/usr/lib")
     if os.path.exists(os.path.join(d, "libc.so.6"))),
    "/lib",
)  # fmt: skip

HONEST_BODY = """
    upright = state["uprightness"]
    return upright, {"upright": upright}
"""


def probe(body: str, imports: str = "json, os", prelude: str = "") -> str:
    """Code whose compute_reward runs ``body`` (calls of ``grab(key, fn)``), saves
    what it grabbed to loot.json and raises."""
    lines = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    return (
        f"import {imports}\n{textwrap.dedent(prelude)}\n\n"
        "def compute_reward(state, action):\n"
        "    loot = {}\n\n"
        "    def grab(key, fn):\n"
        "        try:\n"
        "            loot[key] = fn()\n"
        "        except BaseException as exc:\n"
        '            loot[key] = "refused: " + repr(exc)[:300]\n\n'
        f"{lines}\n"
        '    with open("loot.json", "w") as fh:\n'
        "        json.dump(loot, fh, default=repr)\n"
        '    raise RuntimeError("probe done")\n'
    )


def honest_after(prelude: str, imports: str = "numpy as np") -> str:
    """Code that does ``prelude`` at import and then rewards honestly."""
    head = f"import {imports}\n{textwrap.dedent(prelude)}\n\n"
    return head + f"def compute_reward(state, action):{HONEST_BODY}"


@dataclass(frozen=True)
class Case:
    """One attack: the code, what the gate makes of it, and how it must end.

    ``expect`` are the acceptable candidate statuses, ``says`` a piece of the
    stored error, ``needs`` the isolation the case relies on to be harmless
    ("fs", "net", "pid"; a level without it skips the case), ``runaway`` asks
    for short deadlines.
    """

    name: str
    code: str
    gate_catches: bool
    expect: tuple[str, ...]
    says: str = ""
    needs: frozenset[str] = frozenset()
    runaway: bool = False


FS, NET, PID = frozenset({"fs"}), frozenset({"net"}), frozenset({"pid"})
ALL = FS | NET | PID
PROBED = ("invalid",)

SHELL_ROUTES = [
    Case("os_system", probe('grab("rc", lambda: os.system(SHELL))', prelude=f"SHELL = {SHELL!r}"),
         True, PROBED, "probe done", ALL),
    Case("subprocess", probe(
        'grab("rc", lambda: subprocess.run(["/bin/sh", "-c", SHELL]).returncode)',
        "json, subprocess", f"SHELL = {SHELL!r}"), True, PROBED, "probe done", ALL),
    Case("os_exec", f"import os\nSHELL = {SHELL!r}\n\ndef compute_reward(state, action):\n"
         '    os.execv("/bin/sh", ["sh", "-c", SHELL])\n', True, ("failed",),
         "training ended without a result", ALL),
    Case("ctypes", probe('grab("rc", lambda: ctypes.CDLL(None).system(SHELL.encode()))',
         "json, ctypes", f"SHELL = {SHELL!r}"), True, PROBED, "probe done", ALL),
    Case("importlib", probe('grab("rc", lambda: importlib.import_module("os").system(SHELL))',
         "json, importlib", f"SHELL = {SHELL!r}"), True, PROBED, "probe done", ALL),
    Case("numpy_ctypeslib", probe(
        'grab("rc", lambda: np.ctypeslib.load_library("libc.so.6", LIBC).system(SHELL.encode()))',
        "json, numpy as np", f"SHELL = {SHELL!r}\nLIBC = {LIBC!r}"), True, PROBED, "probe done",
        ALL),
    Case("subclasses", probe(
        """
        wrap = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "_wrap_close"]
        grab("rc", lambda: wrap[0].__init__.__globals__["system"](SHELL))
        """, "json", f"SHELL = {SHELL!r}"), True, PROBED, "probe done", ALL),
]  # fmt: skip

SECRETS = [
    Case("read_shadow", probe('grab("shadow", lambda: open("/etc/shadow").read())'),
         True, PROBED, "probe done", FS),
    Case("read_database", probe(
        """
        grab("db", lambda: open("$DB", "rb").read().decode("latin-1"))
        grab("sql", lambda: sqlite3.connect("file:$DB?mode=ro", uri=True)
             .execute("select * from secrets").fetchall())
        """, "json, sqlite3"), True, PROBED, "probe done", FS),
    Case("read_dotenv", probe('grab("dotenv", lambda: open("$DOTENV").read())'),
         True, PROBED, "probe done", FS),
    Case("api_keys", probe(
        """
        grab("environ", lambda: dict(os.environ))
        grab("service", lambda: open("/proc/$SERVICE_PID/environ", "rb").read().decode("latin-1"))
        grab("init", lambda: open("/proc/1/environ", "rb").read().decode("latin-1"))
        """), True, PROBED, "probe done", PID),
    Case("list_candidates", probe(
        """
        grab("run", lambda: os.listdir(os.path.dirname(os.getcwd())))
        grab("artifacts", lambda: glob.glob("$ARTIFACTS/*/*"))
        grab("data", lambda: os.listdir("$DATA"))
        grab("other", lambda: open("$OTHER/secret.txt").read())
        """, "glob, json, os"), True, PROBED, "probe done", FS),
]  # fmt: skip

WRITES = [
    Case("write_outside", probe(
        """
        for path in ("$OUTSIDE/w_$TAG", "/tmp/hostile_$TAG", "$OTHER/w_$TAG",
                     "$DATA/w_$TAG", "$SANDBOX_PKG/w_$TAG.py"):
            grab(path, lambda: open(path, "w").write("pwned"))
        """), True, PROBED, "probe done", FS),
    Case("fill_disk", probe(
        """
        def fill(path, limit=1 << 30):
            chunk, written = b"x" * (1 << 20), 0
            with open(path, "wb") as fh:
                while written < limit:
                    fh.write(chunk)
                    fh.flush()
                    written += len(chunk)
            return written
        grab("out", lambda: fill("big.bin"))
        for name in ("a", "b", "c"):
            grab("tmp_" + name, lambda: fill("/tmp/fill_" + name, 120 << 20))
        """), True, PROBED, "probe done", FS),
    Case("files_in_a_loop", probe(
        """
        def fill(files=20, megabytes=100):  # 2 GB in all, under the cap on one file
            chunk = b"x" * (1 << 20)
            for i in range(files):
                with open("fill_%d.bin" % i, "wb") as fh:
                    for _ in range(megabytes):
                        fh.write(chunk)
            return files
        grab("files", fill)
        """), True, ("failed",), "disk quota: the sandbox wrote more than"),
    Case("deleted_files_held_open", probe(
        """
        def hold(files=20, megabytes=100):  # out of sight of a directory walk
            chunk, held = b"x" * (1 << 20), []
            for i in range(files):
                fh = open("held_%d.bin" % i, "wb")
                os.unlink(fh.name)
                for _ in range(megabytes):
                    fh.write(chunk)
                held.append(fh)
            return len(held)
        grab("held", hold)
        """), True, ("failed",), "in deleted files it still held"),
    Case("huge_stdout", probe(
        """
        for _ in range(64):
            sys.stdout.write("x" * (1 << 20))
        sys.stdout.write("THE END")
        sys.stdout.flush()
        """, "json, sys"), True, PROBED, "probe done"),
]  # fmt: skip

NETWORK = [
    Case("connect_loopback_ip", probe(
        """
        grab("tcp", lambda: socket.create_connection(("127.0.0.1", $PORT_IP), timeout=3)
             .sendall(b"$TAG"))
        """, "json, socket"), True, PROBED, "probe done", NET),
    Case("connect_localhost", probe(
        """
        grab("tcp", lambda: socket.create_connection(("localhost", $PORT_NAME), timeout=3)
             .sendall(b"$TAG"))
        """, "json, socket"), True, PROBED, "probe done", NET),
    Case("connect_service_port", probe(
        """
        grab("tcp", lambda: socket.create_connection(("127.0.0.1", $PORT_SERVICE), timeout=3)
             .sendall(b"$TAG"))
        grab("http", lambda: urllib.request.urlopen("http://127.0.0.1:$PORT_SERVICE/runs",
             timeout=3).read())
        """, "json, socket, urllib.request"), True, PROBED, "probe done", NET),
    Case("interfaces", probe(
        """
        grab("names", lambda: [name for _, name in socket.if_nameindex()])
        grab("net_dev", lambda: open("/proc/net/dev").read())
        """, "json, socket"), True, PROBED, "probe done", NET),
]  # fmt: skip

PROCESSES = [
    Case("fork_bomb", probe(
        """
        def bomb():
            forked = 0
            try:
                for _ in range(1000):  # bounded, whatever the caps
                    if os.fork() == 0:
                        time.sleep(120)
                        os._exit(0)
                    forked += 1
            except OSError as exc:
                return {"forked": forked, "stopped": repr(exc)}
            return {"forked": forked, "stopped": None}
        grab("bomb", bomb)
        """, "json, os, time"), True, PROBED, "probe done", PID),
    Case("setsid_child", probe(
        """
        def daemon():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:  # double fork: away from the trainer's tree
                    time.sleep(300)
                    os._exit(0)
                time.sleep(300)
                os._exit(0)
            time.sleep(0.5)
            return "spawned"
        grab("daemon", daemon)
        """, "json, os, time"), True, PROBED, "probe done", PID),
    Case("endless_threads", honest_after(
        """
        def spin():
            while True:
                time.sleep(0.5)

        for _ in range(4):
            threading.Thread(target=spin).start()
        """, "threading, time"), True, ("done",), ""),
    Case("signal_service", probe(
        """
        grab("service", lambda: os.kill($SERVICE_PID, 9))
        grab("everyone", lambda: os.kill(-1, 9))
        """), True, PROBED, "", PID),
    Case("memory_bomb", "import numpy as np\n\ndef compute_reward(state, action):\n"
         "    blocks = []\n    while len(blocks) < 10_000:\n"
         "        blocks.append(np.ones(1 << 25))  # 256 MiB each, touched\n"
         "    return action[:, 0], {'a': action[:, 0]}\n", False, ("invalid",), "MemoryError"),
    Case("loop_in_reward", "def compute_reward(state, action):\n    while True:\n        pass\n"
         "    return action[:, 0], {'a': action[:, 0]}\n", False, ("failed",), "heartbeat",
         runaway=True),
    Case("loop_at_import", "while True:\n    pass\n\ndef compute_reward(state, action):\n"
         "    return action[:, 0], {'a': action[:, 0]}\n", False, ("failed",), "heartbeat",
         runaway=True),
]  # fmt: skip

REWARDS = [
    Case("nan_reward", "import numpy as np\n\ndef compute_reward(state, action):\n"
         "    total = np.full(len(action), np.nan)\n    return total, {'a': total}\n",
         False, ("invalid",), "not finite"),
    Case("inf_reward", "import numpy as np\n\ndef compute_reward(state, action):\n"
         "    total = np.full(len(action), np.inf)\n    return total, {'a': total}\n",
         False, ("invalid",), "not finite"),
    Case("wrong_shape", "import numpy as np\n\ndef compute_reward(state, action):\n"
         "    total = np.zeros((len(action), 1))\n    return total, {'a': total}\n",
         False, ("invalid",), "has shape"),
    Case("nan_in_training", "import numpy as np\n\n"
         "def compute_reward(state, action, calls=[0]):\n    calls[0] += 1\n"
         "    value = state['uprightness'] * (np.nan if calls[0] > 50 else 1.0)\n"
         "    return value, {'upright': value}\n", False, ("failed",), "not finite"),
    Case("mutate_state", "def compute_reward(state, action):\n"
         "    v = state['uprightness']\n    v.flags.writeable = True\n    v[:] = 1.0\n"
         "    return v, {'upright': v}\n", False, ("invalid",), "modified state"),
    Case("monkeypatch_fitness", "import gc\nimport numpy as np\n\n"
         "def compute_reward(state, action, patched=[False]):\n"
         "    if not patched[0]:\n"
         "        for obj in gc.get_objects():\n"
         "            if type(obj).__name__ == 'RewardWrapper':\n"
         "                obj._metric_step = lambda s, a: np.full(len(a), 1e6)\n"
         "                patched[0] = True\n"
         "        np.cos = lambda x: np.ones_like(x)\n"
         "        np.mean = lambda *args, **kwargs: 1e6\n" + HONEST_BODY,
         True, ("done",), ""),
    Case("pickle_weights", "import os, pickle, sys\n\n"
         "class Payload:\n    def __reduce__(self):\n"
         "        return (os.system, ('touch $MARKER',))\n\n"
         "def compute_reward(state, action, armed=[False]):\n"
         "    torch = sys.modules.get('torch')\n"
         "    if torch is not None and not armed[0]:\n"
         "        real_save = torch.save\n\n"
         "        def save(obj, path, *args, **kwargs):\n"
         "            if str(path).endswith('policy.pt'):\n"
         "                with open(path, 'wb') as fh:\n"
         "                    pickle.dump(Payload(), fh, protocol=2)\n"
         "                return None\n"
         "            return real_save(obj, path, *args, **kwargs)\n\n"
         "        torch.save = save\n        armed[0] = True\n" + HONEST_BODY,
         True, ("failed",), "refused to unpickle"),
    Case("giant_stats", "import sys\n\n"
         "def compute_reward(state, action, armed=[False]):\n"
         "    stats = sys.modules.get('sandbox.stats')\n"
         "    if stats is not None and not armed[0]:\n"
         "        real = stats.write_text\n\n"
         "        def write_text(path, text):\n"
         "            if str(path).endswith('stats.json'):\n"
         "                text = '{\"checkpoints\": [' + ','.join(['1'] * (16 << 20)) + ']}'\n"
         "            return real(path, text)\n\n"
         "        stats.write_text = write_text\n        armed[0] = True\n" + HONEST_BODY,
         True, ("failed",), "statistics refused: stats.json is larger than"),
    Case("many_components", "def compute_reward(state, action):\n"
         "    part = state['uprightness'] / 500.0\n"
         "    parts = {'component_%d_' % i + 'x' * 5000: part for i in range(500)}\n"
         "    return part * 500.0, parts\n", False, ("done",), ""),
    Case("plant_links", probe(
        """
        grab("video", lambda: os.symlink("$OUTSIDE/victim.txt", "rollout.mp4"))
        grab("tmp", lambda: os.symlink("$OUTSIDE/victim.txt", ".evaluation.json.tmp"))
        grab("policy", lambda: os.symlink("/etc/shadow", "policy.pt"))
        grab("fifo", lambda: os.mkfifo("stats.json"))
        grab("hardlink", lambda: os.link("$OUTSIDE/victim.txt", "victim_link.txt"))
        """), True, ("failed",), "planted links or special files", FS),
    Case("giant_result", "import os\n\ndef compute_reward(state, action):\n"
         "    with open('result.json', 'w') as fh:\n"
         "        fh.write('{\"status\": \"ok\", \"error\": \"' + 'x' * (10 << 20) + '\"}')\n"
         "    os._exit(0)\n", True, ("failed",), "result.json is larger than"),
]  # fmt: skip

CASES = [*SHELL_ROUTES, *SECRETS, *WRITES, *NETWORK, *PROCESSES, *REWARDS]
