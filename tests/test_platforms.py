"""Platforms: Linux, macOS or WSL, said clearly; enough open files for the live demos.

- Importing the course never needs POSIX-only modules (fcntl, termios), so that a
  learner on native Windows gets doctor's clear message instead of a traceback.
- The soft open-files limit is raised to what the 200-client demos need, never
  above the hard limit, and doctor reports it (checked in subprocesses whose
  limits are lowered first, as on macOS, where the soft limit starts at 256).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rtlab import doctor
from rtlab.live.limits import NEEDED

ROOT = Path(__file__).resolve().parent.parent


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_live_machinery_imports_and_measures_without_fcntl_and_termios() -> None:
    # As on Windows: the modules do not exist (None in sys.modules makes import fail).
    out = python(
        "import sys; sys.modules['fcntl'] = sys.modules['termios'] = None\n"
        "import asyncio, rtlab, rtlab.live, rtlab.doctor\n"
        "from rtlab.live.proxy import unsent_bytes\n"
        "async def main():\n"
        "    server = await asyncio.start_server(lambda r, w: None, '127.0.0.1', 0)\n"
        "    port = server.sockets[0].getsockname()[1]\n"
        "    _, writer = await asyncio.open_connection('127.0.0.1', port)\n"
        "    n = unsent_bytes(writer.transport)\n"
        "    writer.close(); server.close()\n"
        "    return n\n"
        "print(asyncio.run(main()))\n"
    )
    assert out == "0"


LOWERED = """
import json, resource
from rtlab.doctor import check_open_files
resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))
row = check_open_files()
print(json.dumps({{"status": row.status, "detail": row.detail,
                  "now": resource.getrlimit(resource.RLIMIT_NOFILE)}}))
"""


def hard_limit() -> int:
    resource = pytest.importorskip("resource")
    hard: int = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return hard


def test_a_soft_limit_as_low_as_macos_default_is_raised_to_what_the_demos_need() -> None:
    hard = hard_limit()
    if hard != -1 and hard < NEEDED:
        pytest.skip(f"this machine's hard limit ({hard}) is under {NEEDED}")
    result = json.loads(python(LOWERED.format(soft=256, hard="resource.RLIM_INFINITY"
                                              if hard == -1 else hard)))
    assert result["now"][0] == NEEDED, result
    assert result["status"] == "ok" and "raised from 256" in result["detail"], result


def test_the_soft_limit_never_goes_above_the_hard_limit_and_doctor_warns() -> None:
    result = json.loads(python(LOWERED.format(soft=256, hard=1000)))
    assert result["now"] == [1000, 1000], result
    assert result["status"] == "warn" and "200-client" in result["detail"], result


def test_doctor_says_native_windows_is_not_supported_and_what_to_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor.platform, "system", lambda: "Windows")
    row = doctor.check_platform()
    assert row.status == "fail"
    assert "Linux, macOS or WSL" in row.detail and "Binder" in row.detail


def test_readme_says_which_platforms_and_why() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Linux, macOS or WSL" in readme
    assert "native Windows" in readme
