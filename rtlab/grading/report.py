"""What a grader says: one finding per validation ID, as text or as HTML.

A :class:`Report` travels as JSON from the grading subprocess to the notebook,
so every field is plain data; figures are stored as base64 PNG.
"""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Status = Literal["passed", "failed", "not reached"]
MARK = {"passed": "✓", "failed": "✗", "not reached": "·"}
COLOUR = {"passed": "#1a7f37", "failed": "#cf222e", "not reached": "#6e7781"}


@dataclass
class Finding:
    """The verdict on one validation ID."""

    id: str
    title: str
    status: Status
    scenarios: int = 0
    seed: int | None = None
    expected: str = ""
    observed: str = ""
    timeline: list[str] = field(default_factory=list)
    hint: str = ""
    reference: str = ""
    figure_png: str | None = None  # base64, only for failures

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(repr=False)
class Report:
    """All findings of one run of one exercise's grader (``repr`` is the text view)."""

    exercise: str
    source: str
    findings: list[Finding] = field(default_factory=list)
    scenarios: int = 0
    seconds: float = 0.0
    error: str | None = None  # the learner's file could not be loaded or graded at all
    rerun: str = ""
    level: str = ""  # "level 1 of 2: ..." when only one level of the exercise was graded

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.findings) and all(f.passed for f in self.findings)

    def failed_ids(self) -> set[str]:
        return {f.id for f in self.findings if f.status == "failed"}

    def finding(self, id: str) -> Finding:
        for f in self.findings:
            if f.id == id:
                return f
        raise KeyError(id)

    def only_level(self, number: int, of: int, title: str, ids: tuple[str, ...]) -> Report:
        """This report cut down to one level's IDs: a level passes on its own checks."""
        unknown = set(ids) - {f.id for f in self.findings}
        if self.error is None and unknown:
            raise ValueError(
                f"level {number} names IDs the grader does not check: {sorted(unknown)}")
        findings = [f for f in self.findings if f.id in ids]
        return replace(self, findings=findings, level=f"level {number} of {of}: {title}",
                       rerun=f"{self.rerun} --level {number}")

    # -- transport ----------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Report:
        data: dict[str, Any] = json.loads(text)
        findings = [Finding(**f) for f in data.pop("findings")]
        return cls(findings=findings, **data)

    # -- rendering ----------------------------------------------------------
    def headline(self) -> str:
        if self.error is not None:
            return f"{self.exercise}: could not be graded"
        done = sum(f.passed for f in self.findings)
        verdict = "all checks pass" if self.passed else f"{done} of {len(self.findings)} pass"
        level = f", {self.level}" if self.level else ""
        scenarios = "scenario" if self.scenarios == 1 else "scenarios"
        return (
            f"{self.exercise}{level}: {verdict} "
            f"({self.scenarios} seeded {scenarios} in {self.seconds:.2f} s)"
        )

    def __str__(self) -> str:
        lines = [self.headline(), f"  graded: {self.source}"]
        if self.error is not None:
            lines += ["", *("  " + line for line in self.error.splitlines())]
            return "\n".join(lines)
        width = max(len(f.id) for f in self.findings) if self.findings else 0
        lines.append("")
        for f in self.findings:
            lines.append(f"  {MARK[f.status]} {f.id:<{width}}  {f.title} ({f.status})")
        for f in self.findings:
            if f.status == "passed":
                continue
            lines += ["", f"{MARK[f.status]} {f.id}: {f.title}"]
            if f.seed is not None:
                lines.append(f"  seed      {f.seed}   (replay: {self.rerun} --seed {f.seed})")
            if f.expected:
                lines.append(f"  expected  {f.expected}")
            if f.observed:
                lines += _labelled("observed", f.observed)
            if f.timeline:
                lines.append("  timeline")
                lines += [f"    {row}" for row in f.timeline]
            if f.hint:
                lines += _labelled("hint", f.hint)
            if f.reference:
                lines.append(f"  read      {f.reference}")
        if self.passed and self.level:
            lines += ["", "This level passes. On to the next, or grade the whole exercise: "
                      f"python -m rtlab check {self.exercise}"]
        elif self.passed:
            lines += ["", "Well done. Compare with the reference: python -m rtlab solution "
                      f"{self.exercise}"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        colour = "#1a7f37" if self.passed else "#cf222e"
        parts = [
            '<div style="font-family:system-ui,sans-serif;max-width:56em">',
            f'<div style="font-weight:600;color:{colour}">{esc(self.headline())}</div>',
            f'<div style="color:#6e7781;font-size:90%">graded: <code>{esc(self.source)}</code>'
            "</div>",
        ]
        if self.error is not None:
            parts.append(f"<pre>{esc(self.error)}</pre></div>")
            return "".join(parts)
        parts.append('<table style="margin:.5em 0">')
        for f in self.findings:
            parts.append(
                f'<tr><td style="color:{COLOUR[f.status]};font-weight:700">{MARK[f.status]}</td>'
                f"<td><code>{esc(f.id)}</code></td><td>{esc(f.title)}</td>"
                f'<td style="color:{COLOUR[f.status]}">{f.status}</td></tr>'
            )
        parts.append("</table>")
        for f in self.findings:
            if f.status == "passed":
                continue
            parts.append(
                f'<details open style="border-left:3px solid {COLOUR[f.status]};'
                'padding-left:.7em;margin:.6em 0">'
                f"<summary><b>{esc(f.id)}</b>: {esc(f.title)}</summary><dl>"
            )
            if f.seed is not None:
                parts.append(
                    f"<dt>seed</dt><dd><code>{f.seed}</code> — replay with "
                    f"<code>{esc(self.rerun)} --seed {f.seed}</code></dd>"
                )
            for label, text in (("expected", f.expected), ("observed", f.observed)):
                if text:
                    parts.append(f"<dt>{label}</dt><dd>{esc(text)}</dd>")
            if f.figure_png:
                parts.append(
                    f'<dd><img alt="timeline of the failing run" style="max-width:100%" '
                    f'src="data:image/png;base64,{f.figure_png}"></dd>'
                )
            if f.timeline:
                parts.append(f"<dt>timeline</dt><dd><pre>{esc(chr(10).join(f.timeline))}</pre></dd>")
            if f.hint:
                parts.append(f"<dt>hint</dt><dd>{esc(f.hint)}</dd>")
            if f.reference:
                parts.append(
                    f'<dt>read</dt><dd><a href="../{esc(f.reference)}" target="_blank">'
                    f"{esc(f.reference)}</a></dd>"
                )
            parts.append("</dl></details>")
        parts.append("</div>")
        return "".join(parts)


def _labelled(label: str, text: str) -> list[str]:
    wrapped = [w for line in text.splitlines() for w in textwrap.wrap(line, 76) or [""]]
    first, *rest = wrapped or [""]
    return [f"  {label:<9} {first}", *(f"            {line}" for line in rest)]
