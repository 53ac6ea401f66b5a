"""Grader of the collaboration exercise (``exercises/collab.py``: ``Room`` and ``Client``).

It runs 200 seeded worlds (``rtlab.topics.collaboration.sim.graded_world``) in virtual time:
2-4 editors (pycrdt docs with fixed client ids, the learner's ``Client`` around
each) and one learner ``Room`` that starts from a saved document of about 400
characters; bursts of concurrent inserts, deletes and map sets; messages on
per-connection FIFO links with 5-80 ms latency. Even seeds are *race* worlds
(everyone online, garbage from a rogue connection); odd seeds are *reconnect*
worlds (links cut with everything in flight lost, offline edits, an outbox that
sends its last updates again, shuffled, after a reconnect, editors joining
while others type, an editor leaving for good, a server restart through
``save()`` and ``Room(saved)``). Every world ends with everything delivered and
a fresh client opening the document. What is checked:

``message-ordering-race`` (race worlds: relaying and merging lose nothing)
    every editor and a newcomer end with exactly the content of a doc that
    merged every edit anyone made (the *truth*); invalid input (empty,
    truncated, unknown type, not an update, bad awareness JSON) makes
    ``Room.receive`` raise ``ValueError`` and leaves ``save()`` unchanged.
``reconnection-state-loss`` (reconnect worlds: nothing lost across cuts)
    the same convergence to the truth (offline edits, updates that arrived
    while a client was syncing, a restart, a leaver's edits), and a newcomer
    who opens the document right after a restart gets everything the room had
    received.
``synchronizing-full-state`` (both: bytes grow with the edit, not the document)
    a step 2 (room or client), or a document update the room sends on join, is at
    most ``2 x`` what the asker lacked ``+ 64 B``
    (what lacked: the truth, or the client's doc, encoded against the asker's state
    vector); per editor, the live edits the room relayed to it total at most
    ``3 x`` what they changed in its doc ``+ 64 B`` per message (room for the
    duplicates a correct room may relay); a client's update messages total at
    most ``2 x`` its own edits' updates ``+ 32 B`` per message. (What a sync
    brings the room is relayed too, but is not judged here: after a room lost
    its state it is old news to the others, and that loss is judged above.)
``awareness-ghost`` (both: awareness shows exactly who is there)
    0.4 s after the room learns that a connection closed or dropped, no other
    connected editor shows its awareness; at the end every editor, and a
    newcomer, shows exactly the other connected editors with their latest state.

A learner call that raises (other than the ``ValueError`` asked for on invalid
input) or returns the wrong type stops its world and fails every ID with the
call, the time and the error; a stub's ``NotImplementedError`` reads as a TODO.

Margins: edits are 7-40 B and the document about 400-500 B, so a full-state
message misses its bound by 5-10 x; duplicates a correct room may relay cost
at most one edit (~20 B) each, well inside 64 B. Convergence is exact (a CRDT
merge is deterministic). Of the 100 worlds of their kind, the known-bad variants
fail in 29 (updates dropped while syncing), 36 (crash on garbage), 45 (restart
forgets), 54 of 200 (no awareness removal), up to all (full-state relay). The
reference takes 0.9 s for the 200 worlds on an idle machine (4.5 ms per world;
presence's grader: 0.41 s), 1.3-2 s of CPU on a loaded one (``bench_collab_grader``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pycrdt import Doc, Map, Text

from rtlab.grading.report import Finding, Report, Status
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.plots import client_timeline, figure_to_png_base64
from rtlab.syllabus import reference_link
from rtlab.topics.collaboration.sim import Edit, LearnerError, Plan, World, describe, graded_world

SEEDS = list(range(9000, 9200))
SCENARIO_SECONDS = 10.0  # a world takes ~10 ms; loaded CI machines stall

ORDER = "message-ordering-race"
RECONNECT = "reconnection-state-loss"
FULL = "synchronizing-full-state"
GHOST = "awareness-ghost"
IDS = (ORDER, RECONNECT, FULL, GHOST)
TITLES = {
    ORDER: "Concurrent edits all reach everyone (merge, do not replace)",
    RECONNECT: "Nothing is lost across cuts, offline edits and restarts",
    FULL: "Deltas on the wire, not the whole document",
    GHOST: "Awareness shows who is there: no ghost after a leave or drop",
}
HINTS = {
    ORDER: "The room must merge every update into one pycrdt Doc (doc.apply_update) and "
    "relay it to the other members; never replace its document with what one client sent. "
    "Answer a step 1 from that doc: doc.get_update(state_vector). On invalid input, raise "
    "ValueError before changing anything (parse() does the checking for you).",
    RECONNECT: "Offline edits are in the client's doc: answer the room's step 1 (sent on "
    "every join) with doc.get_update(its state vector), or queue them and send them on "
    "connect. The room relays to every member, also to one still syncing (it joined but "
    "its step 2 has not arrived): a CRDT applies updates in any order. save() must return "
    "the whole document (doc.get_update()) and Room(saved) must apply it.",
    FULL: "A step 2 carries doc.get_update(state_vector): only what the asker lacks, never "
    "doc.get_update() with no argument. Relay the update that arrived (or what it changed), "
    "not the whole document. The client sends each edit's update, not its whole doc.",
    GHOST: "Record which awareness ids each connection announced (awareness messages: "
    "client id -> state, null when gone). In leave(client), remove them (pycrdt's "
    "Awareness.remove_awareness_states) and send everyone left an awareness message with "
    "those ids and a null state (encode_awareness_update). Keep an id another live "
    "connection announced too. On join, send the newcomer the states you know.",
}
REQUIRED = {  # families a check applies to
    ORDER: ("race",),
    RECONNECT: ("reconnect",),
    FULL: ("race", "reconnect"),
    GHOST: ("race", "reconnect"),
}


@dataclass
class Run:
    seed: int
    plan: Plan | None = None
    world: World | None = None
    observer: str | None = None
    error: str | None = None
    error_at: float | None = None
    timed_out: bool = False


@dataclass
class Verdict:
    status: Status
    observed: str = ""
    expected: str = ""
    at: float | None = None
    who: tuple[str, ...] = ()  # timeline rows to show: "room", "e1", ...


PASS = Verdict("passed")


def scenario(module: ModuleType, seed: int) -> Run:
    """Run graded world ``seed`` with the learner's ``Room`` and ``Client``."""
    run = Run(seed)
    try:
        with time_limit(SCENARIO_SECONDS, f"world seed {seed}"):
            room, client = module.Room, module.Client
            run.world, run.plan = graded_world(room, client, seed)
            run.world.run_until(run.plan.until)
            run.observer = run.world.finish()
    except LearnerTimeout as error:
        run.error, run.timed_out = str(error), True
    except LearnerError as error:
        detail = (describe_error(error.error) if error.error is not None else error.detail)
        if error.error is not None and not isinstance(error.error, NotImplementedError):
            detail = f"raised {detail}"
        run.error, run.error_at = f"{error.call} at t={error.t:.3f} s {detail}", error.t
    except AttributeError as error:
        run.error = f"your module lacks something the grader needs: {error}"
    except Exception as error:  # something else went wrong: say what, never escape grade()
        run.error = f"the world stopped: {describe_error(error)}"
    return run


