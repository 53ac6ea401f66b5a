"""``make bench``: the figures the course promises, measured on this machine.

Prints, in one run: wall time and scenario count of a grader run (budget: at
least 200 scenarios in under 2 s), the simulation time of a 10,000-client
reconnect storm (budget: 2 s on one core), a live 300-client restart on real
loopback sockets, each module's own figures (transports, SSE, frames, edits lost
under last-write-wins, the collaboration relay against pycrdt-websocket and the
Node.js Yjs server), the wall time of each notebook under nbval, and peak memory.

``--only NAME`` runs one part (``python -m rtlab.bench --only collab``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import resource
import subprocess
import sys
import time

from rtlab import course
from rtlab.grading.runner import grade_file
from rtlab.learner import load_module

GRADER_BUDGET_S, GRADER_MIN_SCENARIOS = 2.0, 200
STORM_BUDGET_S, STORM_CLIENTS = 2.0, 10_000
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
        ok = best < GRADER_BUDGET_S and scenarios >= GRADER_MIN_SCENARIOS
        print(f"  {ex.name:<16} {scenarios:>4} scenarios in {best:5.2f} s   "
              f"[budget: >= {GRADER_MIN_SCENARIOS} in < {GRADER_BUDGET_S:g} s: {_verdict(ok)}]")


def bench_storm() -> None:
    from rtlab.topics.reconnection.sim import storm

    solution = load_module(course.root() / "solutions" / "reconnection.py", "bench_solution")
    best = None
    for _ in range(3):
        result = storm(solution.stay_connected, lambda rng: solution.Backoff(rng=rng),
                       clients=STORM_CLIENTS, seed=1, downtime=5.0)
        if best is None or result.storm_seconds < best.storm_seconds:
            best = result
    assert best is not None
    print(f"Simulated reconnect storm (reference policy, best of 3): {STORM_CLIENTS:,} clients, "
          f"{best.events:,} events, {len(best.attempts):,} connection attempts")
    print(f"  connecting everyone first: {best.setup_seconds:.2f} s; the storm (restart, 5 s "
          f"down, until settled): {best.storm_seconds:.2f} s   [budget < {STORM_BUDGET_S:g} s: "
          f"{_verdict(best.storm_seconds < STORM_BUDGET_S)}]")
    print(f"  everyone back {best.all_back_after:.1f} s (virtual) after the server was up")


async def _live_restart(clients: int) -> tuple[float, float, int]:
    from rtlab.live import LiveServer
    from rtlab.topics.reconnection.live import Fleet

    solution = load_module(course.root() / "solutions" / "reconnection.py", "bench_live")
    server = await LiveServer.start("bench")
    started = time.perf_counter()
    fleet = await Fleet.start(
        server.url, solution.stay_connected,
        lambda rng: solution.Backoff(base=0.05, cap=1.0, rng=rng),
        count=clients, ramp=0.5, name="bench",
    )
    try:
        await fleet.wait_connected(timeout=30)
        connected = time.perf_counter() - started
        restart = time.perf_counter()
        await server.restart(downtime=0.5)
        await fleet.wait_connected(timeout=30)
        return connected, time.perf_counter() - restart, fleet.connected
    finally:
        await fleet.stop()
        await server.stop()


def bench_live(clients: int = 300) -> None:
    connected, back, count = asyncio.run(_live_restart(clients))
    print(f"Live, real loopback sockets: {clients} clients connected in {connected:.2f} s; "
          f"after a 0.5 s restart {count} were back within {back:.2f} s")


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
    parts = ["graders", "storm", "live", *module_benches(), "notebooks"]
    parser.add_argument("--only", choices=parts, help="run one part only")
    args = parser.parse_args(argv)
    for part in parts if args.only is None else [args.only]:
        if part == "graders":
            bench_graders()
        elif part == "storm":
            bench_storm()
        elif part == "live":
            bench_live()
        elif part in module_benches():
            bench_module(part)
        elif not args.skip_notebooks:
            bench_notebooks()
    peak_memory()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
