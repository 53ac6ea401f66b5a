"""Check that this machine can run the course, in a few seconds.

From a terminal: ``make doctor`` (or ``python -m rtlab doctor``, ``python -m rtlab.doctor``).
From a notebook cell, where an event loop is already running::

    from rtlab.doctor import doctor_async
    await doctor_async()

``run_doctor()`` works in both places: inside a running loop it does its async
checks on a fresh event loop in a separate thread.

Each check gives one row: ``ok``, ``warn`` (works, but look at the detail) or
``fail`` (the course will not work until it is fixed). Optional parts that no
module needs yet (Redis, Chromium, Node.js) are never a failure.
"""

from __future__ import annotations

import asyncio
import html
import importlib.metadata
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rtlab.live.browser import chromium_path

Status = Literal["ok", "warn", "fail"]

MIN_PYTHON = (3, 11)
SYMBOLS: dict[Status, str] = {"ok": "✓", "warn": "!", "fail": "✗"}
ROUND_TRIP_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    status: Status
    detail: str


@dataclass(repr=False)
class DoctorReport:
    """The result of all checks; prints as aligned text, shows as a table in Jupyter."""

    rows: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings are allowed)."""
        return all(row.status != "fail" for row in self.rows)

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def summary(self) -> str:
        fails, warns = self.count("fail"), self.count("warn")
        verdict = "ready for the course" if self.ok else "NOT ready: fix the ✗ rows"
        return (
            f"{verdict} ({len(self.rows)} checks, {fails} failed, "
            f"{warns} warning{'' if warns == 1 else 's'}, "
            f"{self.seconds:.1f} s)"
        )

    def __str__(self) -> str:
        width = max((len(row.name) for row in self.rows), default=0)
        return "\n".join(
            f"{SYMBOLS[row.status]} {row.name.ljust(width)}  {row.detail}" for row in self.rows
        )

    def __repr__(self) -> str:
        return f"{self}\n{self.summary()}"

    def _repr_html_(self) -> str:
        colours: dict[Status, str] = {"ok": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}
        cells = "".join(
            "<tr>"
            f'<td style="color:{colours[row.status]};font-weight:bold">'
            f"{SYMBOLS[row.status]}</td>"
            f"<td><code>{html.escape(row.name)}</code></td>"
            f'<td style="text-align:left">{html.escape(row.detail)}</td>'
            "</tr>"
            for row in self.rows
        )
        return (
            "<table>"
            "<thead><tr><th></th><th>check</th>"
            '<th style="text-align:left">detail</th></tr></thead>'
            f"<tbody>{cells}</tbody>"
            f'<caption style="caption-side:bottom;text-align:left">'
            f"{html.escape(self.summary())}</caption>"
            "</table>"
        )


# --- checks that block (run in a worker thread by doctor_async) ---------------------


def check_python() -> Check:
    version = platform.python_version()
    if sys.version_info >= MIN_PYTHON:
        return Check("python", "ok", f"{version} ({sys.executable})")
    need = ".".join(map(str, MIN_PYTHON))
    return Check("python", "fail", f"{version}: the course needs Python {need} or newer")


def _course_root() -> Path | None:
    try:
        from rtlab.course import root
    except ImportError:
        return None
    try:
        return root()
    except FileNotFoundError:
        return None


def read_pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file (markers that do not apply dropped)."""
    from packaging.markers import Marker

    pins: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-") or "==" not in line:
            continue
        requirement, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = requirement.partition("==")
        pins[name.strip()] = version.strip()
    return pins


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_pins(name: str, path: Path, verbose: bool) -> list[Check]:
    """Installed versions against the pins of requirements.in or requirements.txt."""
    if not path.exists():
        return [Check(name, "warn", f"{path.name} not found: versions not checked")]
    pins = read_pins(path)
    missing: list[str] = []
    different: list[str] = []
    rows: list[Check] = []
    for package, pinned in sorted(pins.items()):
        installed = _installed(package)
        if installed is None:
            missing.append(package)
            if verbose:
                rows.append(Check(f"  {package}", "fail", f"not installed ({pinned} pinned)"))
        elif installed != pinned:
            different.append(f"{package} {installed} (pinned {pinned})")
            if verbose:
                rows.append(Check(f"  {package}", "warn", f"{installed}, pinned {pinned}"))
        elif verbose:
            rows.append(Check(f"  {package}", "ok", installed))
    fix = "run `make setup` (or `make clean setup`)"
    if missing:
        head = Check(name, "fail", f"missing: {', '.join(missing)}; {fix}")
    elif different:
        head = Check(
            name, "warn", f"other versions than the course's: {'; '.join(different)}; {fix}"
        )
    else:
        head = Check(name, "ok", f"all {len(pins)} pins of {path.name} installed")
    return [head, *rows]


