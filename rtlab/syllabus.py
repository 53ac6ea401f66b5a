"""Every ID of the skill's references: the course's syllabus.

The IDs (and severities) come from ``shared/seed/reference-digest.md``, plus a
few course checks of our own (``COURSE_CHECKS``);
patterns and anti-patterns, which the digest names, get slugs of their names.
``references/*.md`` has one entry per ID, ``course.toml`` says which module
teaches it, and the tests keep the three in agreement.
"""

from __future__ import annotations

VALIDATIONS: dict[str, str] = {
    "missing-reconnection-logic": "error",
    "missing-heartbeat": "error",
    "reconnect-without-jitter": "error",
    "presence-immediate-removal": "warning",
    "unbounded-message-queue": "warning",
    "broadcast-n-queries": "warning",
    "sse-missing-retry": "warning",
    "sse-missing-event-id": "warning",
    "missing-message-ordering": "warning",
    "join-without-backfill": "warning",
    "websocket-binary-json": "info",
    "socket-io-no-adapter": "info",
    "polling-as-realtime": "info",
    "cursor-high-frequency": "info",
}

SHARP_EDGES: dict[str, str] = {
    "websocket-thundering-herd": "critical",
    "half-open-connection-ghost": "critical",
    "presence-flickering": "high",
    "message-ordering-race": "high",
    "backpressure-oom": "high",
    "sticky-session-bypass": "high",
    "sse-retry-flood": "medium",
    "websocket-proxy-timeout": "medium",
    "broadcast-amplification": "medium",
    "reconnection-state-loss": "medium",
    "room-join-race-condition": "medium",
}

PATTERNS: dict[str, str] = {
    "exponential-backoff-with-jitter": "Exponential Backoff with Jitter",
    "heartbeat-with-server-confirmation": "Heartbeat with Server Confirmation",
    "presence-with-tombstones": "Presence with Tombstones",
    "sse-with-event-ids-for-resume": "SSE with Event IDs for Resume",
    "message-ordering-with-vector-clocks": "Message Ordering with Vector Clocks",
}

ANTI_PATTERNS: dict[str, str] = {
    "reconnect-immediately": "Reconnect Immediately",
    "polling-disguised-as-real-time": "Polling Disguised as Real-time",
    "trusting-connection-state": "Trusting Connection State",
    "presence-without-grace-period": "Presence Without Grace Period",
    "synchronizing-full-state": "Synchronizing Full State",
    "websocket-for-everything": "WebSocket for Everything",
}

# The course's own checks: properties its graders guard that no ID of the digest
# names. They sit beside the validations (same page, same form) but apart from
# them, so the syllabus still matches the digest exactly.
COURSE_CHECKS: dict[str, str] = {
    "websocket-message-limits": "warning",
    "awareness-ghost": "warning",
}

# Which reference page holds each kind of entry.
PAGES: dict[str, dict[str, str]] = {
    "references/validations.md": {**VALIDATIONS, **COURSE_CHECKS},
    "references/sharp_edges.md": SHARP_EDGES,
    "references/patterns.md": {**PATTERNS, **ANTI_PATTERNS},
}


def reference_link(id: str) -> str:
    """Where the entry for ``id`` lives, e.g. ``references/validations.md#missing-heartbeat``."""
    for page, ids in PAGES.items():
        if id in ids:
            return f"{page}#{id}"
    raise KeyError(f"{id!r} is not an ID of the syllabus")
