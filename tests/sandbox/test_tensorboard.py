"""SB3's TensorBoard event files: written beside the statistics, with the reward's
components and the fitness at every checkpoint."""

from __future__ import annotations

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from sandbox.spec import TENSORBOARD_DIR
from tests.sandbox.jobs import Trained


def test_training_writes_tensorboard_events_with_components_and_fitness(
    trained_pendulum: Trained,
) -> None:
    assert trained_pendulum.returncode == 0, trained_pendulum.stderr
    files = sorted((trained_pendulum.out / TENSORBOARD_DIR).rglob("events.out.tfevents.*"))
    assert files, "no TensorBoard event file"
    assert sum(f.stat().st_size for f in files) < 1024 * 1024
    events = EventAccumulator(str(files[0].parent))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"candidate/fitness", "candidate/reward", "candidate/component_upright"} <= tags
    assert "train/value_loss" in tags  # SB3's own
    steps = [e.step for e in events.Scalars("candidate/component_effort")]
    assert steps and steps == sorted(steps) and steps[-1] <= 2048