def check_platform() -> Check:
    """The course runs on Linux, macOS or WSL: it relies on POSIX sockets and limits."""
    system = platform.system()
    if system == "Windows":
        return Check(
            "platform", "fail",
            "native Windows is not supported: the course needs Linux, macOS or WSL "
            "(POSIX socket ioctls for the fault proxy, fork-safe subprocesses, make); "
            "install WSL (wsl --install) and run the course inside it, or use Binder",
        )
    wsl = "microsoft" in platform.release().lower()
    return Check("platform", "ok", f"{'WSL' if wsl else system} {platform.release()}")


def check_open_files() -> Check:
    """Raise the soft open-files limit (as the live demos need), then report it."""
    from rtlab.live.limits import NEEDED, raise_open_files_limit

    limit = raise_open_files_limit()
    if limit is None:
        return Check("open files", "warn", "no open-files limit to check on this system")
    hard = "unlimited" if limit.hard < 0 else str(limit.hard)
    soft = "unlimited" if limit.soft < 0 else str(limit.soft)
    raised = f", raised from {limit.before}" if limit.soft != limit.before else ""
    if limit.enough:
        return Check("open files", "ok", f"soft limit {soft}{raised} (hard {hard})")
    return Check(
        "open files", "warn",
        f"soft limit {soft} (hard {hard}): the 200-client demos need about {NEEDED}; "
        f"raise the hard limit (e.g. `ulimit -Hn {NEEDED}` as admin) or run fewer clients",
    )


def check_loopback_bind() -> Check:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            port = sock.getsockname()[1]
    except OSError as exc:
        return Check("loopback", "fail", f"cannot listen on 127.0.0.1: {exc}")
    return Check("loopback", "ok", f"listened on 127.0.0.1:{port}")


def check_proxy_bypass() -> Check | None:
    """A proxy from the environment that does not exempt loopback breaks local clients."""
    proxies = urllib.request.getproxies()
    if not proxies:
        return None
    if urllib.request.proxy_bypass("127.0.0.1:8765"):
        return Check("proxy", "ok", "a proxy is set; loopback bypasses it (NO_PROXY)")
    return Check(
        "proxy",
        "warn",
        f"proxy set for {', '.join(sorted(proxies))} and loopback is not exempt: clients "
        "that honour proxies (websockets, httpx) will send local traffic there; "
        "export NO_PROXY=127.0.0.1,localhost,::1",
    )


def check_kernelspec() -> Check:
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError:
        return Check("kernel", "fail", "jupyter_client is not installed; run `make setup`")
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Check("kernel", "fail", "no python3 kernel: ipykernel is missing; run `make setup`")
    executable = spec.argv[0] if spec.argv else ""
    # jupyter_client launches "python"/"python3" with the Python that runs Jupyter.
    if executable in {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}:
        return Check("kernel", "ok", f"python3 kernel ({spec.display_name}) runs this Python")
    try:
        same = Path(executable).resolve() == Path(sys.executable).resolve()
    except OSError:
        same = False
    if same:
        return Check("kernel", "ok", f"python3 kernel ({spec.display_name}) runs this Python")
    return Check(
        "kernel",
        "warn",
        f"the python3 kernel runs {executable}, not {sys.executable}: notebooks may miss "
        f"rtlab; use `make lab`, or remove the global kernel in {spec.resource_dir}",
    )


def check_course_files() -> Check:
    course_root = _course_root()
    if course_root is None:
        return Check(
            "course",
            "warn",
            "course.toml not found: run from the course folder or set RTLAB_ROOT",
        )
    progress = course_root / ".rtlab"
    target = progress if progress.exists() else course_root
    if not os.access(target, os.W_OK):
        return Check("course", "warn", f"{target} is not writable: progress cannot be saved")
    return Check("course", "ok", f"course files in {course_root}")


def _version_of(command: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def _optional_missing(name: str, what: str, install: str) -> Check:
    return Check(name, "warn", f"not found (optional, not needed yet: {what}); install: {install}")


def check_redis() -> Check:
    path = shutil.which("redis-server")
    if path is None:
        return _optional_missing(
            "redis-server", "the scaling-out module", "sudo apt-get install redis-server"
        )
    version = _version_of([path, "--version"])
    return Check("redis-server", "ok", f"{version or 'found'} ({path})")


def check_haproxy() -> Check:
    path = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)
    if path is None:
        return _optional_missing(
            "haproxy", "the scaling-out module's load balancer", "sudo apt-get install haproxy"
        )
    version = _version_of([path, "-v"])
    return Check("haproxy", "ok", f"{version or 'found'} ({path})")


