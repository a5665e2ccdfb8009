"""The graduated response: which action a risk earns.

One ladder serves ``watch`` (the ``action`` of an alert) and the gateway (what it does to the
next call). Steps are ordered; an account is at the highest step whose threshold its risk
reaches. An allowlisted account never goes past ``alert``: vetting lowers the response, it
never hides the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from distillwatch.errors import ConfigError

__all__ = ["ACTIONS", "DEFAULT_LADDER", "Ladder", "action_rank"]

#: Actions from the mildest to the strongest.
ACTIONS: Final = ("observe", "alert", "throttle", "degrade", "block")
_RANK: Final = {name: i for i, name in enumerate(ACTIONS)}


def action_rank(action: str) -> int:
    """Position of ``action`` on the ladder (0 for ``observe``); unknown names are an error."""
    try:
        return _RANK[action]
    except KeyError:
        raise ConfigError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")\
            from None


@dataclass(frozen=True)
class Ladder:
    """Risk thresholds per action (``observe`` is implicit at 0).

    A step left out of ``thresholds`` is never taken; e.g. a provider that never blocks
    automatically leaves ``block`` out (the default). The default ``alert`` step sits at the
    shipped model's ``harvesting`` threshold (0.3348): the model's ``suspicious`` band is a
    review queue for ``scan``, too wide (about 2% of honest accounts) to page anyone on.
    """

    thresholds: Mapping[str, float] = field(default_factory=lambda: {
        "alert": 0.34, "throttle": 0.5, "degrade": 0.7,
    })
    allowlisted_max: str = "alert"

    def __post_init__(self) -> None:
        last = 0.0
        for name in ACTIONS[1:]:
            if name not in self.thresholds:
                continue
            value = float(self.thresholds[name])
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"ladder threshold for {name!r} must be in (0, 1], got {value}")
            if value < last:
                raise ConfigError(f"ladder threshold for {name!r} ({value}) is below a milder "
                                  f"step's ({last}); steps must not decrease")
            last = value
        for name in self.thresholds:
            action_rank(name)
        action_rank(self.allowlisted_max)

    def action_for(self, risk: float, *, allowlisted: bool = False) -> str:
        """The strongest action whose threshold ``risk`` reaches."""
        chosen = "observe"
        for name in ACTIONS[1:]:
            threshold = self.thresholds.get(name)
            if threshold is not None and risk >= threshold:
                chosen = name
        if allowlisted and _RANK[chosen] > _RANK[self.allowlisted_max]:
            chosen = self.allowlisted_max
        return chosen


DEFAULT_LADDER: Final = Ladder()
