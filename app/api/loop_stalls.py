"""Report when the server's event loop stops turning.

Every request and every open event stream is served by one event loop; while
it is blocked (a synchronous call on the loop, a thread holding the GIL, the
process not being scheduled) all of them wait. A watchdog thread sees the loop
miss its ticks and, once a stall passes ``threshold_s``, logs a warning with
what every thread of the process was running at that moment, then the stall's
length when the loop turns again (bench/api_load.py counts those lines).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

TICK_S = 0.02
log = logging.getLogger(__name__)


class LoopStallMonitor:
    def __init__(self, threshold_s: float) -> None:
        self.threshold_s = threshold_s
        self._last_tick = time.monotonic()
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()

    async def _tick(self) -> None:
        while True:
            self._last_tick = time.monotonic()
            await asyncio.sleep(TICK_S)

    def _watch(self) -> None:
        reported_at: float | None = None  # the tick the current stall began after
        while not self._stop.wait(TICK_S):
            last = self._last_tick
            lag = time.monotonic() - last
            if lag > self.threshold_s and reported_at != last:
                reported_at = last
                log.warning(
                    "event loop blocked for %.0f ms so far; threads:\n%s",
                    lag * 1000,
                    self._stacks(),
                )
            elif reported_at is not None and last != reported_at:
                stall = last - reported_at  # when it turned again, minus when it stopped
                log.warning("event loop was blocked for %.0f ms", stall * 1000)
                reported_at = None

    def _stacks(self) -> str:
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        parts = []
        for ident, frame in sys._current_frames().items():
            label = "event loop" if ident == self._loop_thread else names.get(ident, ident)
            stack = "".join(traceback.format_stack(frame, limit=12))
            parts.append(f"--- {label}\n{stack}")
        return "\n".join(parts)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LoopStallMonitor]:
        """Watch the running loop while the context is open."""
        self._loop_thread = threading.get_ident()
        ticker = asyncio.get_running_loop().create_task(self._tick())
        watcher = threading.Thread(target=self._watch, name="loop-stall-watchdog", daemon=True)
        watcher.start()
        try:
            yield self
        finally:
            ticker.cancel()
            self._stop.set()
            watcher.join(timeout=1)
