"""The editing traces: found where they are, fetched (sha256-checked) where they are not.

Every download here comes from a loopback HTTP server in the test, never from
the internet: it serves files with the layout of the public repository.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from rtlab import datasets
from rtlab.datasets import DataFile, FetchError

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "editing-traces"


class Mirror:
    """A loopback HTTP server serving ``folder``; counts the requests."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                mirror.requests.append(self.path)

        handler = partial(Handler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mirror, Path]]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    served = tmp_path / "served"
    served.mkdir()
    m = Mirror(served)
    yield m, served
    m.close()


def pinned(served: Path, path: str, data: bytes) -> DataFile:
    (served / path).parent.mkdir(parents=True, exist_ok=True)
    (served / path).write_bytes(data)
    return DataFile(Path(path).name, path, hashlib.sha256(data).hexdigest(), len(data))


def test_fetch_downloads_into_the_cache_once_and_checks_the_sha256(
    mirror: tuple[Mirror, Path], tmp_path: Path,
) -> None:
    server, served = mirror
    files = (pinned(served, "sequential_traces/a.json.gz", b"first trace"),
             pinned(served, "concurrent_traces/b.json.gz", b"second trace"))
    cache = tmp_path / "cache"
    assert datasets.fetch(files, base_url=server.url, dest=cache) == cache
    assert (cache / "a.json.gz").read_bytes() == b"first trace"
    assert (cache / "b.json.gz").read_bytes() == b"second trace"
    assert len(server.requests) == 2
    datasets.fetch(files, base_url=server.url, dest=cache)
    assert len(server.requests) == 2, "files already in the cache were downloaded again"


def test_a_file_whose_sha256_differs_from_the_pin_is_not_kept(
    mirror: tuple[Mirror, Path], tmp_path: Path,
) -> None:
    server, served = mirror
    good = pinned(served, "t/a.json.gz", b"the real bytes")
    (served / "t" / "a.json.gz").write_bytes(b"tampered bytes")
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match="sha256"):
        datasets.fetch((good,), base_url=server.url, dest=cache)
    assert list(cache.iterdir()) == [], "a file that failed its check was left behind"


def test_no_network_gives_a_clear_error(tmp_path: Path) -> None:
    closed = Mirror(tmp_path)
    url = closed.url
    closed.close()  # nothing listens there any more
    files = (DataFile("a.json.gz", "a.json.gz", "0" * 64, 1),)
    with pytest.raises(FetchError, match="could not download"):
        datasets.fetch(files, base_url=url, dest=tmp_path / "cache", timeout=5)


def test_the_traces_are_looked_for_in_rtlab_traces_then_beside_the_course_then_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = (DataFile("a.json.gz", "a.json.gz", "0" * 64, 1),)
    course, cache = tmp_path / "course", tmp_path / "xdg" / "rtlab" / "editing-traces"
    monkeypatch.setenv("RTLAB_ROOT", str(course))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("RTLAB_TRACES", str(tmp_path / "empty"))
    assert datasets.find(files) is None
    message = datasets.how_to_get(files)
    for expected in ("python -m rtlab traces --fetch", "RTLAB_TRACES", "sha256", "CC BY 4.0",
                     datasets.SOURCE + "a.json.gz", str(cache)):
        assert expected in message, f"{expected!r} missing from:\n{message}"
    cache.mkdir(parents=True)
    (cache / "a.json.gz").write_bytes(b"x")
    assert datasets.find(files) == cache
    sibling = tmp_path / "shared" / "data" / "editing-traces"
    sibling.mkdir(parents=True)
    (sibling / "a.json.gz").write_bytes(b"x")
    assert datasets.find(files) == sibling
    monkeypatch.setenv("RTLAB_TRACES", str(sibling.parent))
    (sibling.parent / "a.json.gz").write_bytes(b"x")
    assert datasets.find(files) == sibling.parent


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/editing-traces is absent")
def test_the_pins_are_the_traces_the_course_is_tested_with() -> None:
    for f in datasets.TRACES:
        data = (SHARED / f.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size, f.name


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/editing-traces is absent")
def test_the_command_fetches_the_real_traces_from_a_mirror_into_the_cache(
    mirror: tuple[Mirror, Path], tmp_path: Path,
) -> None:
    server, served = mirror
    for f in datasets.TRACES:  # the public repository's layout, the real bytes
        (served / f.path).parent.mkdir(parents=True, exist_ok=True)
        (served / f.path).write_bytes((SHARED / f.name).read_bytes())
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg"),
           "RTLAB_TRACES": str(tmp_path / "nowhere"), "RTLAB_ROOT": str(tmp_path / "course"),
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

    def rtlab(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rtlab", "traces", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    before = rtlab()
    assert before.returncode == 1 and "--fetch" in before.stdout
    assert rtlab("--dir").stdout.strip() == ""
    fetched = rtlab("--fetch", "--from", server.url)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    cache = tmp_path / "xdg" / "rtlab" / "editing-traces"
    assert rtlab("--dir").stdout.strip() == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(f.name for f in datasets.TRACES)
