"""act: what distillwatch does about risk (the response ladder; gateway policies; alert sinks)."""

from distillwatch.act._ladder import ACTIONS, DEFAULT_LADDER, Ladder, action_rank

__all__ = ["ACTIONS", "DEFAULT_LADDER", "Ladder", "action_rank"]
