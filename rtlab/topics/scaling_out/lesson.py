"""Helpers of lesson 10 (scaling out): the sums behind its prose, printed from the run."""

from __future__ import annotations

from rtlab.topics.scaling_out.demo import ChatResult

__all__ = ["describe_missing", "missing_share"]


def missing_share(result: ChatResult) -> float:
    """The share of the deliveries that should have happened and did not."""
    return result.tally.missing / max(result.tally.expected, 1)


def describe_missing(result: ChatResult, servers: int) -> str:
    """What went missing, against what one room split over ``servers`` predicts: a
    member hears only the senders on its own server, about 1/n of the room."""
    predicted = 1 - 1 / servers
    return (f"{result.tally.missing} of {result.tally.expected} deliveries missing "
            f"({missing_share(result):.0%}); with {servers} servers and no backplane, "
            f"about {predicted:.0%} is what to expect")
