"""Kernel isolation for sandboxes: which level this machine offers, and the
command line that puts one sandbox process inside it.

Levels, strongest first; the level in force is recorded on every candidate:

- ``bwrap``: bubblewrap. New user, pid, network (its own loopback only), ipc and
  uts namespaces; an unprivileged uid with no capabilities and no further user
  namespaces; a new session; SIGKILL when the launcher dies.
- ``unshare``: the same namespaces and the same filesystem view, built by
  util-linux (``unshare``, ``mount``, ``pivot_root``, ``setpriv``).
- ``rlimits``: an ordinary process with resource caps only. It sees what the
  service sees (files, network, environment of other processes), so choosing
  it logs a loud warning.

The filesystem of the two kernel levels is an allow-list (:func:`filesystem`):
the system directories (``/usr``, ``/etc`` less whatever only root may read),
the interpreter, the virtualenv and the ``sandbox`` and ``envs`` packages, all
read-only; private ``/tmp`` and ``/dev/shm`` of bounded size; a minimal
``/dev``; its own ``/proc`` with ``/proc/sys`` read-only; and one writable
directory, the job's output directory. The service's data directory, database,
``.env``, home and other candidates' directories are not in it; where one lies
inside an allowed directory it is covered by an empty mount.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

LEVELS = ("bwrap", "unshare", "rlimits")
# The interpreter sandboxes run, as an absolute path without ".." (the sandbox may
# not hold the folders such a path climbs through) and without resolving links (a
# venv's python is a link, and resolving it would leave the venv).
PYTHON = os.path.normpath(os.path.abspath(sys.executable))
LEVEL_GIVES = {
    "bwrap": "bubblewrap: read-only allow-listed root, no network, private /tmp, "
    "one writable output directory, own pid namespace, no capabilities, caps",
    "unshare": "namespaces via util-linux: the same view as bwrap, built with "
    "mount and pivot_root, capabilities dropped with setpriv, caps",
    "rlimits": "an ordinary process with resource caps only: it can read what the "
    "service reads and reach the network",
}
LEVEL_NEEDS = {
    "bwrap": "apt-get install bubblewrap (dnf install bubblewrap), and user namespaces "
    "enabled (sysctl user.max_user_namespaces > 0)",
    "unshare": "util-linux (unshare, mount, pivot_root, setpriv) and user namespaces "
    "enabled (sysctl user.max_user_namespaces > 0)",
    "rlimits": "nothing",
}
TMPFS_BYTES = 256 * 1024 * 1024  # each of the private /tmp and /dev/shm
SANDBOX_UID = 65534  # "nobody" inside the user namespace: no capabilities after exec
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_PACKAGES = ("sandbox", "envs")  # what the sandbox imports from this project
_STAGING = ("/mnt", "/media", "/srv", "/opt", "/home", "/run")  # unshare builds its root here
_TOOLS = {"bwrap": ("bwrap",), "unshare": ("unshare", "mount", "umount", "pivot_root", "setpriv")}
_TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])

log = logging.getLogger(__name__)
_warned: set[str] = set()


class SandboxUnavailable(RuntimeError):
    """The configured isolation level cannot run on this machine."""


@dataclass(frozen=True)
class Mount:
    """One entry of a sandbox's filesystem: ``ro``/``rw`` bind ``path`` onto itself,
    ``symlink`` ``path`` -> ``target``, a private ``tmpfs``, ``mask`` (cover
    ``path`` with something empty), or a GPU ``device`` node passed through."""

    kind: Literal["ro", "rw", "symlink", "tmpfs", "mask", "device"]
    path: Path
    target: str = ""


def filesystem(
    output_dir: Path,
    read_only: Iterable[Path] = (),
    hidden: Iterable[Path] = (),
    devices: Iterable[Path] = (),
) -> list[Mount]:
    """The allow-listed view of one sandbox (see the module docstring), with the
    device nodes ``devices`` (a GPU) passed through."""
    mounts = [Mount("tmpfs", Path("/tmp"))]
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            mounts.append(Mount("symlink", path, os.readlink(path)))
        elif path.is_dir():
            mounts.append(Mount("ro", path))
    runtime = runtime_paths()
    mounts += [Mount("ro", p) for p in runtime]
    allowed = [Path(m.path) for m in mounts if m.kind == "ro"]
    for path in [*etc_secrets(), *(Path(h).resolve() for h in hidden)]:
        inside = any(path.is_relative_to(a) for a in allowed)
        if inside and not any(r.is_relative_to(path) for r in runtime) and path.exists():
            mounts.append(Mount("mask", path))
    mounts.append(Mount("rw", output_dir.resolve()))
    mounts += [Mount("ro", Path(p).resolve()) for p in read_only if Path(p).exists()]
    mounts += [Mount("device", Path(p)) for p in devices]
    return mounts


def gpu_devices() -> list[Path]:
    """The GPU device nodes of this machine (NVIDIA, DRI), for a sandbox told to use one."""
    found = [p for p in sorted(Path("/dev").glob("nvidia*")) if p.exists()]
    return found + ([Path("/dev/dri")] if Path("/dev/dri").is_dir() else [])


@lru_cache
def runtime_paths() -> tuple[Path, ...]:
    """The interpreter, the virtualenv and this project's sandbox packages."""
    found = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()}
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            found.add(Path(location).resolve())
    system = [Path(d).resolve() for d in SYSTEM_DIRS if Path(d).is_dir()]
    kept = [p for p in found if not any(p.is_relative_to(s) for s in system)]
    return tuple(sorted(p for p in kept if not any(p != q and p.is_relative_to(q) for q in kept)))


