"""``make bench``: the figures the course promises, measured on this machine.

Prints, in one run: wall time and scenario count of a grader run (budget: at
least 200 scenarios in under 2 s), each module's own figures as course.toml lists
them (transports, SSE, frames, a 10,000-client simulated reconnect storm and a
live 300-client restart, edits lost under last-write-wins, the collaboration relay
against pycrdt-websocket and the Node.js Yjs server), the wall time of each
notebook under nbval, and peak memory.

``--only NAME`` runs one part (``python -m rtlab.bench --only collab``).
"""

from __future__ import annotations

import argparse
import importlib
import resource
import subprocess
import sys
import time

from rtlab import course
from rtlab.grading.runner import grade_file

GRADER_BUDGET_S, GRADER_MIN_SCENARIOS = 2.0, 200
NOTEBOOK_BUDGET_S = 30.0


def _verdict(ok: bool) -> str:
    return "within budget" if ok else "OVER BUDGET"


def bench_graders() -> None:
    print("Graders (reference solutions; best of 3 runs)")
    for ex in course.load().exercises:
        best, scenarios = float("inf"), 0
        for _ in range(3):
            started = time.perf_counter()
            report = grade_file(ex.name, ex.solution_path)
            best = min(best, time.perf_counter() - started)
            scenarios = report.scenarios
        # A grader may state its own floor and budget (the capstone: 50 schedules, 10 s).
        grader = importlib.import_module(ex.grader)
        floor = getattr(grader, "MIN_SCENARIOS", GRADER_MIN_SCENARIOS)
        budget = getattr(grader, "BUDGET_SECONDS", GRADER_BUDGET_S)
        ok = best < budget and scenarios >= floor
        print(f"  {ex.name:<16} {scenarios:>4} scenarios in {best:5.2f} s   "
              f"[budget: >= {floor} in < {budget:g} s: {_verdict(ok)}]")


def bench_notebooks() -> None:
    print("Notebooks under nbval (strict, one at a time)")
    root = course.root()
    for notebook in sorted((root / "notebooks").glob("*.ipynb")):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider",
             str(notebook.relative_to(root))],
            cwd=root, capture_output=True, text=True,
        )
        seconds = time.perf_counter() - started
        state = "passed" if result.returncode == 0 else "FAILED"
        print(f"  {notebook.name:<28} {seconds:5.1f} s  {state}   "
              f"[budget < {NOTEBOOK_BUDGET_S:g} s: {_verdict(seconds < NOTEBOOK_BUDGET_S)}]")


# Each module measures its own figures; the function lives beside the code it measures.
def module_benches() -> dict[str, tuple[str, str]]:
    """Each module's own benchmarks, as course.toml lists them: name -> (module, function)."""
    return {name: (module, function) for m in course.load().modules
            for name, module, function in m.bench_targets()}


def bench_module(name: str) -> None:
    module, function = module_benches()[name]
    print(f"\n== {name} ==")
    getattr(importlib.import_module(module), function)()


def peak_memory() -> None:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"Peak memory: this process {me:.0f} MB; "
          f"largest child (pytest + kernel) {children:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtlab.bench", description=__doc__)
    parser.add_argument("--skip-notebooks", action="store_true")
    parts = ["graders", *module_benches(), "notebooks"]
    parser.add_argument("--only", choices=parts, help="run one part only")
    args = parser.parse_args(argv)
    for part in parts if args.only is None else [args.only]:
        if part == "graders":
            bench_graders()
        elif part in module_benches():
            bench_module(part)
        elif not args.skip_notebooks:
            bench_notebooks()
    peak_memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