def check_chromium() -> Check:
    path = chromium_path()
    if path is None:
        return _optional_missing(
            "chromium",
            "browser tests of EventSource and WebSocket",
            "sudo apt-get install chromium",
        )
    return Check("chromium", "ok", path)


def check_node() -> Check:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        absent = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        return _optional_missing(
            "node+npm",
            f"the Yjs reference server ({absent} missing)",
            "sudo apt-get install nodejs npm",
        )
    node_version = _version_of([node, "--version"]) or "?"
    npm_version = _version_of([npm, "--version"]) or "?"
    return Check("node+npm", "ok", f"node {node_version}, npm {npm_version}")


def blocking_checks(verbose: bool) -> list[Check]:
    """Every check except the WebSocket round trip, in report order."""
    course_root = _course_root()
    rows = [check_python(), check_platform()]
    base = course_root if course_root is not None else Path.cwd()
    rows += check_pins("packages", base / "requirements.in", verbose)
    if verbose:
        rows += check_pins("lock", base / "requirements.txt", verbose=False)
    rows += [check_course_files(), check_kernelspec(), check_loopback_bind(), check_open_files()]
    proxy = check_proxy_bypass()
    if proxy is not None:
        rows.append(proxy)
    return rows


def optional_checks() -> list[Check]:
    checks: list[Callable[[], Check]] = [check_redis, check_haproxy, check_chromium, check_node]
    return [check() for check in checks]


# --- the async check -------------------------------------------------------------


async def check_websocket_round_trip() -> Check:
    """Serve a WebSocket echo on 127.0.0.1 and send it one message from a client."""
    try:
        from websockets.asyncio.client import connect
        from websockets.asyncio.server import ServerConnection, serve
    except ImportError:
        return Check(
            "websockets",
            "fail",
            "websockets.asyncio is missing (websockets >= 13 needed); run `make setup`",
        )

    async def echo(connection: ServerConnection) -> None:
        async for message in connection:
            await connection.send(message)

    try:
        async with asyncio.timeout(ROUND_TRIP_TIMEOUT_S):
            async with serve(echo, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                # proxy=None: a proxy from the environment must not see loopback traffic.
                async with connect(f"ws://127.0.0.1:{port}", proxy=None) as client:
                    start = time.perf_counter()
                    await client.send("ping")
                    reply = await client.recv()
                    elapsed_ms = (time.perf_counter() - start) * 1000
    except TimeoutError:
        return Check(
            "websockets", "fail", f"no echo within {ROUND_TRIP_TIMEOUT_S:.0f} s on loopback"
        )
    except OSError as exc:
        return Check("websockets", "fail", f"loopback WebSocket failed: {exc}")
    if reply != "ping":
        return Check("websockets", "fail", f"echo returned {reply!r} instead of 'ping'")
    version = _installed("websockets") or "?"
    return Check(
        "websockets",
        "ok",
        f"echo round trip on ws://127.0.0.1 in {elapsed_ms:.1f} ms (websockets {version})",
    )


# --- entry points ------------------------------------------------------------------


async def doctor_async(verbose: bool = False) -> DoctorReport:
    """Run every check without blocking the running event loop (use in notebooks)."""
    start = time.perf_counter()
    rows = await asyncio.to_thread(blocking_checks, verbose)
    rows.append(await check_websocket_round_trip())
    rows += await asyncio.to_thread(optional_checks)
    return DoctorReport(rows, time.perf_counter() - start)


def run_doctor(verbose: bool = False) -> DoctorReport:
    """Run every check; works with or without a running event loop (e.g. Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(doctor_async(verbose))
    # A loop is running in this thread (a notebook cell): asyncio.run() would fail,
    # so run the checks on a fresh loop in a worker thread and wait for it.
    result: list[DoctorReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            result.append(asyncio.run(doctor_async(verbose)))
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=worker, name="rtlab-doctor", daemon=True)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def main_doctor(verbose: bool = False) -> int:
    """Print the report; exit code 0 when nothing failed (for ``python -m rtlab doctor``)."""
    report = run_doctor(verbose)
    print(report)
    print()
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main_doctor(verbose="-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]))
