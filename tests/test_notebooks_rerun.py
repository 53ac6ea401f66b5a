"""Every lesson runs top to bottom twice in one kernel, on one CPU, and leaves nothing behind.

nbval (in `make test`) checks each stored notebook's outputs once. This test
builds each lesson from its source (``notebooks/NN-name.py``, as
``python -m rtlab.lessons`` does), runs its code cells twice in a row in the same
kernel, pinned to one CPU like Binder, and then checks from inside the kernel that
no live server or fleet is still registered, no asyncio task is left running, and
peak memory stayed far below Binder's 2 GB.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from rtlab import lessons

SOURCES = lessons.sources()
BINDER_MEMORY_MB = 2048

# Peak memory is the kernel's own high-water mark (VmHWM). Not ru_maxrss: Linux
# carries that across fork and exec, so the kernel would report the peak of the
# pytest process that started it.
LEFTOVERS = """
import asyncio, json, re
import rtlab.live
current = asyncio.current_task()
pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()
           and "rtlab" in repr(t.get_coro())]
with open("/proc/self/status") as status:
    peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read())[1])
print(json.dumps({
    "registered": sorted(rtlab.live.running()),
    "tasks": [repr(t.get_coro()) for t in pending],
    "peak_mb": peak_kb / 1024,
}))
"""


def runnable(cell: nbformat.NotebookNode) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return cell.cell_type == "code" and "skip-execution" not in tags


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_a_lesson_runs_twice_in_one_kernel_and_leaves_nothing_running(
    path: Path, capsys: pytest.CaptureFixture[str], record_property: Any,
):
    nb = lessons.build(path)
    code = [c for c in nb.cells if runnable(c)]
    twice = nbformat.v4.new_notebook(metadata=nb.metadata)
    twice.cells = [nbformat.v4.new_code_cell(c.source, metadata=c.metadata) for c in code * 2]
    twice.cells.append(nbformat.v4.new_code_cell(LEFTOVERS))
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})  # the kernel inherits one CPU, as on Binder
    started = time.monotonic()
    try:
        NotebookClient(
            twice, timeout=180, kernel_name="python3", allow_errors=False,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        os.sched_setaffinity(0, affinity)
    last = twice.cells[-1].outputs
    printed = "".join(o.get("text", "") for o in last if o.output_type == "stream")
    state = json.loads(printed)
    # The Binder fit, per lesson: shown even when pytest captures output, and in JUnit XML.
    seconds = time.monotonic() - started
    record_property("peak_mb", round(state["peak_mb"]))
    record_property("seconds_twice_on_one_cpu", round(seconds, 1))
    with capsys.disabled():
        print(f"\n[binder fit] {path.stem}: kernel peak {state['peak_mb']:.0f} MB, "
              f"{seconds:.1f} s for two runs on one CPU")
    assert state["registered"] == [], f"{path.name} left live objects running: {state}"
    assert state["tasks"] == [], f"{path.name} left asyncio tasks running: {state['tasks']}"
    assert state["peak_mb"] < BINDER_MEMORY_MB / 2, (
        f"{path.name} peaked at {state['peak_mb']:.0f} MB, too close to Binder's 2 GB"
    )
