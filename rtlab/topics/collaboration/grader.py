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

from rtlab.grading.report import Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.plots import client_timeline, figure_to_png_base64
from rtlab.topics.collaboration.interface import learner_module
from rtlab.topics.collaboration.sim import Edit, Run, World, describe, scenario

SEEDS = list(range(9000, 9200))
NO_WORLD = "no world of this kind among the seeds graded"

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

@dataclass
class Spotted(Verdict):
    """A verdict that also says when it went wrong and whose log lines show it."""

    at: float | None = None
    who: tuple[str, ...] = ()  # timeline rows to show: "room", "e1", ...


# -- describing what happened ------------------------------------------------------


def _crashed(run: Run) -> Verdict | None:
    if run.error is None:
        return None
    return Spotted("failed", run.error, "Room and Client run without raising, and return "
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
    expected = _content(world.truth)
    replicas: list[tuple[str, Doc[Any]]] = [
        (editor.name, editor.doc) for editor in world.editors.values() if not editor.gone]
    replicas.append(("a newcomer who opened the document at the end",
                     world.observer_doc(run.observer)))
    for name, doc in replicas:
        if _content(doc) != expected:
            return _diverged(world, name, doc, expected)
    return PASS


def _diverged(world: World, name: str, doc: Doc[Any],
              expected: tuple[str, dict[str, object]]) -> Spotted:
    """What replica ``name`` lacks (the first edit it misses), and where its text differs."""
    got = _content(doc)
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
    return Spotted("failed", observed,
                   "every editor, and anyone who opens the document, ends with every edit "
                   "anyone made, merged", at, who)


def check_ordering(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for g in world.garbage:
        if not g.rejected:
            return Spotted(
                "failed",
                f"A connection sent {g.what} ({g.message!r}); Room.receive {g.outcome}.",
                "invalid input raises ValueError (the server then closes that connection), "
                "before anything changes", g.t, ("room",))
        if not g.unchanged:
            return Spotted(
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
            return Spotted("failed", observed, "a restart keeps every update the room had "
                           "received (save() is the whole document, Room(saved) applies it)",
                           restart.t, ("room",))
    return _convergence(run)


def _big_step2(world: World) -> Spotted | None:
    """A step 2 (room or client) far larger than what the asker lacked."""
    for b in world.sync_bytes:
        if b.kind in ("step2 reply", "client step2 reply") and b.size > 2 * b.needed + 64:
            asker = b.receiver if b.kind == "step2 reply" else "the room"
            who = "Room" if b.kind == "step2 reply" else f"{b.sender}'s Client"
            return Spotted(
                "failed",
                f"At t={b.t:.3f} s {who} answered a step 1 from {asker} with a step 2 of "
                f"{b.size} B; what {asker} lacked encodes in {b.needed} B.",
                f"a step 2 of at most 2 x {b.needed} + 64 = {2 * b.needed + 64} B: "
                "doc.get_update(state_vector), only what the asker lacks",
                b.t, ("room", b.receiver if b.sender == "room" else b.sender))
    return None


def _big_join(world: World) -> Spotted | None:
    """A document update sent on join, far larger than what was new to the newcomer."""
    for b in world.sync_bytes:
        if b.kind == "sent on join" and b.size > 2 * b.needed + 64:
            return Spotted(
                "failed",
                f"At t={b.t:.3f} s Room.join sent {b.receiver}, which had just (re)connected, "
                f"a document update of {b.size} B; {b.needed} B of it were new to {b.receiver}.",
                f"at most 2 x {b.needed} + 64 = {2 * b.needed + 64} B: on join, send step 1 "
                "and let the client's step 1 say what it lacks",
                b.t, ("room", b.receiver))
    return None


def _big_relays(world: World) -> Spotted | None:
    """Per editor, relayed live edits that total far more than what they changed."""
    relays: dict[str, list[int]] = {}
    for b in world.sync_bytes:
        if b.kind == "relay":
            size, needed, count = relays.setdefault(b.receiver, [0, 0, 0])
            relays[b.receiver] = [size + b.size, needed + b.needed, count + 1]
    for name, (size, needed, count) in sorted(relays.items()):
        if size > 3 * needed + 64 * count:
            worst = max((b for b in world.sync_bytes if b.kind == "relay" and b.receiver == name),
                        key=lambda b: b.size - b.needed)
            return Spotted(
                "failed",
                f"The room relayed {count} updates to {name}, {size} B in all, which changed "
                f"{needed} B worth of its document. The largest: {worst.size} B at "
                f"t={worst.t:.3f} s, of which {worst.needed} B were new to {name}.",
                f"relayed updates of at most 3 x {needed} + 64 x {count} = "
                f"{3 * needed + 64 * count} B: each edit's update, not the whole document",
                worst.t, ("room", name))
    return None


def _big_client_updates(world: World) -> Spotted | None:
    """Per editor, update messages that total far more than its own edits."""
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
            return Spotted(
                "failed",
                f"{editor.name}'s Client sent {count} update messages, {size} B in all, for "
                f"edits whose updates total {edits} B (the first: {first.size} B at "
                f"t={first.t:.3f} s).",
                f"at most 2 x {edits} + 32 x {count} = {2 * edits + 32 * count} B: send each "
                "edit's update, not the whole document", first.t, (editor.name, "room"))
    return None


def check_full_state(run: Run) -> Verdict:
    crashed = _crashed(run)
    if crashed:
        return crashed
    world = run.world
    assert world is not None
    for look in (_big_step2, _big_join, _big_relays, _big_client_updates):
        failure = look(world)
        if failure is not None:
            return failure
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
            return Spotted(
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
        return Spotted(
            "failed",
            f"{probe.why.capitalize()}, the awareness of {probe.viewer} " + " and ".join(parts)
            + f": {probe.shown} instead of {probe.expected}.",
            "awareness shows exactly the connected editors, with their latest state (a "
            "newcomer gets the known states on join)",
            probe.t, ("room",) + ((probe.viewer,) if probe.viewer.startswith("e") else ()))
    return PASS


# -- timelines and figures ---------------------------------------------------------------


def _timeline(world: World, at: float | None, who: tuple[str, ...], rows: int = 18
              ) -> list[str]:
    at = world.now if at is None else at
    lines = [(t, name, line) for t, name, line in world.log if name in who or not who]
    before = [i for i, (t, _, _) in enumerate(lines) if t <= at + 1e-9]
    last = before[-1] if before else 0
    start = max(0, last - rows // 2)
    chosen = lines[start:start + rows]
    if not chosen:
        return []
    return world.timeline(who or None, chosen[0][0], chosen[-1][0])[:rows]


def _figure(run: Run, world: World, at: float | None) -> str | None:
    if run.plan is None or run.error is not None:
        return None  # a crash: the message and the timeline say it all
    rows = {f"{e.name}": e.spans for e in world.editors.values()}
    marks = {f"restart {i + 1}": r.t for i, r in enumerate(world.restarts)}
    if at is not None:
        marks["failure"] = at
    fig = client_timeline(rows, start=0, end=max(world.now, run.plan.until) + 0.2, marks=marks,
                          title=f"seed {run.seed} ({run.plan.family}): when each editor "
                          "was connected")
    return figure_to_png_base64(fig)


def illustrate(run: Run, verdict: Verdict) -> tuple[list[str], str | None]:
    """The log lines around the failure and when each editor was connected."""
    if run.world is None:
        return [], None
    at, who = (verdict.at, verdict.who) if isinstance(verdict, Spotted) else (None, ())
    return _timeline(run.world, at, who), _figure(run, run.world, at)


# -- the grader -------------------------------------------------------------------------

# Each check, and the families of worlds it applies to.
CHECKS: list[tuple[Check, Callable[[Run], Verdict], tuple[str, ...]]] = [
    (Check(ORDER, TITLES[ORDER], HINTS[ORDER]), check_ordering, ("race",)),
    (Check(RECONNECT, TITLES[RECONNECT], HINTS[RECONNECT]), check_reconnect, ("reconnect",)),
    (Check(FULL, TITLES[FULL], HINTS[FULL]), check_full_state, ("race", "reconnect")),
    (Check(GHOST, TITLES[GHOST], HINTS[GHOST]), check_awareness, ("race", "reconnect")),
]


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every world (or only ``seeds``) and return one finding per ID.

    A check is asked only of worlds of its families, and no more once it failed;
    grading stops when every check has failed, or when a world ran out of time.
    """
    learner = learner_module(module)
    judged: dict[str, list[Judged[Run]]] = {check.id: [] for check, _, _ in CHECKS}
    failed: set[str] = set()
    runs = 0
    for seed in SEEDS if seeds is None else seeds:
        run = scenario(learner, seed)
        runs += 1
        for check, verdict_of, families in CHECKS:
            if check.id not in failed and run.family in families:
                verdict = verdict_of(run)
                judged[check.id].append(Judged(seed, verdict, run))
                if verdict.status == "failed":
                    failed.add(check.id)
        if len(failed) == len(CHECKS) or run.timed_out:
            break
    findings = [judge(check, judged[check.id], illustrate, none_run=NO_WORLD)
                for check, _, _ in CHECKS]
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
    worlds = [scenario(learner_module(module), seed) for seed in SEEDS[:40]]
    edits = sum(len(run.world.edits) for run in worlds if run.world is not None)
    messages = sum(len(run.world.log) for run in worlds if run.world is not None)
    print(f"collab grader: {report.scenarios} worlds in {wall:.2f} s ({cpu:.2f} s CPU), "
          f"{1000 * wall / report.scenarios:.1f} ms per world; "
          f"{edits / 40:.0f} edits and {messages / 40:.0f} logged steps per world; "
          f"{'all pass' if report.passed else 'FAILED'}")
