"""``python -m rtlab``: list, check, watch, hint, solution, report, classroom, traces, doctor.

Grading runs in this process's main thread, where the runner's alarm can stop
learner code that hangs; exit status 0 means every graded exercise passes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rtlab import course, progress
from rtlab.grading.report import Report
from rtlab.grading.runner import grade_file


def _ready_exercises() -> list[course.Exercise]:
    ready = {m.id for m in course.load().modules if m.ready}
    return [ex for ex in course.load().exercises if ex.module in ready]


def cmd_list(args: argparse.Namespace) -> int:
    exercises = _ready_exercises()
    print("Exercises, in course order (python -m rtlab check NAME to grade one):\n")
    done = 0
    for ex in exercises:
        state = progress.status(ex.name, ex.path)
        done += state.label == "passing"
        mark = {"passing": "✓", "failing": "✗"}.get(state.label, "·")
        detail = f"  ({state.detail})" if state.detail else ""
        print(f"  {mark} {ex.name:<16} {state.label:<12} {ex.summary}{detail}")
        for number, level in enumerate(ex.levels, 1):
            print(f"      level {number}: {level.title}  (check {ex.name} --level {number})")
    print(f"\n{done} of {len(exercises)} passing.")
    planned = [m.title for m in course.load().modules if m.status == "planned"]
    if planned:
        print("Coming next: " + "; ".join(planned[:3]) + ("; ..." if len(planned) > 3 else ""))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.level is not None and not args.exercise:
        print("--level grades one level of one exercise: python -m rtlab check NAME --level 1")
        return 2
    names = [args.exercise] if args.exercise else [ex.name for ex in _ready_exercises()]
    seeds = [args.seed] if args.seed is not None else None
    all_passed = True
    for name in names:
        ex = course.load().exercise(name)
        path = Path(args.file) if args.file else (ex.solution_path if args.solutions else ex.path)
        report = grade_file(name, path, seeds=seeds)
        if args.level is not None:
            level = ex.level(args.level)
            report = report.only_level(args.level, len(ex.levels), level.title, level.ids)
        elif not args.solutions and not args.file and seeds is None:
            passing = sorted(f.id for f in report.findings if f.status == "passed")
            progress.record_result(
                name, path, report.passed, sorted(report.failed_ids()), passing)
        all_passed &= report.passed
        print(report.to_json() if args.json else _text(report))
        if not args.json and len(names) > 1:
            print()
    return 0 if all_passed else 1


def _text(report: Report) -> str:
    text = str(report)
    if not report.passed and report.error is None:
        text += f"\n\nStuck? python -m rtlab hint {report.exercise}"
    return text


def cmd_hint(args: argparse.Namespace) -> int:
    ex = course.load().exercise(args.exercise)
    hints = progress.next_hint(ex.name, ex.hints, show_all=args.all)
    for i, hint in enumerate(hints, 1):
        print(f"Hint {i}/{len(ex.hints)}: {hint}\n")
    if len(hints) < len(ex.hints):
        print(f"Run it again for the next hint (or --all). Lesson: {_notebook(ex)}")
    else:
        print(f"That was the last hint. The lesson walks through it: {_notebook(ex)}")
    return 0


def _notebook(ex: course.Exercise) -> str:
    return course.load().module(ex.module).notebook


def cmd_solution(args: argparse.Namespace) -> int:
    ex = course.load().exercise(args.exercise)
    if not (args.force or progress.has_passed(ex.name, ex.path)):
        print(
            f"The reference solution opens once `python -m rtlab check {ex.name}` passes "
            "(struggling a little is where the learning happens).\n"
            f"Try `python -m rtlab hint {ex.name}`, or use --force to read it now."
        )
        return 1
    print(ex.solution_path.read_text(encoding="utf-8"))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from rtlab.watch import watch

    try:
        return watch(args.exercise)
    except KeyboardInterrupt:
        print("\nStopped watching.")
        return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the learner's progress as one JSON file to hand in; print a summary."""
    import getpass
    import json
    import platform
    import time

    exercises = []
    for ex in _ready_exercises():
        line = progress.summary(ex.name, ex.path, len(ex.hints))
        exercises.append({"name": ex.name, "module": ex.module, **line})
    report = {
        "learner": args.name or getpass.getuser(),
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "passing": sum(e["status"] == "passing" for e in exercises),
        "exercises": exercises,
    }
    output = Path(args.output)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for e in exercises:
        attempts = f"{e['attempts']} attempt{'' if e['attempts'] == 1 else 's'}"
        hints = f"{e['hints_used']}/{e['hints_total']} hints"
        print(f"  {e['name']:<16} {e['status']:<12} {attempts}, {hints}")
    print(f"\n{report['passing']} of {len(exercises)} passing. Written to {output.resolve()}")
    print("Hand in that one file. It holds what `check` recorded, not your code.")
    return 0


