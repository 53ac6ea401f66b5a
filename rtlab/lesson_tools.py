"""Helpers for the lessons that belong to no single module (the start-here notebook).

:func:`course_map` renders the map of ``course.toml`` as a Markdown table, so the
start-here lesson shows the course as it stands without a table builder in a cell.
"""

from __future__ import annotations

from rtlab import course

__all__ = ["course_map"]

# Which reference page explains each kind of ID named in course.toml.
PAGES = {
    "validations": "validations.md",
    "sharp_edges": "sharp_edges.md",
    "patterns": "patterns.md",
    "anti_patterns": "patterns.md",
}

# What modules that teach no single ID are about.
OVERVIEWS = {
    "start-here": "the map, how checks work, the environment check",
    "capstone": "all of the above, at once",
}


def _teaches(module: course.Module, references: str) -> str:
    ids = [
        f"[`{id_}`]({references}/{page}#{id_})"
        for kind, page in PAGES.items()
        for id_ in getattr(module, kind)
    ]
    return ", ".join(ids) or OVERVIEWS.get(module.id, "")


def _status(the_course: course.Course, module: course.Module, exercises: str) -> str:
    if not module.ready:
        return "planned"
    if module.exercise is None:
        return "**ready**"
    file = the_course.exercise(module.exercise).file
    return f"**ready**, exercise [`{file}`]({exercises}/{file})"


def _notebooks(module: course.Module, here: str) -> str:
    names = [path.removeprefix("notebooks/") for path in module.notebooks]
    if module.notebook.endswith(here):
        return "you are here"
    return ", ".join(f"[{name}]({name})" if module.ready else name for name in names)


def course_map(here: str = "00-start-here.ipynb", up: str = "..") -> str:
    """The course map as a Markdown table, with links relative to ``notebooks/``.

    ``here`` is the notebook showing it ("you are here"); ``up`` is the way from
    ``notebooks/`` to the course folder, where ``references/`` and ``exercises/`` are.
    """
    the_course = course.load()
    rows = [
        "| | module | what it teaches | status | notebook |",
        "|---|---|---|---|---|",
    ]
    for module in the_course.modules:
        number = module.notebook.removeprefix("notebooks/")[:2]
        rows.append(
            f"| {number} | {module.title} | {_teaches(module, f'{up}/references')} "
            f"| {_status(the_course, module, f'{up}/exercises')} | {_notebooks(module, here)} |"
        )
    ready = sum(module.ready for module in the_course.modules)
    planned = len(the_course.modules) - ready
    rows.append(
        f"\n{ready} of {len(the_course.modules)} modules are ready"
        + ("; the planned one shows where the course is going." if planned == 1
           else f"; the {planned} planned ones show where the course is going." if planned
           else ".")
    )
    return "\n".join(rows)
