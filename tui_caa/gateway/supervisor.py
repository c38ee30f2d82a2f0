"""Keeps the gateway's long-lived tasks running and says what is wrong while they are not.

A task that dies of an unexpected error used to stop call recording for good, with nothing but a
log line to show for it. Here it is logged with its stack, restarted with backoff, and reported as
a problem (one short sentence) that the gateway publishes to every console and to `/health`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tui_caa.clock import Clock

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5
LONGEST_DELAY = 30.0
HEALTHY_AFTER = 60.0  # a task that ran this long before failing starts its backoff afresh


class Supervisor:
    def __init__(self, clock: Clock, on_change: Callable[[tuple[str, ...]], None], *,
                 delays: tuple[float, float] = (FIRST_DELAY, LONGEST_DELAY),
                 healthy_after: float = HEALTHY_AFTER) -> None:
        self._clock = clock
        self._on_change = on_change
        self._delays = delays
        self._healthy_after = healthy_after
        self._problems: dict[str, str] = {}  # by what has it (a task, the outbox): insertion order
        self.restarts = 0

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self._problems.values())

    def report(self, key: str, problem: str | None) -> None:
        """Sets (or, with None, clears) the problem of `key`; listeners hear only of changes."""
        if self._problems.get(key) == problem:
            return
        if problem is None:
            del self._problems[key]
        else:
            self._problems[key] = problem
        self._on_change(self.problems)

    def clear(self, key: str) -> None:
        if key in self._problems:
            self.report(key, None)

    async def run(self, name: str, task: Callable[[bool], Awaitable[None]], *, clear_at_start: bool = True) -> None:
        """Runs `task(restarted)` until it returns; restarts it after any unexpected error. With
        `clear_at_start` False the task clears its problem itself once it is really working again
        (the PBX driver: when it has resynced), so a task failing at every start never looks healthy."""
        first, longest = self._delays
        delay = first
        restarted = False
        while True:
            started = self._clock.now()
            if restarted and clear_at_start:
                self.clear(name)
            try:
                await task(restarted)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever it was, the task must come back
                if (self._clock.now() - started).total_seconds() >= self._healthy_after:
                    delay = first
                log.exception("gateway task %s failed; restarting it in %.1f s", name, delay)
                self.report(name, f"{name} failed ({_short(exc)}); restarting in {delay:g} s")
                self.restarts += 1
                await self._clock.sleep(delay)
                delay = min(delay * 2, longest)
                restarted = True


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 120 else text[:119] + "…"
