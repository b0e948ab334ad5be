"""Run a sandbox module under resource caps.

    python -I -m sandbox.confine --memory BYTES --cpu SECONDS --file-size BYTES \\
        --open-files N --processes N -- sandbox.train SPEC.json

The launcher starts every sandbox process through this wrapper, inside
whatever kernel isolation is in force (see ``app.execution.isolation``).
Before any job code, let alone candidate code, runs it

- caps the address space, CPU seconds, file size, open files and processes
  (``RLIMIT_*``; processes only bind a non-root user, the launcher's pids
  cgroup binds everyone) and turns core dumps off;
- asks the kernel for SIGKILL when its parent dies (the launcher, or
  bubblewrap's init), so a killed service leaves no sandbox behind.

Then it runs the module as ``__main__`` and leaves with ``os._exit``: threads
a candidate started cannot keep the process alive once its result is written.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import resource
import runpy
import signal
import sys
import traceback

PR_SET_PDEATHSIG = 1
CAPS = {
    "memory": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC,
}
CPU_GRACE_S = 5  # SIGXCPU at the soft limit, SIGKILL this much later


def set_caps(caps: dict[str, int]) -> None:
    """Lower each resource limit to its cap (never above the hard limit already set)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in caps.items():
        which = CAPS[name]
        _, hard = resource.getrlimit(which)
        top = value + CPU_GRACE_S if name == "cpu" else value
        resource.setrlimit(which, (_within(value, hard), _within(top, hard)))


def _within(value: int, hard: int) -> int:
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def die_with_parent() -> None:
    """SIGKILL this process when its parent exits (Linux only; a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    prctl = getattr(libc, "prctl", None)
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_module(module: str, args: list[str]) -> int:
    """Run ``module`` as ``__main__`` with ``args``; its exit status."""
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return int(exc.code or 0)
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.confine")
    for name in CAPS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point: caps, then the module; never returns."""
    args = parse(sys.argv[1:] if argv is None else argv)
    set_caps({name: getattr(args, name) for name in CAPS if getattr(args, name) is not None})
    die_with_parent()
    code = run_module(args.module, list(args.args))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
