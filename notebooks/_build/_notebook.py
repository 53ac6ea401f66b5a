"""What every notebook build script shares: collect cells, build, execute, write.

A script creates ``lesson = Lesson("04-reconnection.ipynb", "reconnection")``,
adds cells with ``lesson.md(...)`` and ``lesson.code(..., tags)``, and ends with
``sys.exit(lesson.main())``:

    python notebooks/_build/NAME.py            # rewrite; unchanged code cells keep outputs
    python notebooks/_build/NAME.py --execute  # rewrite, run it, store fresh outputs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent


class Lesson:
    def __init__(self, filename: str, id_prefix: str, description: str = "") -> None:
        self.path = NOTEBOOKS / filename
        self.id_prefix = id_prefix
        self.description = description or f"Build notebooks/{filename}"
        self.cells: list[nbformat.NotebookNode] = []

    def md(self, source: str) -> None:
        self.cells.append(new_markdown_cell(source.strip("\n")))

    def code(self, source: str, tags: list[str] | None = None) -> None:
        cell = new_code_cell(source.strip("\n"))
        if tags:
            cell.metadata["tags"] = list(tags)
        self.cells.append(cell)

    def build(self) -> nbformat.NotebookNode:
        nb = new_notebook(cells=self.cells)
        nb.metadata["kernelspec"] = {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        }
        nb.metadata["language_info"] = {"name": "python"}
        for i, cell in enumerate(nb.cells):  # stable ids: rebuilding does not churn the diff
            cell["id"] = f"{self.id_prefix}-{i:02d}"
        nbformat.validate(nb)
        return nb

    def execute(self, nb: nbformat.NotebookNode) -> None:
        from nbclient import NotebookClient

        # "python3" is the kernel of the running Python (jupyter_client swaps in sys.executable).
        NotebookClient(
            nb, kernel_name="python3", timeout=120, record_timing=False,
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        ).execute()
        nb.metadata["language_info"] = {"name": "python"}  # no interpreter version in the file

    def keep_outputs(self, nb: nbformat.NotebookNode) -> None:
        """Give unchanged code cells the outputs stored in the current notebook."""
        if not self.path.exists():
            return
        old = nbformat.read(self.path, as_version=4)
        stored = {(c.cell_type, c.source): c for c in old.cells}
        for cell in nb.cells:
            previous = stored.get((cell.cell_type, cell.source))
            skipped = "skip-execution" in cell.metadata.get("tags", [])
            if cell.cell_type == "code" and previous is not None and not skipped:
                cell.outputs = previous.outputs
                cell.execution_count = previous.get("execution_count")
        if "widgets" in old.metadata:  # widgets' last state, saved by nbclient
            nb.metadata["widgets"] = old.metadata["widgets"]

    def main(self, argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(description=self.description)
        parser.add_argument("--execute", action="store_true", help="run it and store outputs")
        args = parser.parse_args(argv)
        nb = self.build()
        if args.execute:
            self.execute(nb)
        else:
            self.keep_outputs(nb)
        nbformat.write(nb, self.path)
        print(f"wrote notebooks/{self.path.name}{' (executed)' if args.execute else ''}: "
              f"{len(nb.cells)} cells", file=sys.stderr)
        return 0
