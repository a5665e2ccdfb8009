"""Background work at the lowest CPU priority Linux has, so the proxy's event loop goes first.

Niceness is not enough on a core the proxy shares: a niced task still finishes its slice (a
scoring pass, a log flush: milliseconds) before a waking proxy runs. Under ``SCHED_IDLE`` the
kernel preempts it as soon as any normal task wants the core.
"""

from __future__ import annotations

import os

__all__ = ["run_at_idle_priority"]


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
