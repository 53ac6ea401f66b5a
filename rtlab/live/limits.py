"""The open-files limit: what a process may hold, raised to what the live demos need.

Every loopback WebSocket costs two file descriptors in the kernel that runs both
ends (the client's socket and the server's), plus one per proxy side. The
200-client demos hold about 600; macOS starts processes with a soft limit of 256
(Linux: 1024), far under the hard limit a process may raise itself to. So the
course raises the *soft* limit, never above the hard one, and says what it got.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NEEDED", "OpenFiles", "raise_open_files_limit"]

# The biggest live demo (200 clients through a proxy) with room to spare.
NEEDED = 4096


@dataclass(frozen=True)
class OpenFiles:
    before: int  # soft limit found
    soft: int  # soft limit now
    hard: int  # hard limit (-1: unlimited)

    @property
    def enough(self) -> bool:
        return self.soft < 0 or self.soft >= NEEDED


def raise_open_files_limit(want: int = NEEDED) -> OpenFiles | None:
    """Raise the soft RLIMIT_NOFILE to ``want`` where the hard limit allows; None on Windows."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinity = resource.RLIM_INFINITY

    def shown(limit: int) -> int:
        return -1 if limit == infinity else limit

    if soft == infinity or soft >= want:
        return OpenFiles(shown(soft), shown(soft), shown(hard))
    target = want if hard == infinity else min(want, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):  # macOS may refuse above kern.maxfilesperproc
            target = soft
    return OpenFiles(soft, target, shown(hard))
