"""The alerts evaluation inside `tally serve`: a daemon thread running the evaluation every
`interval` seconds (the first one interval after start). A failing run is logged and the next runs
on time; several serve processes on one TALLY_HOME share the work through the run lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("tally.alerts")


def _described(outcome: object) -> object:
    as_dict = getattr(outcome, "as_dict", None)
    return as_dict() if callable(as_dict) else outcome


class AlertScheduler:
    def __init__(self, run: Callable[[], object], interval: float) -> None:
        if interval <= 0:
            raise ValueError("the alerts schedule needs a positive interval")
        self.run, self.interval = run, interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tally-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                log.info("alerts evaluated: %s", _described(self.run()))
            except Exception:  # the scheduler outlives any one run's failure
                log.exception("an alerts evaluation failed")
            self.runs += 1
