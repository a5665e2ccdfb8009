"""Background work at the lowest CPU priority Linux has, so the proxy's event loop goes first.

Niceness is not enough on a core the proxy shares: a niced task still finishes its slice (a
scoring pass, a log flush: milliseconds) before a waking proxy runs. Under ``SCHED_IDLE`` the
kernel preempts it as soon as any normal task wants the core.
"""

from __future__ import annotations

import contextlib
import os
import time

__all__ = ["IdleUnlessStarved", "run_at_idle_priority", "run_at_normal_priority"]


def run_at_idle_priority() -> str | None:
    """Put the calling thread (the whole process when it has one) under ``SCHED_IDLE``.

    Returns None when done, else why not (no such policy here, or the kernel refused); the
    caller then runs at whatever priority it had.
    """
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is None or not hasattr(os, "sched_setscheduler"):
        return "SCHED_IDLE is not available on this system"
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as exc:
        return f"the kernel refused SCHED_IDLE ({exc})"
    return None


def run_at_normal_priority() -> None:
    """Back to the ordinary policy (niceness kept) for the calling thread."""
    if hasattr(os, "sched_setscheduler"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class IdleUnlessStarved:
    """Idle priority while the work keeps up; ordinary priority while it starves.

    ``SCHED_IDLE`` gets almost nothing while other work (not only the proxy) keeps every core
    busy, and scoring or log flushing must still make progress then. After each unit of work
    the caller reports its wall and CPU seconds: a unit that took ``starved_after`` seconds of
    wall time for under a quarter of that in CPU waited for a core, so the thread goes back to
    the ordinary policy (its niceness still applies); after ``relax_after`` seconds of units
    that did not wait, it returns to idle priority.
    """

    def __init__(self, enabled: bool = True, *, starved_after: float = 1.0,
                 relax_after: float = 30.0) -> None:
        self.starved_after = starved_after
        self.relax_after = relax_after
        self.idle = enabled and run_at_idle_priority() is None
        self.enabled = self.idle
        self.switches = 0
        self._since = time.monotonic()

    def observe(self, wall: float, cpu: float) -> None:
        """Account one unit of work (seconds of wall and of CPU time)."""
        if not self.enabled:
            return
        waited = wall >= self.starved_after and cpu < 0.25 * wall
        now = time.monotonic()
        if self.idle and waited:
            run_at_normal_priority()
            self.idle, self._since, self.switches = False, now, self.switches + 1
        elif not self.idle and not waited and now - self._since >= self.relax_after:
            self.idle = run_at_idle_priority() is None
            self._since, self.switches = now, self.switches + 1
        elif not self.idle and waited:
            self._since = now