def cmd_classroom(args: argparse.Namespace) -> int:
    from rtlab.classroom import main_classroom

    return main_classroom(host=args.host, port=args.port, token=args.token, room=args.room)


def cmd_traces(args: argparse.Namespace) -> int:
    from rtlab.datasets import SOURCE, main_traces

    return main_traces(fetch_now=args.fetch, print_dir=args.dir, base_url=args.source or SOURCE)


def cmd_doctor(args: argparse.Namespace) -> int:
    from rtlab.doctor import main_doctor

    return main_doctor(verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rtlab", description="Real-time engineering course: exercises and checks."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list exercises with your progress")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser("check", help="grade an exercise (all ready exercises if none named)")
    p.add_argument("exercise", nargs="?", help="exercise name, e.g. reconnection")
    p.add_argument("--solutions", action="store_true", help="grade the reference solution")
    p.add_argument("--file", help="grade this file instead of exercises/NAME.py")
    p.add_argument("--seed", type=int, help="replay one seeded scenario from a report")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--level", type=int,
                   help="grade one level of a large exercise (1, 2, ...; see `list`)")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("watch", help="regrade an exercise on every save, then go to the next")
    p.add_argument("exercise", nargs="?", help="exercise name (default: the first not passing)")
    p.set_defaults(run=cmd_watch)

    p = sub.add_parser("hint", help="show the next hint for an exercise")
    p.add_argument("exercise")
    p.add_argument("--all", action="store_true", help="show every hint")
    p.set_defaults(run=cmd_hint)

    p = sub.add_parser("solution", help="show the reference solution once you pass")
    p.add_argument("exercise")
    p.add_argument("--force", action="store_true", help="show it even before you pass")
    p.set_defaults(run=cmd_solution)

    p = sub.add_parser("report", help="write your progress as one file to hand in")
    p.add_argument("--output", "-o", default="rtlab-report.json", help="the file to write")
    p.add_argument("--name", help="your name in the report (default: your login)")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("classroom", help="an instructor's shared live room (sync + presence)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default loopback; a LAN address needs a token)")
    p.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    p.add_argument("--token", help="the join token (made up and printed when not given "
                   "and the host is not loopback)")
    p.add_argument("--room", default="class", help="the shared document's room name")
    p.set_defaults(run=cmd_classroom)

    p = sub.add_parser("traces", help="where the editing traces are, or how to get them")
    p.add_argument("--fetch", action="store_true",
                   help="download them into the cache (sha256 checked)")
    p.add_argument("--dir", action="store_true", help="print only the folder that has them")
    p.add_argument("--from", dest="source", default=None,
                   help="download from this mirror instead of GitHub (same layout)")
    p.set_defaults(run=cmd_traces)

    p = sub.add_parser("doctor", help="check this machine can run the course")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(run=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyError as error:
        print(f"rtlab: {error.args[0]}", file=sys.stderr)
        return 2
    return code
