"""The classroom room and the hand-in report, on loopback only.

- Two learners' clients join one room through the front door: each sees the
  other on the roster (awareness) and the text the other typed; so does the
  instructor's view.
- A missing or wrong join token is refused with a close code in 4000-4999 and a
  reason that says what to do, and nothing reaches the room.
- A LAN address is never opened without a token (decided without binding one).
- ``python -m rtlab classroom`` prints how to join, and shows who joined.
- ``python -m rtlab report`` writes one file with passing IDs, attempts and hints.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rtlab.classroom import CLOSE_TOKEN_MISSING, CLOSE_TOKEN_WRONG, Classroom, needs_token
from rtlab.live import stop_all
from rtlab.topics.collaboration import SyncClient

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "open-sesame"


def test_only_loopback_may_go_without_a_token() -> None:
    assert not needs_token("127.0.0.1") and not needs_token("::1")
    assert not needs_token("localhost")
    for lan in ("0.0.0.0", "192.168.1.20", "10.0.0.5", "::", "teacher.local"):
        assert needs_token(lan), lan


def test_a_lan_room_refuses_to_open_without_a_token() -> None:
    async def scenario() -> None:
        with pytest.raises(ValueError, match="join token"):
            await Classroom.open("0.0.0.0", 0)  # refused before anything binds

    asyncio.run(scenario())


def test_two_learners_share_one_roster_and_one_document(tmp_path: Path) -> None:
    async def scenario() -> None:
        room = await Classroom.open("127.0.0.1", 0, token=TOKEN, store=tmp_path)
        try:
            url = room.join_url()
            assert url.startswith("ws://127.0.0.1:") and f"token={TOKEN}" in url
            ada = await SyncClient.start(url, Doc(client_id=1), name="ada",
                                         user={"name": "Ada"})
            bo = await SyncClient.start(url, Doc(client_id=2), name="bo", user={"name": "Bo"})

            def names(client: SyncClient) -> set[str]:
                return {s.get("name") for s in client.peers.values()}

            await ada.wait_for(lambda: {"Bo", "instructor"} <= names(ada))
            await bo.wait_for(lambda: {"Ada", "instructor"} <= names(bo))
            await ada.wait_for(lambda: room.roster() == ["Ada", "Bo"])
            text = ada.doc.get("text", type=Text)
            text += "hello from Ada"
            theirs = bo.doc.get("text", type=Text)
            await bo.wait_for(lambda: str(theirs) == "hello from Ada")
            await bo.stop()
            await ada.wait_for(lambda: "Bo" not in names(ada))  # gone at once, no ghost
            assert room.roster() == ["Ada"]
            assert room.refused == []
        finally:
            await stop_all()

    asyncio.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize(("query", "code"), [
    (f"?token={TOKEN}x", CLOSE_TOKEN_WRONG), ("", CLOSE_TOKEN_MISSING),
    ("?token=", CLOSE_TOKEN_MISSING),
])
def test_a_wrong_or_missing_token_is_refused_with_a_clear_close_code(
    tmp_path: Path, query: str, code: int,
) -> None:
    async def scenario() -> None:
        room = await Classroom.open("127.0.0.1", 0, token=TOKEN, store=tmp_path)
        try:
            insider = await SyncClient.start(room.join_url(), name="insider", user={"name": "In"})
            await insider.wait_for(lambda: room.roster() == ["In"])
            async with connect(f"ws://127.0.0.1:{room.port}/class{query}", proxy=None) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == code and 4000 <= code <= 4999
            assert "token" in closed.value.rcvd.reason
            # The course's own client sees the same code, and never gets in.
            intruder = await SyncClient.start(f"ws://127.0.0.1:{room.port}/class{query}",
                                              name="intruder", user={"name": "Intruder"})
            await intruder.wait_for(lambda: bool(intruder.closes))
            assert intruder.closes[0][0] == code and intruder.connects == 1
            assert not intruder.synced
            await asyncio.sleep(0.2)
            assert room.roster() == ["In"], "a refused client reached the room"
        finally:
            await stop_all()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def scratch_course(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "course.toml", tmp_path / "course.toml")
    for folder in ("exercises", "solutions", "references"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_classroom_command_prints_how_to_join_and_who_joined(tmp_path: Path) -> None:
    course = scratch_course(tmp_path)
    env = {**os.environ, "RTLAB_ROOT": str(course), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtlab", "classroom", "--port", "0", "--token", TOKEN],
        cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    def until(pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"{pattern!r} not printed; the command printed:\n" + "\n".join(seen))

    threading.Thread(target=read, daemon=True).start()
    try:
        url = until(r"^join: (ws://127\.0\.0\.1:\d+/class\?token=\S+)$")[1]
        assert any("loopback: this machine only" in line for line in seen), seen
        assert any(f"Join token: {TOKEN}" in line for line in seen), seen

        async def learner() -> None:
            ada = await SyncClient.start(url, name="ada", user={"name": "Ada"})
            try:
                await ada.wait_for(lambda: ada.synced and bool(ada.peers), timeout=10)
                await asyncio.to_thread(until, r"\+ Ada joined \(1 in the room\)")
                wrong = url.replace(TOKEN, "guess")
                async with connect(wrong, proxy=None) as ws:
                    with pytest.raises(ConnectionClosed):
                        await ws.recv()
                refused = rf"refused a connection at the door \({CLOSE_TOKEN_WRONG}"
                await asyncio.to_thread(until, refused)
            finally:
                await stop_all()

        asyncio.run(asyncio.wait_for(learner(), 40))
        until(r"- Ada left \(0 in the room\)")
    finally:
        proc.terminate()
        proc.wait(10)
    assert (course / ".rtlab" / "classroom").is_dir(), "the room's document is not kept"


def test_report_writes_one_file_with_passing_ids_attempts_and_hints(tmp_path: Path) -> None:
    course = scratch_course(tmp_path)
    env = {**os.environ, "RTLAB_ROOT": str(course), "MPLBACKEND": "Agg"}

    def rtlab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rtlab", *args], cwd=course, env=env,
                              capture_output=True, text=True, timeout=120)

    rtlab("check", "presence")  # the stub: fails
    rtlab("hint", "presence")
    shutil.copy(course / "solutions" / "presence.py", course / "exercises" / "presence.py")
    assert rtlab("check", "presence").returncode == 0
    done = rtlab("report", "--name", "Ada Lovelace", "-o", "hand-in.json")
    assert done.returncode == 0, done.stderr
    assert "hand-in.json" in done.stdout
    report = json.loads((course / "hand-in.json").read_text(encoding="utf-8"))
    assert report["learner"] == "Ada Lovelace" and report["passing"] == 1
    presence = next(e for e in report["exercises"] if e["name"] == "presence")
    assert presence["status"] == "passing"
    assert presence["passing_ids"] == ["presence-flickering", "presence-immediate-removal"]
    assert presence["failing_ids"] == []
    assert presence["attempts"] == 2 and presence["hints_used"] == 1
    assert presence["first_passed"] is not None
    untouched = next(e for e in report["exercises"] if e["name"] == "reconnection")
    assert untouched["status"] == "not started" and untouched["attempts"] == 0
