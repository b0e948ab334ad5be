"""What a Ray node sends back of a candidate's folder: TensorBoard's event files
too, after everything else, and never through a link."""

from __future__ import annotations

from pathlib import Path

from app.execution.bundle import pack, unpack
from app.execution.ray_node import artifact_names
from sandbox.spec import POLICY_FILE, RESULT_FILE, TENSORBOARD_DIR, VIDEO_FILE


def test_event_files_travel_back_last_and_links_stay_behind(tmp_path: Path) -> None:
    node, home = tmp_path / "node", tmp_path / "home"
    logs = node / TENSORBOARD_DIR / "PPO_1"
    logs.mkdir(parents=True)
    for name, data in ((RESULT_FILE, b"{}"), (POLICY_FILE, b"w"), (VIDEO_FILE, b"v")):
        (node / name).write_bytes(data)
    (logs / "events.out.tfevents.1.host").write_bytes(b"events")
    (node / TENSORBOARD_DIR / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    names = artifact_names(node)
    assert names[-1] == f"{TENSORBOARD_DIR}/PPO_1/events.out.tfevents.1.host"
    assert names.index(VIDEO_FILE) < len(names) - 1
    assert not any("elsewhere" in n for n in names)
    bundle, left_out = pack(node, names, max_bytes=1024)
    assert not left_out
    unpack(bundle, home)
    copied = home / TENSORBOARD_DIR / "PPO_1" / "events.out.tfevents.1.host"
    assert copied.read_bytes() == b"events"
