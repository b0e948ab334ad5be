"""Workers inside the API process (``rewardforge serve``): one thread each, with
a state that /api/ready reads."""

from __future__ import annotations

import threading

from app.config import Settings
from app.db.session import get_session_factory
from app.worker.loop import Worker, default_worker_id


class EmbeddedWorker:
    """A worker on a daemon thread; ``problem`` says why it is not working, if it is not."""

    def __init__(self, settings: Settings, url: str, *, name: str) -> None:
        self.name = name
        self.worker = Worker(
            settings, get_session_factory(url), worker_id=f"{default_worker_id()}:{name}"
        )
        self.thread = threading.Thread(target=self.worker.run_forever, daemon=True, name=name)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        """Ask the worker to stop; its current run goes back to the queue."""
        self.worker.stop.set()

    def problem(self) -> str | None:
        if not self.thread.is_alive():
            return "stopped" if self.thread.ident is not None else "not started"
        return self.worker.problem


def start_embedded_workers(settings: Settings, url: str, count: int) -> list[EmbeddedWorker]:
    """Start ``count`` workers named embedded-0, embedded-1, ... on ``url``."""
    workers = [EmbeddedWorker(settings, url, name=f"embedded-{i}") for i in range(count)]
    for worker in workers:
        worker.start()
    return workers
