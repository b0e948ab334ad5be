"""What the hostile suite looks at after each run: processes left behind, secrets
that got out, and the checks particular to some cases (what the attack itself
saw, written to loot.json, shows it was really tried)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.execution.cgroup import pids_root
from app.execution.executor import CandidateResult
from app.execution.launcher import LOG_TAIL_BYTES
from sandbox.spec import STATS_FILE

_CHUNK = 1 << 20
MAX_PROCESSES = 64  # the arena's cap on processes per sandbox
FILE_SIZE_MB = 128  # and on the size of one file
DISK_MB = 512  # and on what one sandbox leaves on disk


@dataclass
class Outcome:
    """One run of one case: the gate's rejection, or the candidate's result."""

    tag: str
    out: Path
    gate_error: str | None = None
    result: CandidateResult | None = None
    seconds: float = 0.0
    leftovers: list[str] = field(default_factory=list)

    @property
    def loot(self) -> dict[str, Any]:
        """What a probe recorded (empty when it never got to write it)."""
        try:
            return json.loads((self.out / "loot.json").read_text())
        except (OSError, ValueError):
            return {}

    def summary(self) -> dict[str, Any]:
        if self.result is None:
            return {"gate": (self.gate_error or "").splitlines()[0]}
        return {
            "status": self.result.status,
            "error": (self.result.error or "").splitlines()[:1],
            "seconds": round(self.seconds, 1),
        }


def leftovers(out: Path, tag: str, grace_s: float = 5.0) -> list[str]:
    """Live processes working inside ``out`` or naming it or ``tag`` (after a grace)."""
    give_up = time.monotonic() + grace_s
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cwd = os.readlink(entry / "cwd")
            except (OSError, IndexError):
                continue
            mine = Path(cwd).is_relative_to(out) or str(out) in cmdline or tag in cmdline
            if mine and state != "Z":
                found.append(f"{entry.name} {cmdline[:200]}")
        if not found or time.monotonic() > give_up:
            return found
        time.sleep(0.2)


def leaks(outcome: Outcome, secrets: dict[str, str]) -> list[str]:
    """Which secrets appear in the stored error or in any file the run left."""
    found = []
    error = outcome.result.error if outcome.result else outcome.gate_error
    for name, secret in secrets.items():
        if secret in (error or ""):
            found.append(f"{name} in the error")
    for path in (p for p in outcome.out.rglob("*") if p.is_file() and not p.is_symlink()):
        for name, secret in secrets.items():
            if _contains(path, secret.encode()):
                found.append(f"{name} in {path.name}")
    return found


def _contains(path: Path, needle: bytes) -> bool:
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _refused(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("refused:")


def no_more(outcome: Outcome, arena: Any) -> None:
    """Cases whose common checks say it all."""


def shell_ran(outcome: Outcome, arena: Any) -> None:
    # The shell started inside the sandbox (so the common checks saw real attempts).
    assert isinstance(outcome.loot.get("rc"), int), outcome.loot


def all_refused(*keys: str) -> Callable[[Outcome, Any], None]:
    def check(outcome: Outcome, arena: Any) -> None:
        loot = outcome.loot
        assert loot, "the probe never ran"
        for key in keys:
            assert _refused(loot[key]), (key, loot[key])

    return check


def shadow_unread(outcome: Outcome, arena: Any) -> None:
    shadow = outcome.loot["shadow"]
    assert _refused(shadow) or shadow == "", "read /etc/shadow"


def no_other_candidate(outcome: Outcome, arena: Any) -> None:
    loot = outcome.loot
    assert _refused(loot["other"])
    assert "other-candidate" not in json.dumps(loot)


def writes_stayed_inside(outcome: Outcome, arena: Any) -> None:
    # Each write was refused or landed in the sandbox's private /tmp: none reached the host.
    loot = outcome.loot
    assert len(loot) == 5, loot
    assert [path for path in loot if os.path.exists(path)] == []


def disk_capped(outcome: Outcome, arena: Any) -> None:
    big = outcome.out / "big.bin"
    assert big.stat().st_size <= FILE_SIZE_MB << 20
    loot = outcome.loot
    assert "File too large" in loot["out"]
    assert any(_refused(loot[f"tmp_{n}"]) for n in "abc"), loot
    big.unlink()


def quota_enforced(outcome: Outcome, arena: Any) -> None:
    assert outcome.result is not None and outcome.result.error_kind == "disk_quota"
    assert f"more than {DISK_MB} MB" in (outcome.result.error or "")
    left = [p for p in outcome.out.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in left) < 1 << 20, left  # what it wrote is gone


def stdout_capped(outcome: Outcome, arena: Any) -> None:
    log = (outcome.out / "train.stdout.log").read_text()
    assert log.endswith("THE END") and "earlier bytes dropped" in log
    assert len(log.encode()) <= LOG_TAIL_BYTES + 100


def only_loopback(outcome: Outcome, arena: Any) -> None:
    loot = outcome.loot
    assert loot["names"] == ["lo"], loot
    interfaces = [line.split(":")[0].strip() for line in loot["net_dev"].splitlines()[2:]]
    assert interfaces == ["lo"]


def bomb_stopped(outcome: Outcome, arena: Any) -> None:
    bomb = outcome.loot["bomb"]
    if pids_root() is not None or os.geteuid() != 0:  # a cap that binds root is in force
        assert bomb["stopped"] is not None and bomb["forked"] < MAX_PROCESSES, bomb


def daemon_spawned(outcome: Outcome, arena: Any) -> None:
    assert outcome.loot["daemon"] == "spawned"  # and the common checks found it gone


def sane_fitness(outcome: Outcome, arena: Any) -> None:
    result = outcome.result
    assert result is not None and result.fitness is not None
    assert -1.0 <= result.fitness <= 1.0  # mean uprightness is a cosine


def fitness_not_inflated(outcome: Outcome, arena: Any) -> None:
    sane_fitness(outcome, arena)
    assert outcome.result is not None
    points = outcome.result.stats["checkpoints"]
    trained = [point["fitness"]["max"] for point in points if point.get("fitness")]
    assert max(trained) >= 1e5  # the patch took in the sandbox; the evaluator never saw it


def pickle_never_ran(outcome: Outcome, arena: Any) -> None:
    assert not (outcome.out / "PWNED_BY_PICKLE").exists()
    assert outcome.result is not None and outcome.result.error_kind == "evaluation"


def stats_refused(outcome: Outcome, arena: Any) -> None:
    assert outcome.result is not None
    assert outcome.result.error_kind == "refused" and outcome.result.stats == {}


def components_capped(outcome: Outcome, arena: Any) -> None:
    sane_fitness(outcome, arena)
    assert outcome.result is not None
    stats = outcome.result.stats
    assert stats["truncated"] and 0 < len(stats["component_names"]) <= 64
    assert all(len(name) <= 64 for name in stats["component_names"])


def links_removed(outcome: Outcome, arena: Any) -> None:
    assert not [p for p in outcome.out.rglob("*") if p.is_symlink()]
    assert not (outcome.out / STATS_FILE).exists()  # the FIFO is gone
    assert outcome.result is not None and outcome.result.error_kind == "refused"


CHECKS: dict[str, Callable[[Outcome, Any], None]] = {
    "os_system": shell_ran,
    "subprocess": shell_ran,
    "ctypes": shell_ran,
    "importlib": shell_ran,
    "numpy_ctypeslib": shell_ran,
    "subclasses": shell_ran,
    "read_shadow": shadow_unread,
    "read_database": all_refused("db", "sql"),
    "read_dotenv": all_refused("dotenv"),
    "api_keys": all_refused("service"),
    "list_candidates": no_other_candidate,
    "write_outside": writes_stayed_inside,
    "fill_disk": disk_capped,
    "files_in_a_loop": quota_enforced,
    "deleted_files_held_open": quota_enforced,
    "huge_stdout": stdout_capped,
    "connect_loopback_ip": all_refused("tcp"),
    "connect_localhost": all_refused("tcp"),
    "connect_service_port": all_refused("tcp", "http"),
    "interfaces": only_loopback,
    "fork_bomb": bomb_stopped,
    "setsid_child": daemon_spawned,
    "endless_threads": sane_fitness,
    "signal_service": all_refused("service"),
    "monkeypatch_fitness": fitness_not_inflated,
    "pickle_weights": pickle_never_ran,
    "giant_stats": stats_refused,
    "many_components": components_capped,
    "plant_links": links_removed,
}
