"""Progress of long jobs: a bar in a terminal, one structured log line every few seconds in the cloud."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from reporting.logs import get_logger

log = get_logger(__name__)


class ProgressReporter:
    """Call with (done, total). Logs done/total, rate and ETA at most every `interval` seconds and at the end."""

    def __init__(self, label: str, *, stream: TextIO | None = None, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, bar: bool | None = None) -> None:
        self._label = label
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_log = float("-inf")
        stream = stream or sys.stderr
        self._bar: Any = None
        if bar if bar is not None else stream.isatty():
            from tqdm import tqdm  # only a terminal draws a bar

            self._bar = tqdm(total=0, desc=label, unit="run", file=stream, dynamic_ncols=True)

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
            if done >= total:
                self._bar.close()
            return
        if done < total and now - self._last_log < self._interval:
            return
        self._last_log = now
        eta = (total - done) / rate if rate > 0 else None
        log.info(f"{self._label} progress", extra={"progress": {
            "done": done, "total": total, "percent": round(100 * done / total, 1) if total else 100.0,
            "rate_per_s": round(rate, 1), "elapsed_s": round(elapsed, 1),
            "eta_s": None if eta is None else round(eta, 1)}})
