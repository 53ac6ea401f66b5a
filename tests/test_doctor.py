"""rtlab.doctor: the report's logic, and a real run on this machine."""

from __future__ import annotations

import asyncio

from rtlab.doctor import Check, DoctorReport, doctor_async, run_doctor


def test_a_report_is_ok_unless_a_check_failed() -> None:
    assert DoctorReport([Check("a", "ok", ""), Check("b", "warn", "")]).ok
    assert not DoctorReport([Check("a", "ok", ""), Check("b", "fail", "")]).ok, (
        "a report with a failed check must not be ok"
    )


def test_the_text_report_has_one_aligned_line_per_check() -> None:
    report = DoctorReport(
        [Check("python", "ok", "3.11"), Check("kernel", "warn", "odd"), Check("ws", "fail", "x")]
    )
    lines = str(report).splitlines()
    assert lines == ["✓ python  3.11", "! kernel  odd", "✗ ws      x"]


def test_the_html_report_escapes_details() -> None:
    html = DoctorReport([Check("kernel", "warn", "<script>")])._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_doctor_finds_nothing_failing_in_the_test_environment() -> None:
    report = run_doctor()
    failed = [f"{row.name}: {row.detail}" for row in report.rows if row.status == "fail"]
    assert not failed, f"make doctor reports failures where the tests run: {failed}"
    names = {row.name for row in report.rows}
    assert {"python", "packages", "kernel", "loopback", "websockets"} <= names
    assert report.seconds < 15, f"the doctor took {report.seconds:.1f} s; it should take a few"


def test_the_doctor_runs_where_an_event_loop_is_already_running() -> None:
    """As in a Jupyter cell: both the sync and the async entry points work."""

    async def cell() -> tuple[DoctorReport, DoctorReport]:
        return run_doctor(), await doctor_async()

    from_sync, from_async = asyncio.run(cell())
    for report in (from_sync, from_async):
        websocket = next(row for row in report.rows if row.name == "websockets")
        assert websocket.status == "ok", f"the loopback WebSocket round trip failed: {websocket}"