# -- describing what happened ------------------------------------------------------


def _crashed(run: Run) -> Verdict | None:
    if run.error is None:
        return None
    return Verdict("failed", run.error, "Room and Client run without raising, and return "
                   "lists of messages", run.error_at, ("room", "e1", "e2", "e3", "e4"))


def _content(doc: Doc[Any]) -> tuple[str, dict[str, object]]:
    return str(doc.get("text", type=Text)), dict(doc.get("meta", type=Map))


def _lacks(state: bytes, update: bytes) -> bool:
    """Would ``update`` still change a document holding ``state`` (so it never got it)?"""
    probe: Doc[Any] = Doc()
    probe.apply_update(state)
    before = _content(probe)
    probe.apply_update(update)
    return _content(probe) != before


def _missing_edit(doc: Doc[Any], edits: list[Edit]) -> Edit | None:
    """The first edit that ``doc`` lacks."""
    state = doc.get_update()
    return next((edit for edit in edits if _lacks(state, edit.update)), None)


def _in_the_room(world: World, edit: Edit) -> str:
    """Whether the room's document (as save() returns it) holds ``edit``, in words."""
    try:
        saved = world.room.save()
        held = not _lacks(bytes(saved), edit.update)
    except Exception:
        return ""
    return (" The room has it (its save() at the end includes it): it reached the room, "
            "which did not pass it on." if held else
            " The room's document (its save() at the end) lacks it too.")


