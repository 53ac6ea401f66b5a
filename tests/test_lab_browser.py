"""A learner's first steps in real JupyterLab, in headless Chromium.

nbval runs the notebooks but sees neither widgets, nor links, nor the editor.
This test starts JupyterLab exactly as ``make lab`` does (the Makefile's own
command line, from ``make lab-command``) on a scratch copy of the course, and
drives Chromium through the DevTools protocol over a WebSocket:

1. ``/`` opens the first notebook (``make lab``'s default URL) and the news
   prompt is off (the course's settings override);
2. the presence lesson opens, every cell runs, no cell shows an error and the
   roster widgets render their chips;
3. the lesson's link to ``../exercises/presence.py`` opens that file in the
   editor, and a link to ``../references/`` opens the reference;
4. the lesson's check cell shows the grader's report (the untouched stub
   fails), and the report's own link to ``../references/`` opens too;
5. the collaboration lesson runs too, and its editors show the shared text.

A screenshot of each step is kept in pytest's temporary folder; a failure
names them. Chromium comes from the Debian package: without it the test is
skipped, except under ``CI=true``, where it must run. ``window.jupyterapp`` is
JupyterLab's own switch for tests (``--LabApp.expose_app_in_browser``).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from rtlab.live.browser import FLAGS, chromium_path

ROOT = Path(__file__).resolve().parent.parent
LESSON = "notebooks/06-presence.ipynb"
COLLAB = "notebooks/09-sync-protocol.ipynb"  # the lesson with the live editors
FIRST = "notebooks/00-start-here.ipynb"
EXERCISE = "exercises/presence.py"
# What a learner's course folder holds; copied so that grading writes no progress here.
COURSE_FILES = ("Makefile", "course.toml", FIRST, LESSON, COLLAB, "jupyter")
COURSE_LINKS = ("js",)  # the collaboration lesson's npm packages: large, only read
COURSE_FOLDERS = ("exercises", "solutions", "references")
RUN_ALL_TIMEOUT_S = 90
STEP_TIMEOUT_S = 20
# Nothing of the test goes through a proxy from the environment.
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scratch_course(folder: Path) -> Path:
    course = folder / "course"
    for name in COURSE_FILES:
        source, target = ROOT / name, course / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    for name in COURSE_FOLDERS:
        shutil.copytree(ROOT / name, course / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in COURSE_LINKS:
        (course / name).symlink_to(ROOT / name)
    return course


def lab_command(course: Path, port: int) -> list[str]:
    """The command line of ``make lab``, as the Makefile builds it for this folder."""
    done = subprocess.run(
        ["make", "-s", "-C", str(course), "lab-command", f"VENV={sys.prefix}",
         "HOST=127.0.0.1", f"PORT={port}"],
        capture_output=True, text=True, check=True, timeout=30,
    )
    return shlex.split(done.stdout.strip().splitlines()[-1])


class DevTools:
    """The DevTools protocol of one page: commands and JavaScript, nothing else."""

    def __init__(self, ws: ClientConnection, shots: Path) -> None:
        self.ws, self.shots = ws, shots
        self.ids = itertools.count(1)
        self.taken: list[Path] = []
        self.times: list[tuple[str, float]] = []  # (step, when), for the timing line

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:  # events (none are enabled, but be safe) are skipped
            message = json.loads(self.ws.recv(timeout=STEP_TIMEOUT_S))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"DevTools {method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def js(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise AssertionError(f"JavaScript failed: {text}\n{expression}")
        return result["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = STEP_TIMEOUT_S) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not seen within {timeout:g} s")
            time.sleep(0.25)

    def screenshot(self, name: str) -> Path:
        self.times.append((name, time.monotonic()))
        path = self.shots / f"{len(self.taken) + 1:02d}-{name}.png"
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        self.taken.append(path)
        return path


@contextmanager
def jupyterlab(course: Path, home: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """JupyterLab as ``make lab`` starts it, plus a token and the app exposed for tests."""
    port, token = free_port(), secrets.token_hex(16)
    command = [
        *lab_command(course, port),
        "--no-browser", f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
    ]
    env = {
        **os.environ,
        "RTLAB_ROOT": str(course),  # the kernel and the grader use the scratch copy
        "MPLBACKEND": "Agg",
        # No settings, workspaces or config of whoever runs the tests.
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    log = (home / "jupyterlab.log").open("wb")
    proc = subprocess.Popen(
        command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                LOCAL.open(f"{base}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "JupyterLab did not start:\n" + lab_log(home)) from None
                time.sleep(0.2)
        yield f"{base}|{token}", proc
    finally:
        with_group(proc, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with_group(proc, signal.SIGKILL)
            proc.wait()
        log.close()


def with_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def lab_log(home: Path) -> str:
    path = home / "jupyterlab.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextmanager
def chromium(home: Path) -> Iterator[ClientConnection]:
    """Headless Chromium with the course's flags, driven through its DevTools WebSocket."""
    path = chromium_path()
    assert path is not None
    profile = home / "chromium"
    log = (home / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [path, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1400,1000", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
        start_new_session=True,  # its helper processes share the group killed at the end
    )
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (active.exists() and active.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("Chromium did not start: " + (
                    home / "chromium.log").read_text(errors="replace")[-1500:])
            time.sleep(0.1)
        port = int(active.read_text().splitlines()[0])
        targets = json.loads(LOCAL.open(f"http://127.0.0.1:{port}/json/list", timeout=5).read())
        page = next(t for t in targets if t["type"] == "page")
        with connect(
            page["webSocketDebuggerUrl"], max_size=2**26, proxy=None, ping_interval=None
        ) as ws:
            yield ws
    finally:
        with_group(proc, signal.SIGKILL)
        proc.wait()
        log.close()


# -- JavaScript run in the page (jupyterapp is JupyterLab's application) -----------------

# The tab showing a file. Not shell.currentWidget: that follows the keyboard focus,
# which a headless window never has.
def tab(path: str) -> str:
    return (f"[...jupyterapp.shell.widgets('main')].find("
            f"w => w.context && w.context.path === {json.dumps(path)})")


def lesson_ready(path: str) -> str:
    return f"""(() => {{
  const w = window.jupyterapp && {tab(path)};
  const kernel = w && w.sessionContext && w.sessionContext.session
    && w.sessionContext.session.kernel;
  return !!(w && w.context.isReady && kernel && kernel.status === 'idle');
}})()"""


STATE = """(() => {
  const w = window.rtlabLesson;
  const s = w && w.sessionContext;
  return JSON.stringify({
    app: !!window.jupyterapp, lesson: w ? w.context.path : null,
    tabs: window.jupyterapp ? [...jupyterapp.shell.widgets('main')].map(w => w.title.label) : [],
    kernel: s && s.session && s.session.kernel ? s.session.kernel.status : null,
    dialog: (document.querySelector('.jp-Dialog') || {}).innerText || null,
  });
})()"""


def run_all(path: str) -> str:
    """Run every cell of the lesson's tab (as Run > Run All Cells), in the background."""
    return f"""(() => {{
  window.rtlabLesson = {tab(path)};
  window.rtlabRun = null;
  jupyterapp.shell.activateById(window.rtlabLesson.id);
  jupyterapp.commands.execute('notebook:run-all-cells').then(
    () => {{ window.rtlabRun = 'done'; }}, (e) => {{ window.rtlabRun = 'failed: ' + e; }});
  return true;
}})()"""
RUN_FINISHED = """(() => {
  const k = window.rtlabLesson.sessionContext.session.kernel;
  return window.rtlabRun !== null && k.status === 'idle' && window.rtlabRun;
})()"""
CELLS = """window.rtlabLesson.content.widgets.filter(c => c.model.type === 'code').map(c => ({
  source: c.model.sharedModel.getSource(),
  count: c.model.executionCount,
  outputs: c.model.outputs.toJSON().map(o => ({
    type: o.output_type, name: o.name || null, ename: o.ename || null,
    evalue: o.evalue || null, text: [].concat(o.text || []).join('').slice(0, 500),
    mimes: Object.keys(o.data || {}),
  })),
}))"""
WIDGETS = """(() => {
  const node = window.rtlabLesson.node;
  const rosters = [...node.querySelectorAll('.widget-html-content')]
    .filter(w => w.textContent.includes('online'));
  return {
    rosters: rosters.length,
    chips: rosters.reduce((n, r) => n + r.querySelectorAll('span').length, 0),
    broken: node.querySelectorAll('.jupyter-widgets-error-widget').length,
    loading: [...node.querySelectorAll('.jp-OutputArea-output')]
      .filter(o => o.textContent.trim().startsWith('Loading widget')).length,
  };
})()"""


def click_link(where: str, target: str) -> str:
    """Click the first link in ``where`` (an element expression) that leads to ``target``.

    JupyterLab rewrites a rendered relative link (``../exercises/x.py``) to the file's
    URL and opens it in the app on click, so the resolved href is matched.
    """
    return f"""(() => {{
  const links = [...{where}.querySelectorAll('a')];
  const a = links.find(a => decodeURIComponent(a.href).includes({json.dumps(target)}));
  if (!a) return null;
  a.scrollIntoView({{block: 'center'}});
  a.click();
  return {{href: a.getAttribute('href'), text: a.textContent}};
}})()"""


def opened(path: str) -> str:
    """True once the current tab shows ``path`` in an editor or a viewer, with text."""
    return f"""(() => {{
  const w = {tab(path)};
  if (!w || !w.isVisible || !w.context.isReady) return false;
  const text = w.node.querySelector('.cm-content, .jp-RenderedMarkdown');
  return !!(text && text.textContent.trim()) && w.context.model.toString();
}})()"""


def back_to_lesson() -> str:
    return "jupyterapp.shell.activateById(window.rtlabLesson.id) || true"


def check_cell(source_part: str) -> str:
    return f"""(() => {{
  const cell = window.rtlabLesson.content.widgets.find(c => c.model.type === 'code'
    && c.model.sharedModel.getSource().includes({json.dumps(source_part)}));
  if (!cell) return null;
  cell.node.scrollIntoView({{block: 'start'}});
  const out = cell.node.querySelector('.jp-OutputArea');
  return out ? out.innerText : '';
}})()"""


# The collaboration lesson's editors (ipywidgets Textareas bound to one Y.Text).
EDITORS = """(() => {
  const areas = [...window.rtlabLesson.node.querySelectorAll('.widget-textarea textarea')];
  const texts = areas.map(a => a.value);
  return texts.length >= 2 && texts.every(t => t.trim()) && texts;
})()"""
REPORT_NODE = """window.rtlabLesson.content.widgets.find(c => c.model.type === 'code'
  && c.model.sharedModel.getSource().includes('rtlab.check("presence")')).node"""


def test_a_learner_opens_the_lesson_runs_it_follows_its_links_and_sees_the_report(
    tmp_path: Path,
) -> None:
    if chromium_path() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: CI must run the JupyterLab browser test")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    started = time.monotonic()
    course = scratch_course(tmp_path)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with jupyterlab(course, tmp_path) as (address, _), chromium(tmp_path) as ws:
        base, token = address.split("|")
        page = DevTools(ws, shots)
        try:
            steps(page, base, token, course)
        except AssertionError as failure:
            state = page.js(STATE)
            page.screenshot("failure")
            names = ", ".join(p.name for p in page.taken)
            raise AssertionError(
                f"{failure}\nJupyterLab's state: {state}\n\nScreenshots in {shots}: {names}\n"
                f"JupyterLab log (end):\n{lab_log(tmp_path)}"
            ) from None
        steps_taken = ", ".join(f"{name} {when - started:.1f}" for name, when in page.times)
    seconds = time.monotonic() - started
    print(f"JupyterLab browser test: {seconds:.1f} s (at s: {steps_taken}); screenshots in {shots}")


def steps(page: DevTools, base: str, token: str, course: Path) -> None:
    # 1. `make lab` opens the first notebook, with no news prompt.
    first = LOCAL.open(f"{base}/?token={token}", timeout=10)
    assert first.geturl().split("?")[0].endswith(f"/lab/tree/{FIRST}"), (
        f"JupyterLab's start page is {first.geturl()}, not the first notebook {FIRST}"
    )
    for path in (FIRST, EXERCISE, "references/patterns.md"):  # served from the course root
        try:
            LOCAL.open(f"{base}/api/contents/{path}?content=0&token={token}", timeout=10)
        except OSError as error:
            raise AssertionError(f"JupyterLab does not serve {path}: {error}") from None
    schema = json.loads(LOCAL.open(
        f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}",
        timeout=10).read())["schema"]
    assert schema["properties"]["fetchNews"]["default"] == "false", (
        "the news prompt is on: the course's overrides.json is not installed in "
        f"{sys.prefix}/share/jupyter/lab/settings (make lab and make test install it)"
    )

    # 2. The lesson opens and every cell runs without an error; its widgets render.
    page.call("Page.navigate", url=f"{base}/lab/tree/{LESSON}?token={token}")
    cells = run_lesson(page, LESSON, "presence")
    widget_outputs = sum(
        "application/vnd.jupyter.widget-view+json" in o["mimes"]
        for c in cells for o in c["outputs"]
    )
    widgets = page.wait(
        f"(() => {{ const w = {WIDGETS}; return w.rosters && !w.loading && w; }})()",
        "the roster widgets, rendered")
    assert widgets["broken"] == 0, f"widgets that failed to render: {widgets}"
    assert widgets["rosters"] >= 3 and widgets["rosters"] <= widget_outputs, widgets
    assert widgets["chips"] >= 3 * 10, f"the rosters show too few user chips: {widgets}"
    assert "Jupyter news" not in page.js("document.body.innerText"), "the news prompt shows"

    # 3. The lesson's links open the exercise in the editor, and the reference.
    href = page.js(click_link("window.rtlabLesson.node", f"/{EXERCISE}"))
    assert href, f"the lesson has no link to ../{EXERCISE}"
    text = page.wait(opened(EXERCISE), f"{EXERCISE} open in the editor after clicking {href}")
    page.screenshot("exercise-open")
    assert text == (course / EXERCISE).read_text(encoding="utf-8"), (
        f"the editor shows something other than {EXERCISE}"
    )
    page.js(back_to_lesson())
    href = page.js(click_link("window.rtlabLesson.node", "/references/sharp_edges.md"))
    assert href, "the lesson has no link to ../references/sharp_edges.md"
    page.wait(opened("references/sharp_edges.md"), f"the reference open after clicking {href}")
    page.screenshot("reference-open")

    # 4. The check cell shows the grader's report, whose links open too.
    page.js(back_to_lesson())
    report = page.wait(check_cell('rtlab.check("presence")'), "the check cell's report")
    page.screenshot("report")
    for expected in ("presence-flickering", "presence-immediate-removal", "graded"):
        assert expected in report, f"the report does not mention {expected!r}:\n{report[:1500]}"
    href = page.js(click_link(REPORT_NODE, "/references/"))
    assert href, f"the report has no link to ../references/:\n{report[:1500]}"
    target = href["text"].split("#")[0]
    page.wait(opened(target), f"{target} open after clicking the report's link {href}")
    page.screenshot("report-link-open")

    # 5. The collaboration lesson: its editors show the shared text, the same in each.
    page.js(f"jupyterapp.commands.execute('docmanager:open', {{path: {json.dumps(COLLAB)}}})"
            ".then(() => true)")
    run_lesson(page, COLLAB, "collaboration")
    editors = page.wait(EDITORS, "the collaboration editors, rendered with text")
    page.js("window.rtlabLesson.node.querySelector('.widget-textarea').scrollIntoView()")
    page.screenshot("collaboration-editors")
    assert len(editors) >= 2 and len(set(editors)) == 1, (
        f"the editors should show one shared, non-empty text: {editors}"
    )


def run_lesson(page: DevTools, path: str, label: str) -> list[dict[str, Any]]:
    """Wait for the lesson's kernel, run all its cells; fail on any error output."""
    page.wait(lesson_ready(path), f"the lesson {path} with an idle kernel", timeout=40)
    page.screenshot(f"{label}-open")
    page.js(run_all(path))
    result = page.wait(RUN_FINISHED, f"every cell of {path} run", timeout=RUN_ALL_TIMEOUT_S)
    page.screenshot(f"{label}-ran")
    assert result == "done", f"running all cells of {path}: {result}"
    cells: list[dict[str, Any]] = page.js(CELLS)
    not_run = [c["source"][:60] for c in cells if c["count"] is None]
    assert not not_run, f"cells of {path} that did not run: {not_run}"
    errors = [
        f"{c['source'][:60]!r}: {o['ename']}: {o['evalue']}"
        for c in cells for o in c["outputs"] if o["type"] == "error"
    ]
    tracebacks = [
        f"{c['source'][:60]!r}: {o['text']}"
        for c in cells for o in c["outputs"] if o["name"] == "stderr" and "Traceback" in o["text"]
    ]
    assert not errors and not tracebacks, f"cells of {path} with errors: {errors + tracebacks}"
    return cells
