"""Data the course uses but does not ship: the real editing traces (CC BY 4.0).

The collaboration module's trace tests and benchmark replay keystroke histories
from the public collection `josephg/editing-traces`. They are not copied into
the repository; they are looked for, in order, in

1. ``$RTLAB_TRACES``;
2. ``../shared/data/editing-traces`` beside the course folder (CI has it);
3. the cache, ``$XDG_CACHE_HOME/rtlab/editing-traces`` (``~/.cache/...``),
   which ``python -m rtlab traces --fetch`` fills from GitHub when the network
   allows, keeping a file only if its sha256 is the one pinned here.

``make bench`` and ``make test`` point ``RTLAB_TRACES`` at the first folder that
has them (``python -m rtlab traces --dir``), and say how to get them otherwise.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rtlab import course

__all__ = ["SOURCE", "TRACES", "DataFile", "cache_dir", "fetch", "find", "how_to_get"]

SOURCE = "https://raw.githubusercontent.com/josephg/editing-traces/master/"
LICENCE = ("CC BY 4.0: automerge-paper by Martin Kleppmann (automerge-perf); "
           "friendsforever and clownschool by Joseph Gentle")
FETCH_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DataFile:
    name: str  # as the course reads it: <name>
    path: str  # within SOURCE
    sha256: str
    size: int


# The bytes the course was tested with (sha256 of the files in ../shared/data/editing-traces).
TRACES = (
    DataFile("automerge-paper.json.gz", "sequential_traces/ascii_only/automerge-paper.json.gz",
             "42c0ff1720c0cad77077e190e36135c9cab9f7bbc266351c0a7fe4981c6a1546", 901_823),
    DataFile("friendsforever.json.gz", "concurrent_traces/friendsforever.json.gz",
             "c80f9ee71bb2f063d58d1db8513d60145f0f7e209f6c72c8600b22eee73a2769", 208_662),
    DataFile("clownschool.json.gz", "concurrent_traces/clownschool.json.gz",
             "b53866c8ab53233755a7b6ad60698a66cad041607e95c07056b036f464240b94", 208_430),
)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rtlab" / "editing-traces"


def candidates() -> list[Path]:
    folders = []
    env = os.environ.get("RTLAB_TRACES")
    if env:
        folders.append(Path(env))
    folders += [course.root().parent / "shared" / "data" / "editing-traces", cache_dir()]
    return folders


def find(files: tuple[DataFile, ...] = TRACES) -> Path | None:
    """The first folder holding every trace, or None."""
    for folder in candidates():
        if all((folder / f.name).is_file() for f in files):
            return folder
    return None


def how_to_get(files: tuple[DataFile, ...] = TRACES) -> str:
    looked = ", ".join(str(p) for p in candidates())
    size = sum(f.size for f in files) / 1e6
    pins = "\n".join(f"  {f.name}  {SOURCE}{f.path}\n    sha256 {f.sha256}" for f in files)
    return (
        f"The editing traces (josephg/editing-traces, {LICENCE}) are not in this "
        f"repository and were not found (looked in: {looked}).\n"
        f"Get them with `python -m rtlab traces --fetch` ({size:.1f} MB into {cache_dir()}, "
        "each file checked against its pinned sha256), or download these files yourself "
        f"and set RTLAB_TRACES to their folder:\n{pins}"
    )


class FetchError(Exception):
    pass


def fetch(files: tuple[DataFile, ...] = TRACES, *, base_url: str = SOURCE,
          dest: Path | None = None, timeout: float = FETCH_TIMEOUT_S) -> Path:
    """Download what ``dest`` (default: the cache) lacks; keep only files whose sha256 matches."""
    folder = dest or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        target = folder / f.name
        if target.is_file() and sha256(target.read_bytes()) == f.sha256:
            continue
        url = base_url + f.path
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except OSError as error:  # URLError, timeouts, refused connections
            raise FetchError(f"could not download {url}: {error}") from error
        digest = sha256(data)
        if digest != f.sha256:
            raise FetchError(f"{url} has sha256 {digest}, not the pinned {f.sha256}: not kept")
        # Atomically: a half-written file must never look like a trace.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{f.name}.")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    return folder


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main_traces(*, fetch_now: bool, print_dir: bool, base_url: str = SOURCE) -> int:
    if print_dir:  # for the Makefile: the folder to use, or nothing
        found = find()
        print(found if found is not None else "")
        return 0
    if fetch_now:
        try:
            folder = fetch(base_url=base_url)
        except FetchError as error:
            print(f"rtlab traces: {error}\n\n{how_to_get()}")
            return 1
        print(f"The editing traces are in {folder} (sha256 checked).")
        return 0
    found = find()
    if found is None:
        print(how_to_get())
        return 1
    print(f"The editing traces are in {found}.")
    return 0
