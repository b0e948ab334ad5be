"""A candidate's TensorBoard event files: linked from its detail, served as a zip of
the event files only, never through a link the sandbox planted."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from sandbox.spec import TENSORBOARD_DIR
from tests.api.conftest import Api
from tests.api.seed import finished_iteration, queued_run


def _write_events(folder: Path) -> None:
    writer = SummaryWriter(log_dir=str(folder))
    for step in range(3):
        writer.add_scalar("candidate/fitness", 1.5 * step, step)
    writer.close()


def test_event_files_download_as_a_zip_that_tensorboard_reads(api: Api, tmp_path: Path) -> None:
    with api.session_factory.begin() as session:
        run = queued_run(session)
        _, without, with_events = finished_iteration(
            session, run=run, index=0, artifacts_dir=api.artifacts_dir
        )
        ids = without.id, with_events.id
        logs = Path(with_events.artifact_dir or "") / TENSORBOARD_DIR
    _write_events(logs / "PPO_1")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for download")
    (logs / "PPO_1" / "events.out.tfevents.planted").symlink_to(secret)
    (logs / "notes.txt").write_text("not an event file")

    detail = api.client.get(f"/api/candidates/{ids[1]}").json()
    assert detail["links"]["tensorboard"] == f"/api/candidates/{ids[1]}/tensorboard"
    response = api.client.get(detail["links"]["tensorboard"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert f"tensorboard_{ids[1]}.zip" in response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert len(names) == 1 and names[0].startswith(f"{ids[1]}/PPO_1/events.out.tfevents.")
        archive.extractall(tmp_path / "unpacked")
    events = EventAccumulator(str(tmp_path / "unpacked" / ids[1] / "PPO_1"))
    events.Reload()
    assert [e.value for e in events.Scalars("candidate/fitness")] == [0.0, 1.5, 3.0]

    assert api.client.get(f"/api/candidates/{ids[0]}").json()["links"]["tensorboard"] is None
    missing = api.client.get(f"/api/candidates/{ids[0]}/tensorboard")
    assert missing.status_code == 404
    assert "no TensorBoard event files" in missing.json()["detail"]
