"""Build a lesson notebook from its source, a jupytext py:percent file beside it.

Each lesson is written as plain Python (``notebooks/04-reconnection.py``): cells
start with ``# %%`` (markdown cells with ``# %% [markdown]``), tags sit in the cell
header (``# %% tags=["nbval-ignore-output"]``), and ruff lints it like any code.
The stored notebook (``notebooks/04-reconnection.ipynb``) is what learners open and
nbval checks; this command makes it from the source:

    python -m rtlab.lessons 04-reconnection            # rewrite; unchanged cells keep outputs
    python -m rtlab.lessons 04-reconnection --execute  # rewrite, run it, store fresh outputs
    python -m rtlab.lessons --all --execute            # every lesson
    python -m rtlab.lessons --check                    # are the notebooks in step with sources?

(``make lesson NAME=04-reconnection`` runs the second line.) Cell ids are stable
(``<name>-<index>``), so a rebuild does not churn the diff, and the stored metadata
names no interpreter version.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import jupytext  # type: ignore[import-untyped]  # no type hints shipped
import nbformat

from rtlab import course

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
FORMAT = "py:percent"


def notebooks_dir() -> Path:
    return course.root() / "notebooks"


def sources() -> list[Path]:
    """Every lesson source: ``notebooks/NN-*.py``."""
    return sorted(notebooks_dir().glob("[0-9][0-9]-*.py"))


def source_of(name: str) -> Path:
    """``04-reconnection``, ``04-reconnection.py`` or ``.ipynb``, or a path, to the source."""
    path = Path(name)
    if path.suffix in (".py", ".ipynb"):
        path = path.with_suffix("")
    candidate = notebooks_dir() / f"{path.name}.py"
    if not candidate.exists():
        known = ", ".join(p.stem for p in sources())
        raise SystemExit(f"no lesson source {candidate.name} in notebooks/; the lessons: {known}")
    return candidate


def read_notebook(path: Path) -> Any:
    """A stored notebook, as nbformat v4 (nbformat's functions carry no type hints)."""
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def build(source: Path) -> Any:
    """The notebook of ``source``: its cells, stable ids, the course's kernel."""
    nb = jupytext.read(source, fmt=FORMAT)
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    prefix = source.stem.split("-", 1)[-1]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"
        tags = cell.metadata.get("tags")
        cell.metadata = {"tags": list(tags)} if tags else {}
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    nbformat.validate(nb)
    return nb


def keep_outputs(nb: Any, target: Path) -> None:
    """Give unchanged code cells the outputs stored in ``target``."""
    if not target.exists():
        return
    old = read_notebook(target)
    stored = {(c.cell_type, c.source): c for c in old.cells}
    for cell in nb.cells:
        previous = stored.get((cell.cell_type, cell.source))
        if cell.cell_type == "code" and previous is not None:
            cell.outputs = previous.outputs
            cell.execution_count = previous.get("execution_count")
    if "widgets" in old.metadata:  # widgets' last state, saved by nbclient
        nb.metadata["widgets"] = old.metadata["widgets"]


def execute(nb: Any) -> None:
    from nbclient import NotebookClient

    # "python3" is the kernel of the running Python (jupyter_client swaps in sys.executable).
    NotebookClient(
        nb, kernel_name="python3", timeout=120, record_timing=False,
        resources={"metadata": {"path": str(notebooks_dir())}},
    ).execute()
    nb.metadata["language_info"] = {"name": "python"}  # no interpreter version in the file
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = merge_adjacent_streams(cell.outputs)


def merge_adjacent_streams(outputs: list[Any]) -> list[Any]:
    """One output per run of prints: how the kernel chunks a stream varies from run to run."""
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream"
                and previous.get("name") == output.get("name")):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def out_of_step(source: Path) -> list[str]:
    """How the stored notebook differs from its source (empty when in step)."""
    target = source.with_suffix(".ipynb")
    if not target.exists():
        return [f"{target.name} is missing"]
    want = build(source).cells
    have = read_notebook(target).cells
    problems = []
    if len(want) != len(have):
        problems.append(f"{target.name}: {len(have)} cells, its source has {len(want)}")
    for i, (w, h) in enumerate(zip(want, have, strict=False)):
        tags_w, tags_h = w.metadata.get("tags", []), h.metadata.get("tags", [])
        if (w.cell_type, w.source, tags_w) != (h.cell_type, h.source, tags_h):
            problems.append(f"{target.name}: cell {i} differs from its source")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtlab.lessons",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="lessons, e.g. 04-reconnection")
    parser.add_argument("--all", action="store_true", help="every lesson in notebooks/")
    parser.add_argument("--execute", action="store_true", help="run it and store outputs")
    parser.add_argument("--check", action="store_true",
                        help="only say whether the stored notebooks match their sources")
    args = parser.parse_args(argv)
    chosen = sources() if args.all or (args.check and not args.names) else [
        source_of(name) for name in args.names]
    if not chosen:
        parser.error("name a lesson (e.g. 04-reconnection) or pass --all")
    if args.check:
        problems = [p for source in chosen for p in out_of_step(source)]
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("rebuild with: python -m rtlab.lessons NAME --execute", file=sys.stderr)
        return 1 if problems else 0
    for source in chosen:
        target = source.with_suffix(".ipynb")
        nb = build(source)
        if args.execute:
            execute(nb)
        else:
            keep_outputs(nb, target)
        nbformat.write(nb, target)  # type: ignore[no-untyped-call]
        print(f"wrote notebooks/{target.name}{' (executed)' if args.execute else ''}: "
              f"{len(nb.cells)} cells", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