def _snippet(a: str, b: str) -> str:
    """Where two texts first differ, with a little context."""
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"from character {i}: {a[max(0, i - 12):i + 24]!r} vs {b[max(0, i - 12):i + 24]!r}"


def _how_sent(edit: Edit) -> str:
    if not edit.online:
        return "made offline" + (f"; local_update returned {len(edit.sent)} message(s)"
                                 if edit.sent else "; local_update returned []")
    shown = ", ".join(describe(m) for m in edit.sent) or "nothing"
    return f"made online; local_update returned [{shown}]"


def _convergence(run: Run) -> Verdict:
    world = run.world
    assert world is not None and run.observer is not None
    truth = world.truth
    expected = _content(truth)
    replicas: list[tuple[str, Doc[Any]]] = [
        (editor.name, editor.doc) for editor in world.editors.values() if not editor.gone]
    replicas.append(("a newcomer who opened the document at the end",
                     world.observer_doc(run.observer)))
    for name, doc in replicas:
        got = _content(doc)
        if got == expected:
            continue
        who: tuple[str, ...]
        saved = Edit(0, 0.0, "", world.saved0, True)
        lost = _missing_edit(doc, [saved, *world.edits])
        if lost is saved:
            observed = (f"{name} ended without the document the room started from "
                        f"(Room(saved) with {len(world.saved0)} B saved before anyone came).")
            who, at = ("room",), 0.0
        elif lost is not None:
            author = world.editors[lost.editor].name
            observed = (f"{name} ended without {author}'s edit at t={lost.t:.3f} s "
                        f"({lost.what}; {_how_sent(lost)})." + _in_the_room(world, lost))
            who = ("room", author) + ((name,) if name.startswith("e") else ())
            at = lost.t
        else:
            observed = (f"{name} has every edit anyone made, yet its document differs from "
                        "their merge: something else changed it (did your code edit the "
                        "document?).")
            who, at = ("room",), world.now
        if got[0] != expected[0]:
            observed += (f" Its text ({len(got[0])} characters) differs from the merge of "
                         f"every edit ({len(expected[0])}) {_snippet(got[0], expected[0])}.")
        else:
            observed += f" Its map is {got[1]}, the merge of every edit gives {expected[1]}."
        return Verdict("failed", observed,
                       "every editor, and anyone who opens the document, ends with every edit "
                       "anyone made, merged", at, who)
    return PASS


