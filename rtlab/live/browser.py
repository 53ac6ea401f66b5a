"""A real headless Chromium for the kernel and the tests: open a page, kill it cleanly.

    browser = await HeadlessChromium.start("probe", server.url + "/page")
    ...                                   # the page talks to your in-kernel server
    await browser.stop()                  # or: await rtlab.live.stop_all()

Chromium comes from the Debian package (``system-packages.txt``);
:func:`chromium_path` says whether it is there. The process is started with
``asyncio.create_subprocess_exec`` (never blocking the event loop that serves
the page) in a process group of its own, so that ``stop()`` kills its helper
processes too; its profile lives in a temporary folder removed on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

from rtlab.live.registry import forget, register

__all__ = ["FLAGS", "HeadlessChromium", "chromium_path"]

def chromium_path() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-proxy-server",
]


class HeadlessChromium:
    """One headless Chromium process showing ``url``; registered, so ``stop_all`` ends it."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, home: Path) -> None:
        self.name, self.proc, self.home = name, proc, home

    @classmethod
    async def start(cls, name: str, url: str) -> HeadlessChromium:
        path = chromium_path()
        if path is None:
            raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
        home = Path(tempfile.mkdtemp(prefix="rtlab-chromium-"))
        with (home / "stderr.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                path, *FLAGS, f"--user-data-dir={home / 'profile'}", url,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=log,
                start_new_session=True,  # its helper processes share the group stop() kills
            )
        browser = cls(name, proc, home)
        await register(name, browser)
        return browser

    def log_tail(self, chars: int = 1500) -> str:
        """The end of Chromium's stderr, for a failure message."""
        log = self.home / "stderr.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    async def stop(self) -> None:
        forget(self.name, self)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def __repr__(self) -> str:
        state = "running" if self.proc.returncode is None else f"exited {self.proc.returncode}"
        return f"<HeadlessChromium {self.name!r} pid {self.proc.pid}, {state}>"
