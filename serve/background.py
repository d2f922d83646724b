"""A periodic loop inside a Serve replica (the orchestrator's re-drive, the CareTrack sweep).

Serve may construct a replica outside its event loop, so the loop starts on the first call that
runs inside one (``ensure``); ``check`` is for the replica's ``check_health``, so a loop that
died takes the replica down and Serve starts a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("clinisight.background")


class Periodic:
    def __init__(self, name: str, step: Callable[[], Awaitable[Any]], interval_s: float,
                 first_delay_s: float = 0.0, jitter: float = 0.0) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        # Each pause is interval_s times a factor drawn from [1 - jitter, 1 + jitter], so
        # replicas and clusters started together do not hit DynamoDB in step.
        self.jitter = jitter
        self.task: asyncio.Task[None] | None = None

    def ensure(self) -> None:
        """Start the loop if it is not running and an event loop is."""
        if self.task is not None and not self.task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # constructed outside the event loop: started on a later call
            return
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                busy = await self.step()
            except Exception as exc:  # one failed pass must not end the loop
                log.warning("%s pass failed: %s", self.name, type(exc).__name__)
                busy = False
            if busy is True:  # a step that found work goes again at once (the drainer)
                await asyncio.sleep(0)
                continue
            await asyncio.sleep(self.pause_s())

    def pause_s(self) -> float:
        return self.interval_s * random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311

    def check(self) -> None:
        if self.task is not None and self.task.done():
            raise RuntimeError(f"{self.name} loop stopped")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