@lru_cache
def etc_secrets() -> tuple[Path, ...]:
    """What under /etc only root may read (shadow, private keys): covered in every sandbox,
    since a sandbox of a root service runs as root's uid on the host's files."""
    secrets: list[Path] = []
    for root, dirs, files in os.walk("/etc"):
        for name in [*dirs, *files]:
            path = Path(root) / name
            try:
                mode = path.lstat().st_mode
            except OSError:
                continue
            if not path.is_symlink() and not mode & 0o004:
                secrets.append(path)
        dirs[:] = [d for d in dirs if Path(root, d) not in secrets]
    return tuple(secrets)


def bwrap_argv(
    mounts: Sequence[Mount], command: Sequence[str], env: dict[str, str], cwd: Path
) -> list[str]:
    """``bwrap ... -- command``: the kernel level built by bubblewrap."""
    argv = [_tool("bwrap"), "--unshare-all", "--unshare-user", "--disable-userns"]
    argv += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"]
    # No --new-session: the supervisor already started bwrap in a session of its own,
    # with no controlling terminal to inject into, and a second session would be
    # a scheduler autogroup of its own, out of reach of the niceness set on the first.
    argv += ["--die-with-parent", "--proc", "/proc"]
    argv += ["--ro-bind", "/proc/sys", "/proc/sys", "--dev", "/dev"]
    argv += ["--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
    covered = []
    for m in mounts:
        path = str(m.path)
        if m.kind == "symlink":
            argv += ["--symlink", m.target, path]
        elif m.kind == "tmpfs":
            argv += ["--size", str(TMPFS_BYTES), "--tmpfs", path]
        elif m.kind == "mask" and m.path.is_dir():
            argv += ["--size", "4096", "--tmpfs", path]
            covered.append(path)
        elif m.kind == "mask":
            argv += ["--ro-bind", "/dev/null", path]
        elif m.kind == "device":
            argv += ["--dev-bind-try", path, path]
        else:
            argv += ["--bind" if m.kind == "rw" else "--ro-bind", path, path]
    for path in [*covered, "/dev", "/"]:
        argv += ["--remount-ro", path]
    argv += ["--chdir", str(cwd), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return [*argv, "--", *command]


def unshare_argv(
    mounts: Sequence[Mount], command: Sequence[str], env: dict[str, str], cwd: Path
) -> list[str]:
    """``unshare ... sh -c SCRIPT``: the same view as bwrap, built by util-linux."""
    sources = [m.path for m in mounts if m.kind in ("ro", "rw")]
    staging = next(
        (s for s in _STAGING if Path(s).is_dir() and not any(p.is_relative_to(s) for p in sources)),
        None,
    )
    if staging is None:
        raise SandboxUnavailable("unshare: no directory to build the sandbox's root in")
    script = "\n".join(["set -e", "export PATH=/usr/sbin:/usr/bin:/sbin:/bin"])
    script += "\n" + "\n".join(_root_script(mounts, staging, cwd))
    setpriv = [_tool("setpriv"), "--no-new-privs", "--inh-caps=-all", "--ambient-caps=-all"]
    setpriv += ["--bounding-set=-all", "--", _tool("env"), "-i"]
    setpriv += [f"{key}={value}" for key, value in env.items()]
    argv = [_tool("unshare"), "--user", "--map-root-user", "--net", "--pid", "--fork"]
    argv += ["--kill-child", "--mount", "--propagation", "private", "--ipc", "--uts", "--"]
    return [*argv, "/bin/sh", "-c", script, "sandbox", *setpriv, *command]


def _root_script(mounts: Sequence[Mount], root: str, cwd: Path) -> list[str]:
    def at(path: str | Path) -> str:
        return shlex.quote(f"{root}{path}")

    size = f"size={TMPFS_BYTES}"
    lines = [f"mount -t tmpfs -o mode=0755,size=1m sandbox-root {shlex.quote(root)}"]
    covered = []
    for m in mounts:
        dest, src = at(m.path), shlex.quote(str(m.path))
        if m.kind == "symlink":
            lines += [f"mkdir -p {at(m.path.parent)}", f"ln -s {shlex.quote(m.target)} {dest}"]
        elif m.kind == "tmpfs":
            lines += [f"mkdir -p {dest}", f"mount -t tmpfs -o mode=1777,{size} tmpfs {dest}"]
        elif m.kind == "mask" and m.path.is_dir():
            lines.append(f"mount -t tmpfs -o mode=0755,size=4k tmpfs {dest}")
            covered.append(dest)
        elif m.kind == "mask":
            lines.append(f"mount --bind /dev/null {dest}")
        elif m.kind in ("ro", "rw"):
            make = f"mkdir -p {dest}" if m.path.is_dir() else f"touch {dest}"
            lines += [make, f"mount --bind {src} {dest}"]
            if m.kind == "ro":
                lines.append(f"mount -o remount,bind,ro {dest}")
    lines += [f"mkdir {at('/proc')}", f"mount -t proc proc {at('/proc')}"]
    lines += [f"mount --bind {at('/proc/sys')} {at('/proc/sys')}"]
    lines += [f"mount -o remount,bind,ro {at('/proc/sys')}"]
    lines += [f"mkdir {at('/dev')}", f"mount -t tmpfs -o mode=0755,size=64k tmpfs {at('/dev')}"]
    devices = [Path(f"/dev/{name}") for name in DEVICES]
    devices += [m.path for m in mounts if m.kind == "device"]
    for device in devices:
        make = "mkdir -p" if device.is_dir() else "touch"
        lines += [f"{make} {at(device)}", f"mount --bind {shlex.quote(str(device))} {at(device)}"]
    lines += [f"ln -s /proc/self/fd {at('/dev/fd')}", f"mkdir {at('/dev/shm')}"]
    lines += [f"mount -t tmpfs -o mode=1777,{size} tmpfs {at('/dev/shm')}"]
    lines += [f"mount -o remount,ro {path}" for path in covered]
    lines += [
        f"mount -o remount,ro {at('/dev')}",
        f"mkdir {at('/.old')}",
        f"cd {shlex.quote(root)}",
    ]
    lines += ["pivot_root . .old", "umount -l /.old", "rmdir /.old", "mount -o remount,ro /"]
    lines += [f"cd {shlex.quote(str(cwd))}", 'exec "$@"']
    return lines


def wrap(
    level: str,
    command: Sequence[str],
    env: dict[str, str],
    output_dir: Path,
    *,
    read_only: Iterable[Path] = (),
    hidden: Iterable[Path] = (),
    devices: Iterable[Path] = (),
) -> list[str]:
    """``command`` as it runs at ``level`` (unchanged at "rlimits")."""
    if level == "rlimits":
        return list(command)
    mounts = filesystem(output_dir, read_only, hidden, devices)
    render = bwrap_argv if level == "bwrap" else unshare_argv
    return render(mounts, command, env, output_dir.resolve())


@lru_cache
def probe() -> dict[str, str | None]:
    """For each level: None when it works here, else why not. Tried once per process."""
    results: dict[str, str | None] = {}
    for level in LEVELS[:-1]:
        missing = [tool for tool in _TOOLS[level] if _which(tool) is None]
        results[level] = f"not installed: {', '.join(missing)}" if missing else _try(level)
    results["rlimits"] = None
    return results


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=_TOOL_PATH)


def _tool(tool: str) -> str:
    return _which(tool) or tool


def _try(level: str) -> str | None:
    with tempfile.TemporaryDirectory(prefix="rewardforge-probe-") as tmp:
        out = Path(tmp)
        env = {"PATH": "/usr/bin:/bin"}
        command = [PYTHON, "-I", "-c", "import socket; socket.if_nameindex()"]
        try:
            done = subprocess.run(
                wrap(level, command, env, out),
                env=env,
                cwd=out,
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError, SandboxUnavailable) as exc:
            return str(exc)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
    return None


def strongest() -> str:
    """The strongest level that works on this machine."""
    found = probe()
    return next(level for level in LEVELS if found[level] is None)


def resolve(requested: str) -> str:
    """The level to run at: ``requested``, or the strongest for "auto".

    Raises SandboxUnavailable when a level was asked for by name and cannot run.
    """
    if requested == "auto":
        level = strongest()
    elif requested not in LEVELS:
        raise SandboxUnavailable(f"unknown sandbox level {requested!r}; use auto or {LEVELS}")
    elif (reason := probe()[requested]) is not None:
        raise SandboxUnavailable(
            f"sandbox level {requested} cannot run here ({reason}); needs {LEVEL_NEEDS[requested]}"
            ", or set REWARDFORGE_SANDBOX_LEVEL=auto"
        )
    else:
        level = requested
    if level == "rlimits" and level not in _warned:
        _warned.add(level)
        log.warning(
            "SANDBOX LEVEL rlimits: candidate code runs as an ordinary process that can read "
            "what this service reads and reach the network. For kernel isolation: %s",
            LEVEL_NEEDS["bwrap"],
        )
    return level
