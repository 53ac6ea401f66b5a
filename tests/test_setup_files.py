"""The setup files agree with each other and with the environment the tests run in.

requirements.in (direct pins) -> requirements.txt (the full lock) -> the venv
(`make setup`), environment.yml and postBuild (Binder), .ci/run and the Makefile
(CI and the README's two commands), and the nbval sanitize file.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from nbval.plugin import get_sanitize_patterns
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:;\s*([^#]+?))?\s*(?:#.*)?$")


def read_pins(path: Path) -> dict[str, tuple[str, str | None]]:
    """{canonical name: (version, marker or None)} of a requirements file; every
    requirement line must be an exact ``name==version`` pin."""
    pins: dict[str, tuple[str, str | None]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, (
            f"{path.name}:{number}: {line!r} is not an exact pin; every line must read "
            "name==version (optionally ; marker)"
        )
        name = canonicalize_name(match[1])
        assert name not in pins, f"{path.name}:{number}: {match[1]} is pinned twice"
        pins[name] = (match[2], match[3])
    return pins


def applies_here(marker: str | None) -> bool:
    return marker is None or Marker(marker).evaluate()


@pytest.fixture(scope="module")
def lock() -> dict[str, tuple[str, str | None]]:
    return read_pins(ROOT / "requirements.txt")


@pytest.fixture(scope="module")
def direct() -> dict[str, tuple[str, str | None]]:
    return read_pins(ROOT / "requirements.in")


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets: set[str] = set()
    for match in re.finditer(
        r"^([A-Za-z0-9_./$()-][^:=\s]*(?:\s+[^:=\s]+)*)\s*:(?![=:])", text, re.M
    ):
        targets.update(match[1].split())
    return targets


# --- the lock --------------------------------------------------------------------


def test_every_direct_pin_is_in_the_lock_with_the_same_version(
    direct: dict[str, tuple[str, str | None]], lock: dict[str, tuple[str, str | None]]
) -> None:
    for name, (version, _) in direct.items():
        assert name in lock, (
            f"requirements.in pins {name}=={version} but requirements.txt does not have it: "
            "regenerate the lock (see the header of requirements.txt)"
        )
        assert lock[name][0] == version, (
            f"requirements.in pins {name}=={version} but requirements.txt has "
            f"{name}=={lock[name][0]}: regenerate the lock"
        )


def test_the_lock_is_exactly_what_requirements_in_needs(
    direct: dict[str, tuple[str, str | None]], lock: dict[str, tuple[str, str | None]]
) -> None:
    """Walk the installed metadata from the direct pins, for each supported Python,
    and compare with the lock: nothing missing, nothing nobody needs (e.g. aiohttp)."""
    needed_by_version: dict[str, set[str]] = {}
    for python in SUPPORTED_PYTHONS:
        seen: set[tuple[str, frozenset[str]]] = set()
        stack = [(name, frozenset[str]()) for name in direct]
        while stack:
            name, extras = stack.pop()
            if (name, extras) in seen:
                continue
            seen.add((name, extras))
            try:
                requires = importlib.metadata.distribution(name).requires or []
            except importlib.metadata.PackageNotFoundError:
                continue  # not for this Python here; the version test covers the rest
            for line in requires:
                requirement = Requirement(line)
                environments = [
                    {"python_version": python, "python_full_version": f"{python}.0", "extra": e}
                    for e in (sorted(extras) or [""])
                ]
                if requirement.marker is None or any(
                    requirement.marker.evaluate(env) for env in environments
                ):
                    stack.append(
                        (canonicalize_name(requirement.name), frozenset(requirement.extras))
                    )
        needed_by_version[python] = {name for name, _ in seen}
    needed = set().union(*needed_by_version.values())
    missing = sorted(needed - set(lock))
    unneeded = sorted(set(lock) - needed)
    assert not missing, (
        f"requirements.txt lacks {missing}, which the direct pins need: add them at the "
        "versions `pip install -r requirements.in` picks"
    )
    assert not unneeded, (
        f"requirements.txt pins {unneeded}, which nothing in requirements.in needs: remove them"
    )
    for name in sorted(needed):
        if any(name not in needed_by_version[python] for python in SUPPORTED_PYTHONS):
            marker = lock[name][1]
            assert marker is not None, (
                f"{name} is needed only on some Pythons "
                f"({[p for p in SUPPORTED_PYTHONS if name in needed_by_version[p]]}): "
                "give its line in requirements.txt an environment marker"
            )


def test_every_locked_package_is_installed_at_its_version(
    lock: dict[str, tuple[str, str | None]],
) -> None:
    stale: list[str] = []
    for name, (version, marker) in sorted(lock.items()):
        if not applies_here(marker):
            continue
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            stale.append(f"{name} (not installed, {version} pinned)")
            continue
        if installed != version:
            stale.append(f"{name} {installed} (pinned {version})")
    assert not stale, (
        "this environment does not match requirements.txt: "
        + "; ".join(stale)
        + ". Run `make setup` (or `make clean setup`)"
    )


# --- Binder ----------------------------------------------------------------------


def test_environment_yml_parses_and_agrees_with_the_lock(
    lock: dict[str, tuple[str, str | None]],
) -> None:
    path = ROOT / "environment.yml"
    assert path.exists(), "environment.yml must be at the repository root for Binder"
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(env, dict), "environment.yml must be a mapping (name, channels, ...)"
    assert "conda-forge" in env.get("channels", []), "environment.yml should use conda-forge"
    dependencies = env.get("dependencies", [])
    conda = [d for d in dependencies if isinstance(d, str)]
    pip_lists = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    assert "pip" in conda, "environment.yml must install pip to run its pip: section"
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: section"
    pip_lines = [str(line).strip() for line in pip_lists[0]]

    python = [d for d in conda if re.match(r"python\s*=", d)]
    assert python, "environment.yml must pin python (Binder picks its base image from it)"
    minor = re.sub(r"python\s*=+\s*", "", python[0])
    assert tuple(int(p) for p in minor.split(".")[:2]) >= (3, 11), (
        f"environment.yml asks for python {minor}; the course needs 3.11 or newer"
    )

    # `-r FILE` resolves relative to the yml; it must be the lock.
    includes = [line.split(None, 1)[1] for line in pip_lines if line.startswith("-r ")]
    assert includes == ["requirements.txt"], (
        f"environment.yml's pip: section should read `-r requirements.txt`, found {includes}"
    )
    assert (path.parent / includes[0]).exists()
    assert "-e ." in pip_lines or os.access(ROOT / "postBuild", os.X_OK), (
        "Binder must install rtlab: put `-e .` in environment.yml's pip: section or in postBuild"
    )

    # Every version named in both files agrees.
    named: list[tuple[str, str]] = []
    for dep in conda:
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*==?\s*([0-9][^\s=*]*)$", dep)
        if match and match[1] != "python":
            named.append((canonicalize_name(match[1]), match[2]))
    for line in pip_lines:
        match = PIN.match(line)
        if match:
            named.append((canonicalize_name(match[1]), match[2]))
    for name, version in named:
        if name in lock:
            assert lock[name][0] == version, (
                f"environment.yml names {name} {version} but requirements.txt pins "
                f"{lock[name][0]}: make them agree"
            )


def test_no_binder_folder_shadows_the_root_files() -> None:
    for folder in ("binder", ".binder"):
        path = ROOT / folder
        assert not (path.is_dir() and any(path.iterdir())), (
            f"{folder}/ exists: repo2docker would then ignore environment.yml and postBuild "
            "at the root. Keep the Binder files at the root only"
        )


def test_postbuild_is_an_executable_script() -> None:
    path = ROOT / "postBuild"
    assert path.exists(), "postBuild is missing (Binder runs it after environment.yml)"
    assert os.access(path, os.X_OK), "postBuild must be executable: chmod +x postBuild"
    assert path.read_text(encoding="utf-8").startswith("#!"), "postBuild needs a #! line"


def test_readme_has_the_binder_badge_on_the_first_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"https://mybinder\.org/v2/gh/[^)\s]+", readme)
    assert match, "README.md needs a Binder launch badge (https://mybinder.org/v2/gh/...)"
    assert match[0].endswith("?urlpath=lab/tree/notebooks/00-start-here.ipynb"), (
        f"the Binder link {match[0]} should open notebooks/00-start-here.ipynb in JupyterLab"
    )


# --- CI, the Makefile and the README ------------------------------------------------


def test_ci_runs_make_test() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines()]
    assert "set -euo pipefail" in lines, ".ci/run should start with `set -euo pipefail`"
    assert "make test" in lines, ".ci/run must run `make test`, the README's test command"


def test_readme_commands_are_makefile_targets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", readme, re.S)
    commands = {line.strip() for block in blocks for line in block.splitlines()}
    for command in ("make lab", "make test"):
        assert command in commands, f"README.md should show `{command}` in a code block"
    targets = makefile_targets()
    mentioned = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    unknown = sorted(mentioned - targets)
    assert not unknown, (
        f"README.md mentions `make {unknown[0]}` but the Makefile has no such target"
    )


def test_makefile_creates_the_venv_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^\$\(STAMP\): requirements\.txt pyproject\.toml$", makefile, re.M), (
        "the venv stamp must depend on requirements.txt and pyproject.toml"
    )
    assert "-m pip install --quiet --require-virtualenv -r requirements.txt" in makefile
    assert "--no-deps -e ." in makefile
    recipes = "\n".join(line for line in makefile.splitlines() if not line.lstrip().startswith("#"))
    for global_step in ("kernelspec install", "--user", "--sys-prefix"):
        assert global_step not in recipes, (
            f"the Makefile runs `{global_step.strip()}`: it must not install or register "
            "anything outside the venv"
        )


def test_gitignore_keeps_environments_and_progress_out_of_git() -> None:
    ignored = set((ROOT / ".gitignore").read_text(encoding="utf-8").split())
    for entry in (".venv/", "__pycache__/", ".ipynb_checkpoints/", ".rtlab/", "node_modules/"):
        assert entry in ignored, f".gitignore should list {entry}"


def test_system_packages_list_holds_only_debian_package_names() -> None:
    script = ROOT / "scripts" / "system-deps.sh"
    assert os.access(script, os.X_OK), "scripts/system-deps.sh must be executable"
    for number, raw in enumerate((ROOT / "system-packages.txt").read_text().splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if name:
            assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name), (
                f"system-packages.txt:{number}: {name!r} is not a Debian package name"
            )


def test_binder_apt_txt_installs_what_the_scaling_module_starts() -> None:
    """Binder reads apt.txt (Debian names, one a line); module 10 starts redis-server and
    haproxy itself, so both must be there, and in system-packages.txt for CI."""
    apt = [line.split("#", 1)[0].strip()
           for line in (ROOT / "apt.txt").read_text(encoding="utf-8").splitlines()]
    apt = [name for name in apt if name]
    system = {line.split("#", 1)[0].strip()
              for line in (ROOT / "system-packages.txt").read_text().splitlines()}
    for name in apt:
        assert re.fullmatch(r"[a-z0-9][a-z0-9+.-]+", name), f"apt.txt: {name!r}"
        assert name in system, f"apt.txt has {name}, system-packages.txt does not"
    assert {"redis-server", "haproxy"} <= set(apt)


# --- nbval -------------------------------------------------------------------------


def sanitize(text: str) -> str:
    config = (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    for regex, replace in get_sanitize_patterns(config):
        text = re.sub(regex, replace, text)
    return text


def test_sanitize_file_pairs_every_regex_with_a_replacement() -> None:
    config = (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    pairs = get_sanitize_patterns(config)
    regex_lines = [line for line in config.splitlines() if line.startswith("regex: ")]
    assert len(pairs) == len(regex_lines), (
        "every `regex:` line must be directly followed by its `replace:` line, "
        "or nbval silently drops the rule"
    )
    assert len({regex for regex, _ in pairs}) == len(pairs), "a regex appears twice"
    for regex, _ in pairs:
        assert regex == regex.rstrip(), f"trailing space in regex {regex!r}"
        re.compile(regex)


@pytest.mark.parametrize(
    ("first_run", "second_run"),
    [
        ("serving on ws://127.0.0.1:53211/room", "serving on ws://127.0.0.1:40001/room"),
        ("listening on 127.0.0.1:8765", "listening on 127.0.0.1:41234"),
        ("http://localhost:8888/lab", "http://localhost:8890/lab"),
        ("server on port 53211", "server on port 40001"),
        ("took 0.83 s", "took 1.02 s"),
        ("p99 12.3 ms", "p99 9.87 ms"),
        ("done in 1.2s", "done in 0.9s"),
        ("slept 850 µs", "slept 1020 µs"),
        ("peak 123.4 MB", "peak 98.1 MB"),
        ("grew by 512 KiB", "grew by 1,024 KiB"),
        ("5,500 edits/s", "6,612 edits/s"),
        ("<Task object at 0x7f3a9c2b1d60>", "<Task object at 0x7f11e04c8a90>"),
        (
            "client 1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "client 6fa459ea-ee8a-3ca4-894e-db77e160355e",
        ),
        ("at 2026-11-26T05:01:02.123Z", "at 2026-11-27T17:45:00.999Z"),
        ("file /tmp/tmpa1b2c3/log.txt", "file /tmp/tmpz9y8x7/log.txt"),
    ],
)
def test_sanitize_makes_run_to_run_noise_equal(first_run: str, second_run: str) -> None:
    assert sanitize(first_run) == sanitize(second_run), (
        f"{first_run!r} and {second_run!r} should compare equal after sanitizing, got "
        f"{sanitize(first_run)!r} and {sanitize(second_run)!r}"
    )


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ("opcode 0x81 (text frame)", "opcode 0x82 (text frame)"),
        ("delays: [0.1, 0.2, 0.4]", "delays: [0.1, 0.2, 0.8]"),
        ("3 of 5 clients reconnected", "4 of 5 clients reconnected"),
        ("close code 1011", "close code 1000"),
        ("sessions: 3", "sessions: 4"),
    ],
)
def test_sanitize_keeps_deterministic_output_checked(expected: str, actual: str) -> None:
    assert sanitize(expected) != sanitize(actual), (
        f"{expected!r} and {actual!r} differ in a way the lesson cares about, but the "
        "sanitize file makes them equal: narrow the rule that matches"
    )


# Node.js release lines still supported (LTS) as of December 2026: 20 ended in April 2026.
SUPPORTED_NODE_LTS = (22, 24)


def test_environment_yml_pins_a_supported_node_lts() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    nodes = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("nodejs")]
    assert len(nodes) == 1, f"environment.yml should name nodejs once, found {nodes}"
    major = int(re.split(r"[=<>]+", nodes[0])[1].split(".")[0])
    assert major in SUPPORTED_NODE_LTS, (
        f"environment.yml asks for Node.js {major}; use a supported LTS: {SUPPORTED_NODE_LTS}"
    )


def test_the_course_jupyterlab_settings_turn_the_news_prompt_off_locally_and_on_binder() -> None:
    shipped = ROOT / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(shipped.read_text(encoding="utf-8"))
    notification = settings["@jupyterlab/apputils-extension:notification"]
    assert notification["fetchNews"] == "false", notification
    relative = "jupyter/lab/settings/overrides.json"
    assert relative in (ROOT / "Makefile").read_text(encoding="utf-8"), (
        "make lab must install the course's JupyterLab settings into the venv"
    )
    assert relative in (ROOT / "postBuild").read_text(encoding="utf-8"), (
        "postBuild must install the course's JupyterLab settings on Binder"
    )


def test_make_lab_serves_the_repository_root_and_opens_the_first_notebook() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "--ServerApp.root_dir=$(CURDIR)" in makefile, (
        "make lab must serve the repository root, or links to ../exercises answer 404"
    )
    assert "--LabApp.default_url=/lab/tree/$(NOTEBOOK)" in makefile