def check_ordering(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for g in world.garbage:
        if not g.rejected:
            return Verdict(
                "failed",
                f"A connection sent {g.what} ({g.message!r}); Room.receive {g.outcome}.",
                "invalid input raises ValueError (the server then closes that connection), "
                "before anything changes", g.t, ("room",))
        if not g.unchanged:
            return Verdict(
                "failed",
                f"A connection sent {g.what} ({g.message!r}); Room.receive raised ValueError, "
                "but save() returned something else afterwards: the room changed.",
                "invalid input changes nothing", g.t, ("room",))
    return _convergence(run)


def check_reconnect(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for restart in world.restarts:
        if restart.newcomer_text != restart.expected_text:
            got = restart.newcomer_text
            observed = (f"The server restarted at t={restart.t:.3f} s (save() returned "
                        f"{restart.saved} B, then Room(saved)). A newcomer who opened the "
                        "document right after "
                        + ("never got a step 2." if got is None else
                           f"got {len(got)} characters; the room had received "
                           f"{len(restart.expected_text)}: "
                           f"{_snippet(got, restart.expected_text)}."))
            return Verdict("failed", observed, "a restart keeps every update the room had "
                           "received (save() is the whole document, Room(saved) applies it)",
                           restart.t, ("room",))
    return _convergence(run)


def check_full_state(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for b in world.sync_bytes:
        if b.kind in ("step2 reply", "client step2 reply") and b.size > 2 * b.needed + 64:
            asker = b.receiver if b.kind == "step2 reply" else "the room"
            who = "Room" if b.kind == "step2 reply" else f"{b.sender}'s Client"
            return Verdict(
                "failed",
                f"At t={b.t:.3f} s {who} answered a step 1 from {asker} with a step 2 of "
                f"{b.size} B; what {asker} lacked encodes in {b.needed} B.",
                f"a step 2 of at most 2 x {b.needed} + 64 = {2 * b.needed + 64} B: "
                "doc.get_update(state_vector), only what the asker lacks",
                b.t, ("room", b.receiver if b.sender == "room" else b.sender))
    for b in world.sync_bytes:
        if b.kind == "sent on join" and b.size > 2 * b.needed + 64:
            return Verdict(
                "failed",
                f"At t={b.t:.3f} s Room.join sent {b.receiver}, which had just (re)connected, "
                f"a document update of {b.size} B; {b.needed} B of it were new to {b.receiver}.",
                f"at most 2 x {b.needed} + 64 = {2 * b.needed + 64} B: on join, send step 1 "
                "and let the client's step 1 say what it lacks",
                b.t, ("room", b.receiver))
    relays: dict[str, list[int]] = {}
    for b in world.sync_bytes:
        if b.kind == "relay":
            size, needed, count = relays.setdefault(b.receiver, [0, 0, 0])
            relays[b.receiver] = [size + b.size, needed + b.needed, count + 1]
    for name, (size, needed, count) in sorted(relays.items()):
        if size > 3 * needed + 64 * count:
            worst = max((b for b in world.sync_bytes if b.kind == "relay" and b.receiver == name),
                        key=lambda b: b.size - b.needed)
            return Verdict(
                "failed",
                f"The room relayed {count} updates to {name}, {size} B in all, which changed "
                f"{needed} B worth of its document. The largest: {worst.size} B at "
                f"t={worst.t:.3f} s, of which {worst.needed} B were new to {name}.",
                f"relayed updates of at most 3 x {needed} + 64 x {count} = "
                f"{3 * needed + 64 * count} B: each edit's update, not the whole document",
                worst.t, ("room", name))
    own: dict[int, list[int]] = {}
    for edit in world.edits:
        own.setdefault(edit.editor, [0, 0])[0] += len(edit.update)
    sent: dict[str, list[int]] = {}
    for b in world.sync_bytes:
        if b.kind == "client update":
            size, count = sent.setdefault(b.sender, [0, 0])
            sent[b.sender] = [size + b.size, count + 1]
    for number, editor in world.editors.items():
        size, count = sent.get(editor.name, [0, 0])
        edits = own.get(number, [0, 0])[0]
        if size > 2 * edits + 32 * count:
            first = next(b for b in world.sync_bytes
                         if b.kind == "client update" and b.sender == editor.name)
            return Verdict(
                "failed",
                f"{editor.name}'s Client sent {count} update messages, {size} B in all, for "
                f"edits whose updates total {edits} B (the first: {first.size} B at "
                f"t={first.t:.3f} s).",
                f"at most 2 x {edits} + 32 x {count} = {2 * edits + 32 * count} B: send each "
                "edit's update, not the whole document", first.t, (editor.name, "room"))
    return PASS


def check_awareness(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for probe in world.probes:
        if not probe.wrong:
            continue
        if probe.ghost is not None:
            gone = world.editors[probe.ghost].name
            return Verdict(
                "failed",
                f"{probe.why}, {probe.viewer} still showed {gone} in its awareness "
                f"({probe.shown[probe.ghost]}): a ghost.",
                f"the room tells everyone at once that {gone}'s awareness is gone",
                probe.t, ("room", probe.viewer, gone))
        ghosts = sorted(set(probe.shown) - set(probe.expected))
        missing = sorted(set(probe.expected) - set(probe.shown))
        stale = sorted(k for k in set(probe.shown) & set(probe.expected)
                       if probe.shown[k] != probe.expected[k])
        parts = []
        if ghosts:
            parts.append("shows " + ", ".join(f"e{k}" for k in ghosts) + ", who had gone")
        if missing:
            parts.append("lacks " + ", ".join(f"e{k}" for k in missing) + ", who was there")
        if stale:
            parts.append("shows an old state of " + ", ".join(f"e{k}" for k in stale))
        return Verdict(
            "failed",
            f"{probe.why.capitalize()}, the awareness of {probe.viewer} " + " and ".join(parts)
            + f": {probe.shown} instead of {probe.expected}.",
            "awareness shows exactly the connected editors, with their latest state (a "
            "newcomer gets the known states on join)",
            probe.t, ("room",) + ((probe.viewer,) if probe.viewer.startswith("e") else ()))
    return PASS


# -- timelines and figures ---------------------------------------------------------------


def _timeline(run: Run, verdict: Verdict, rows: int = 18) -> list[str]:
    world = run.world
    if world is None:
        return []
    at = world.now if verdict.at is None else verdict.at
    lines = [(t, who, line) for t, who, line in world.log if who in verdict.who or not verdict.who]
    before = [i for i, (t, _, _) in enumerate(lines) if t <= at + 1e-9]
    last = before[-1] if before else 0
    start = max(0, last - rows // 2)
    chosen = lines[start:start + rows]
    if not chosen:
        return []
    return world.timeline(verdict.who or None, chosen[0][0], chosen[-1][0])[:rows]


def _figure(run: Run, verdict: Verdict) -> str | None:
    world = run.world
    if world is None or run.plan is None or run.error is not None:
        return None  # a crash: the message and the timeline say it all
    rows = {f"{e.name}": e.spans for e in world.editors.values()}
    marks = {f"restart {i + 1}": r.t for i, r in enumerate(world.restarts)}
    if verdict.at is not None:
        marks["failure"] = verdict.at
    fig = client_timeline(rows, start=0, end=max(world.now, run.plan.until) + 0.2, marks=marks,
                          title=f"seed {run.seed} ({run.plan.family}): when each editor "
                          "was connected")
    return figure_to_png_base64(fig)


# -- the grader -------------------------------------------------------------------------


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every world (or only ``seeds``) and return one finding per ID."""
    plan: list[tuple[str, Callable[[Run], Verdict]]] = [
        (ORDER, check_ordering), (RECONNECT, check_reconnect), (FULL, check_full_state),
        (GHOST, check_awareness)]
    failures: dict[str, tuple[Run, Verdict]] = {}
    checked = dict.fromkeys(IDS, 0)
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        run = scenario(module, seed)
        runs += 1
        family = run.plan.family if run.plan is not None else ("race" if seed % 2 == 0
                                                               else "reconnect")
        for id, check in plan:
            if id in failures or family not in REQUIRED[id]:
                continue
            checked[id] += 1
            verdict = check(run)
            if verdict.status == "failed":
                failures[id] = (run, verdict)
        if len(failures) == len(plan) or run.timed_out:
            break
    findings = []
    for id, _ in plan:
        finding = Finding(id, TITLES[id], "passed", scenarios=checked[id], hint=HINTS[id],
                          reference=reference_link(id))
        if checked[id] == 0:
            finding.status = "not reached"
            finding.observed = "no world of this kind among the seeds graded"
        elif id in failures:
            run, verdict = failures[id]
            finding.status, finding.seed = "failed", run.seed
            finding.observed, finding.expected = verdict.observed, verdict.expected
            finding.timeline = _timeline(run, verdict)
            finding.figure_png = _figure(run, verdict)
        findings.append(finding)
    return Report("collab", "", findings, scenarios=runs)


def bench_collab_grader() -> None:
    """Print how long the reference takes through the grader's 200 worlds, and per world."""
    import time

    from rtlab import course
    from rtlab.learner import load_module

    module = load_module(course.root() / "solutions" / "collab.py", "collab_bench")
    started, cpu = time.perf_counter(), time.process_time()
    report = grade(module)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    worlds = [scenario(module, seed) for seed in SEEDS[:40]]
    edits = sum(len(run.world.edits) for run in worlds if run.world is not None)
    messages = sum(len(run.world.log) for run in worlds if run.world is not None)
    print(f"collab grader: {report.scenarios} worlds in {wall:.2f} s ({cpu:.2f} s CPU), "
          f"{1000 * wall / report.scenarios:.1f} ms per world; "
          f"{edits / 40:.0f} edits and {messages / 40:.0f} logged steps per world; "
          f"{'all pass' if report.passed else 'FAILED'}")
