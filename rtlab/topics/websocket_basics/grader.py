"""Grader of the frames exercise (``exercises/frames.py``): uploads as JSON + binary.

The protocol is sans-I/O, so the learner's ``encode_upload`` and ``Receiver`` are
called directly: one ``Receiver`` per simulated connection, exactly as the live
server in ``rtlab.topics.websocket_basics.live`` does with real WebSocket frames.
``rtlab.topics.websocket_basics.sim`` makes the scenarios from their seeds and
plays the interleaved ones; this grader judges every answer as it comes. Wire
sizes are those of real frames (``rtlab.wire.websocket``: 2, 4 or 10 header bytes,
plus a 4-byte mask from a client).

``websocket-binary-json`` (100 simulated scenarios, seeds 1000-1099)
    1-3 connections one after the other, 1-4 uploads each, ``max_size`` 4 KiB,
    100 kB or 1 MiB, payloads of seeded random bytes from 0 bytes to
    ``max_size`` - 1 (every header size: < 126, < 65,536 and above), metadata
    with unicode, quotes, backslashes and control characters.
    * Sending: ``encode_upload(meta, payload)`` must give frames that the
      reference receiver turns back into exactly (meta, payload), and for a
      payload of 16 KiB or more the frames must come to at most 1.05 x the
      payload on the wire. Base64 inside JSON comes to 1.33 x, hex to 2 x.
    * Receiving: announcements written in several legal ways (compact or
      spaced, ASCII-escaped or raw UTF-8, keys in either order, an extra key)
      must be delivered exactly, once, when the payload arrives.
``websocket-message-limits`` (140 simulated scenarios, seeds 2000-2139)
    3-6 connections interleaved frame by frame, ``max_size`` 1, 4 or 64 KiB.
    Each connection sends 0-3 good uploads (some of exactly ``max_size``
    bytes, some announcements of exactly ``max_size`` UTF-8 bytes), and most
    then one bad frame, after which the client carries on as if nothing
    happened: an oversize announcement, text frame (some of at most
    ``max_size`` characters but more UTF-8 bytes) or payload (1009); a payload
    nobody announced or a second announcement while a payload is due (1003);
    text that is not JSON, not the right JSON, not valid UTF-8 (lone
    surrogates, raw or ``\\ud83d`` escapes), or a payload whose length is not
    the announced one (1007). Per connection: exactly the good uploads are
    delivered, in order; a bad frame gets one ``("close", code, reason)`` at
    that very frame, with the right code, nothing delivered with it, and a
    reason of at most 123 UTF-8 bytes; a connection without a bad frame is
    never closed. An exception in ``receive`` counts as what a live server
    does with it: close 1011 (internal error).

Live, on real sockets (one scenario per ID, run last, so only once all the
simulated ones passed; replay them with ``--seed 1100`` and ``--seed 2140``)
    ``websocket-binary-json``: a 256-512 KiB upload from your ``encode_upload``
    to your ``Receiver`` on a real ``websockets`` server on 127.0.0.1, through a
    proxy that counts the bytes: delivered exactly, at most 1.05 x on the wire.
    ``websocket-message-limits``: your ``Receiver`` (max_size 4 KiB, the
    library's own limit 16 KiB so that yours is the one tested) serves a good
    client (0 B, 100 B and exactly 4 KiB) and seven bad ones at once; each real
    client must see its close code, the good one its three deliveries.
    Skipped (not counted) when ``grade()`` runs inside an event loop, such as a
    notebook cell; ``rtlab.check`` grades in a subprocess, where they run.

Margins: over the 196 checked uploads the reference's frames come to at most
1.011 x the payload (the worst case: ASCII-escaped emoji metadata on a payload
just over 16 KiB) and 1.0003 x around 1 MiB; the bound is 1.05 x, base64
measures 1.33-1.34 x. Close codes and
deliveries are exact: the protocol leaves no room for judgement. Each ID's
scenarios stop at its first failure, which is the one reported. The
reference takes about 0.6 s for the 240 simulated scenarios and 0.1-0.2 s for
the two live ones (2 cores, unloaded).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from rtlab.grading.report import Finding, Report
from rtlab.grading.verdict import PASS, Check, Judged, Verdict, judge
from rtlab.learner import LearnerTimeout, describe_error, time_limit
from rtlab.topics.websocket_basics import sim
from rtlab.topics.websocket_basics.interface import Action, Frame, LearnerModule, learner_module
from rtlab.topics.websocket_basics.live import live_uploads, run_outside_a_loop
from rtlab.topics.websocket_basics.sim import (
    INVALID,
    OVERHEAD_FROM,
    TOO_BIG,
    UNSUPPORTED,
    Fed,
    Fresh,
    LimitsRun,
    Script,
    binary_json_plan,
    encode_reference,
    limits_plan,
    missing_names,
    random_bytes,
    reference,
    utf8_len,
)
from rtlab.wire.websocket import frames_size

__all__ = ["BJ", "BJ_SEEDS", "IDS", "LIVE_BJ_SEED", "LIVE_ML_SEED", "ML", "ML_SEEDS", "grade"]

BJ = "websocket-binary-json"
ML = "websocket-message-limits"
IDS = (BJ, ML)
CHECKS = {
    BJ: Check(
        BJ, "Payloads travel as binary frames, metadata as JSON",
        "encode_upload returns two frames: json.dumps({'size': len(payload), 'meta': meta}) "
        "(a str: a text frame) and the payload itself (bytes: a binary frame), with no base64 "
        "or hex. Receiver.receive keeps (meta, size) from the announcement and returns "
        "[('deliver', meta, payload)] when the binary frame of that size arrives."),
    ML: Check(
        ML, "Oversize and malformed messages are refused with the right code, and only there",
        "Check in the order of the table: the size first (a text frame's UTF-8 bytes, a "
        "binary frame's length, the announced size: more than max_size is 1009), then whether "
        "this frame type is expected now (1003), then the content (json.loads in a try; an "
        "object with an int size >= 0 and a dict meta; the payload length equals size; else "
        "1007). Never raise (a crash is a 1011), keep the reason under 123 bytes, and keep the "
        "state on self, not on the class."),
}

LIVE_BJ_SEED, LIVE_ML_SEED = 1100, 2140  # the last scenario of each ID: real sockets
BJ_SEEDS = [*range(1000, 1100), LIVE_BJ_SEED]
ML_SEEDS = [*range(2000, 2140), LIVE_ML_SEED]
MAX_OVERHEAD = 1.05
REASON_LIMIT = 123  # bytes of UTF-8 in a close frame's reason (RFC 6455, 5.5.1)
CODE_NAMES = {1000: "Normal Closure", 1001: "Going Away", 1003: "Unsupported Data",
              1007: "Invalid frame payload data", 1008: "Policy Violation",
              1009: "Message Too Big", 1011: "Internal Error"}
Uploads = list[tuple[dict[str, Any], bytes]]


class ProtocolError(Exception):
    """Learner code returned something the driver cannot use."""


# -- describing what travelled ----------------------------------------------------------


def valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def describe_frame(frame: object) -> str:
    if isinstance(frame, str):
        shown = frame if len(frame) <= 48 else frame[:45] + "..."
        return f"text {utf8_len(frame):,} B {shown!r}"
    if isinstance(frame, bytes | bytearray):
        return f"binary {len(frame):,} B {bytes(frame[:6]).hex()}{'...' if len(frame) > 6 else ''}"
    return f"{type(frame).__name__} {frame!r:.40}"


def describe_actions(actions: object) -> str:
    if not isinstance(actions, list):
        return repr(actions)[:80]
    parts = []
    for action in actions:
        if isinstance(action, tuple) and len(action) == 3 and action[0] == "deliver":
            payload = action[2]
            size = f"{len(payload):,} B" if isinstance(payload, bytes | bytearray) else "?"
            parts.append(f"('deliver', {str(action[1])[:30]}, <{size}>)")
        else:
            parts.append(repr(action)[:90])
    return "[" + ", ".join(parts) + "]"


def code_name(code: object) -> str:
    return f"{code} ({CODE_NAMES[code]})" if isinstance(code, int) and code in CODE_NAMES else (
        repr(code))


def how_it_travelled(frames: list[Frame], payload: bytes) -> str:
    """Name the encoding when a payload went inside a text frame."""
    texts = "".join(f for f in frames if isinstance(f, str))
    head = payload[:96]
    if head and base64.b64encode(head)[:64].decode() in texts:
        return "as base64 inside JSON text"
    if head and head.hex()[:64] in texts.lower():
        return "as hex inside JSON text"
    if head and head.decode("latin-1")[:32] in texts:
        return "as characters of a text frame"
    return "not in a binary frame of its own"


# -- judging answers ---------------------------------------------------------------------


def check_actions(actions: object) -> list[tuple[Any, ...]]:
    """The actions as a list of tuples, or a ProtocolError that says what is wrong."""
    if not isinstance(actions, list | tuple):
        raise ProtocolError(f"receive() returned {actions!r:.60}; expected a list of actions")
    for action in actions:
        ok = isinstance(action, tuple) and len(action) == 3 and action[0] in ("deliver", "close")
        if not ok:
            raise ProtocolError(
                f"receive() returned the action {action!r:.60}; expected ('deliver', meta, "
                "payload) or ('close', code, reason)")
    return list(actions)


@dataclass
class Step:
    """One frame fed to one connection's receiver, and what came back."""

    conn: int
    frame: Frame
    actions: str = ""


@dataclass
class Failed(Verdict):
    """A failure, with what its illustration needs."""

    timeline: list[str] = field(default_factory=list)
    wire: tuple[int, int, int] | None = None  # payload, your frames, JSON + binary: bytes


def _timeline(steps: list[Step], rows: int = 14) -> list[str]:
    shown = steps[-rows:]
    first = len(steps) - len(shown)
    return [f"#{first + i + 1:<3} conn {s.conn}  {describe_frame(s.frame):<62} -> {s.actions}"
            for i, s in enumerate(shown)]


# -- websocket-binary-json ---------------------------------------------------------------


@dataclass
class Measure:
    payload: int
    wire: int


def check_binary_json(module: LearnerModule, seed: int, measures: list[Measure]) -> Verdict:
    """Each connection of scenario ``seed``: the learner's frames, then the learner's receiver."""
    plan = binary_json_plan(seed)
    for number, (uploads, style) in enumerate(zip(plan.conns, plan.styles, strict=True), 1):
        verdict = _send_side(module, uploads, plan.limit, number, measures)
        if verdict.status != "passed":
            return verdict
        verdict = _receive_side(module, uploads, plan.limit, number, style)
        if verdict.status != "passed":
            return verdict
    return PASS


def _send_side(module: LearnerModule, uploads: Uploads, limit: int, number: int,
               measures: list[Measure]) -> Verdict:
    receiver = reference().Receiver(max_size=limit)
    for meta, payload in uploads:
        call = f"encode_upload({_short(meta)}, <{len(payload):,} random bytes>)"
        try:
            returned: object = module.encode_upload(meta, payload)
        except (Exception, LearnerTimeout) as error:
            return Verdict("failed", f"{call} raised {describe_error(error)}",
                           "a list of frames: the JSON announcement (str), then the payload "
                           "(bytes)")
        if not isinstance(returned, list | tuple) or not all(
                isinstance(f, str | bytes) for f in returned):
            return Failed("failed", f"{call} returned {returned!r:.80}",
                           "a list of frames, each a str (text frame) or bytes (binary frame)")
        frames: list[Frame] = list(returned)
        if not all(valid_utf8(f) for f in frames if isinstance(f, str)):
            return Failed("failed", f"{call} returned a text frame that is not valid UTF-8 "
                           "(lone surrogates)", "text frames of valid UTF-8")
        wire = frames_size(frames, "client")
        if len(payload) >= OVERHEAD_FROM:
            measures.append(Measure(len(payload), wire))
            ratio = wire / len(payload)
            if ratio > MAX_OVERHEAD:
                kinds = ", ".join(describe_frame(f).split(" B ")[0] + " B" for f in frames)
                return Failed(
                    "failed",
                    f"{call} returned {len(frames)} frame(s) ({kinds}): {wire:,} bytes on the "
                    f"wire for {len(payload):,} payload bytes, {ratio:.3f} x. The payload "
                    f"travelled {how_it_travelled(frames, payload)}.",
                    f"the payload in a binary frame as it is: at most {MAX_OVERHEAD:.2f} x the "
                    f"payload on the wire for payloads of {OVERHEAD_FROM // 1024} KiB or more",
                    wire=(len(payload), wire,
                          frames_size(encode_reference(meta, payload), "client")))
        steps: list[Step] = []
        delivered = []
        for frame in frames:
            actions = receiver.receive(frame)
            steps.append(Step(number, frame, describe_actions(actions)))
            delivered += [a for a in actions if a[0] == "deliver"]
            closes = [a for a in actions if a[0] == "close"]
            if closes:
                return Failed(
                    "failed",
                    f"{call} returned frames that the protocol refuses: the reference receiver "
                    f"closed with {code_name(closes[0][1])}: {closes[0][2]}",
                    "a text frame {\"size\": len(payload), \"meta\": meta}, then the payload "
                    "as one binary frame",
                    _timeline(steps))
        if delivered != [("deliver", meta, payload)]:
            got = ("nothing" if not delivered else
                   f"{len(delivered)} upload(s): {describe_actions(delivered)}")
            return Failed(
                "failed", f"{call}: the reference receiver delivered {got}",
                "exactly this upload, once: the announcement, then the payload as one binary "
                "frame", _timeline(steps))
    return PASS


def _receive_side(module: LearnerModule, uploads: Uploads, limit: int, number: int,
                  style: int) -> Verdict:
    steps: list[Step] = []
    try:
        receiver = module.Receiver(max_size=limit)
    except (Exception, LearnerTimeout) as error:
        return Failed("failed", f"Receiver(max_size={limit}) raised {describe_error(error)}",
                       "a receiver for one connection")
    for meta, payload in uploads:
        frames = encode_reference(meta, payload, style)
        for i, frame in enumerate(frames):
            step = Step(number, frame)
            steps.append(step)
            try:
                actions = check_actions(receiver.receive(frame))
            except ProtocolError as error:
                step.actions = "?"
                return Failed("failed", str(error), "a list of actions", _timeline(steps))
            except (Exception, LearnerTimeout) as error:
                step.actions = "raised"
                return Failed("failed", f"receive() of a good upload's frame raised "
                               f"{describe_error(error)}", "no exception",
                               _timeline(steps))
            step.actions = describe_actions(actions)
            want = [("deliver", meta, payload)] if i == len(frames) - 1 else []
            if actions != want and _normalised(actions) != want:
                what = ("the announcement" if i == 0 else
                        f"the {len(payload):,}-byte payload")
                return Failed(
                    "failed",
                    f"On a connection with max_size {limit:,} carrying good uploads, your "
                    f"receiver answered {what} with {describe_actions(actions)}.",
                    f"{describe_actions(want)}: the upload delivered once, with its meta and "
                    "exactly its payload, when the payload arrives", _timeline(steps))
    return PASS


def _normalised(actions: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Accept a payload delivered as bytearray or memoryview: equal bytes are equal."""
    out = []
    for a in actions:
        if a[0] == "deliver" and isinstance(a[2], bytearray | memoryview):
            a = (a[0], a[1], bytes(a[2]))
        out.append(a)
    return out


def _short(meta: dict[str, Any]) -> str:
    text = json.dumps(meta, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "...}"


# -- websocket-message-limits ------------------------------------------------------------


def check_limits(module: LearnerModule, seed: int, tally: dict[str, int]) -> Verdict:
    """Play limits scenario ``seed`` and judge every answer as it comes; stop at the first wrong."""
    run = limits_plan(seed)
    try:
        receivers = run.connect(module)
    except (Exception, LearnerTimeout) as error:
        return Verdict("failed", f"Receiver(max_size={run.limit}) raised {describe_error(error)}",
                       "a receiver for one connection")
    steps: list[Step] = []
    delivered: list[list[Action]] = [[] for _ in run.scripts]
    for fed in run.feed(receivers):
        steps.append(Step(fed.conn + 1, fed.frame))
        verdict = _judge_answer(run, fed, steps, delivered[fed.conn])
        if verdict is not PASS:
            return verdict
    for conn, script in enumerate(run.scripts):
        if script.bad_at is not None and not run.closed[conn]:  # cannot happen: judged there
            return Verdict("failed", f"connection {conn + 1} was never closed", "a close")
    for script in run.scripts:
        if script.bad_at is not None:
            tally[script.bad_kind] = tally.get(script.bad_kind, 0) + 1
    tally["good uploads"] = tally.get("good uploads", 0) + sum(len(s.uploads) for s in run.scripts)
    return PASS


def _judge_answer(run: LimitsRun, fed: Fed, steps: list[Step],
                  delivered: list[Action]) -> Verdict:
    """The receiver's answer to one frame (the last of ``steps``): PASS, or what is wrong."""
    script, step = run.scripts[fed.conn], steps[-1]
    bad_here = script.bad_at == fed.index
    where = (f"connection {fed.conn + 1} (max_size {run.limit:,}) sent frame {fed.index + 1} "
             f"of its own, {describe_frame(fed.frame)}")
    if fed.error is not None:
        step.actions = "raised -> close 1011"
        expected = (f"('close', {code_name(script.code)}, reason)" if bad_here
                    else "no exception: this frame is good")
        blame = (", blaming itself for the client's mistake" if bad_here else "")
        return Failed(
            "failed",
            f"{where}, and receive() raised {describe_error(fed.error).rstrip('.')}. A live "
            f"server closes this connection with 1011 (Internal Error){blame}.",
            expected, _timeline(steps))
    try:
        actions = check_actions(fed.returned)
    except ProtocolError as error:
        step.actions = "?"
        return Failed("failed", f"{where}: {error}", "a list of actions", _timeline(steps))
    step.actions = describe_actions(actions)
    actions = _normalised(actions)
    if bad_here:
        return _judge_refusal(run, fed, actions, where, steps)
    return _judge_good_frame(run, fed, actions, where, steps, delivered)


def _judge_refusal(run: LimitsRun, fed: Fed, actions: list[Action], where: str,
                   steps: list[Step]) -> Verdict:
    """A bad frame: refused at once, with its code, a short reason, and nothing delivered."""
    script = run.scripts[fed.conn]
    closes = [a for a in actions if a[0] == "close"]
    delivers = [a for a in actions if a[0] == "deliver"]
    want = f"[('close', {script.code}, reason)]: {code_name(script.code)}"
    if not closes:
        return Failed(
            "failed",
            f"{where}: {script.bad_kind}. Your receiver returned "
            f"{describe_actions(actions)} and carried on.",
            f"{want}, at this frame", _timeline(steps))
    code, reason = closes[0][1], closes[0][2]
    if code != script.code:
        shared = ""
        others_busy = any(run.position[c] % 2 == 1 for c in range(len(run.scripts))
                          if c != fed.conn and not run.closed[c])
        if code == UNSUPPORTED and others_busy and fed.index % 2 == 0:
            shared = (" This connection was between uploads, but another one was "
                      "waiting for its payload: is state shared between receivers?")
        return Failed(
            "failed",
            f"{where}: {script.bad_kind}. Your receiver closed with "
            f"{code_name(code)}.{shared}", want, _timeline(steps))
    if delivers:
        return Failed(
            "failed",
            f"{where}: {script.bad_kind}. Your receiver closed, but also delivered "
            f"{describe_actions(delivers)} from it.",
            f"{want} and nothing delivered from a bad message", _timeline(steps))
    problem = _reason_problem(reason)
    if problem:
        return Failed("failed", f"{where}: your close reason {problem}",
                      f"a reason of at most {REASON_LIMIT} bytes of UTF-8 text",
                      _timeline(steps))
    return PASS  # refused as it should be: the connection is closed


def _judge_good_frame(run: LimitsRun, fed: Fed, actions: list[Action], where: str,
                      steps: list[Step], delivered: list[Action]) -> Verdict:
    """A good frame: no close, and every upload complete so far delivered, once, in order."""
    script = run.scripts[fed.conn]
    closes = [a for a in actions if a[0] == "close"]
    if closes:
        return Failed(
            "failed",
            f"{where}, a good frame, and your receiver closed the connection with "
            f"{code_name(closes[0][1])}: {closes[0][2]!r:.80}.",
            "no close: every frame this connection had sent so far was good"
            + _shared_state(run, "bad ones"),
            _timeline(steps))
    delivered += [a for a in actions if a[0] == "deliver"]
    want = [("deliver", m, p) for m, p in
            script.uploads[:_uploads_completed(script, fed.index + 1)]]
    if delivered != want:
        return Failed(
            "failed",
            f"{where}; after it, your receiver had delivered {len(delivered)} upload(s) on "
            f"this connection: {describe_actions(delivered[-2:])}"
            + _shared_state(run, "bad frames"),
            f"{len(want)} upload(s), the last ones {describe_actions(want[-2:])}",
            _timeline(steps))
    return PASS


def _shared_state(run: LimitsRun, what: str) -> str:
    """Once a connection was refused, a wrong answer elsewhere may be state they share."""
    if not any(run.closed):
        return ""
    return f" (other connections sent {what}: is state shared between receivers?)"


def _uploads_completed(script: Script, frames_read: int) -> int:
    """How many good uploads of ``script`` are complete once ``frames_read`` frames arrived."""
    good_frames = frames_read if script.bad_at is None else min(frames_read, script.bad_at)
    return min(good_frames // 2, len(script.uploads))


def _reason_problem(reason: object) -> str:
    if not isinstance(reason, str):
        return f"is {reason!r:.40}, not a str"
    try:
        size = len(reason.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8 (lone surrogates): the close frame cannot be sent"
    if size > REASON_LIMIT:
        return (f"is {size} bytes of UTF-8: a close frame carries at most {REASON_LIMIT}, and "
                "websockets raises instead of sending it")
    return ""


# -- on real sockets ----------------------------------------------------------------------


def live_binary_json(module: LearnerModule, seed: int) -> Verdict | None:
    """Your frames and your receiver on a real server, bytes counted by a proxy on loopback."""
    rng = random.Random(seed)
    limit = 1024 * 1024
    payload = random_bytes(rng, rng.randint(256 * 1024, 512 * 1024))
    meta = {"name": "live 🎉.bin", "caption": "Grüße \"quoted\"", "n": seed}
    call = f"encode_upload({_short(meta)}, <{len(payload):,} random bytes>)"
    try:
        frames = list(module.encode_upload(meta, payload))
    except (Exception, LearnerTimeout) as error:
        return Verdict("failed", f"{call} raised {describe_error(error)}", "a list of frames")

    async def run() -> Verdict:
        seen, errors = await live_uploads(
            {"uploader": frames}, lambda: module.Receiver(max_size=limit),
            max_size=4 * limit, expect={"uploader": 1})
        client = seen["uploader"]
        where = (f"Live, on a real connection on 127.0.0.1: {call}, sent as {len(frames)} frame(s)"
                 f" through a counting proxy: {client.wire:,} bytes on the wire")
        if errors:
            return Verdict("failed", f"{where}; your receiver raised: {errors[0]}",
                           "the upload delivered")
        if client.close is not None:
            return Verdict("failed", f"{where}; the server closed the connection with "
                           f"{code_name(client.close[0])}: {client.close[1]!r:.80}",
                           "the upload delivered, the connection left open")
        if client.delivered != [(meta, len(payload))]:
            return Verdict("failed", f"{where}; your receiver delivered {client.delivered!r:.120}",
                           "exactly this upload, once")
        if client.wire > MAX_OVERHEAD * len(payload):
            return Verdict("failed", f"{where}, {client.wire / len(payload):.3f} x the payload.",
                           f"at most {MAX_OVERHEAD:.2f} x the payload on the wire")
        return PASS

    return run_outside_a_loop(run)


LIVE_CLIENTS: dict[str, tuple[list[Frame], int | None]] = {
    "oversize-announcement": ([json.dumps({"size": 4097, "meta": {}}), bytes(4097)], TOO_BIG),
    "oversize-payload": ([json.dumps({"size": 10, "meta": {}}), bytes(5000)], TOO_BIG),
    "not-json": (['{"size": 3, "meta": {', b"abc"], INVALID),
    "escaped-surrogate": (['{"size": 1, "meta": {"name": "\\ud83d"}}', b"a"], INVALID),
    "wrong-length": ([json.dumps({"size": 10, "meta": {}}), bytes(11)], INVALID),
    "unannounced": ([b"\x89PNG"], UNSUPPORTED),
    "announced-twice": ([json.dumps({"size": 1, "meta": {}})] * 2 + [b"a"], UNSUPPORTED),
}


def live_limits(module: LearnerModule, seed: int) -> Verdict | None:
    """Your receiver on a real server, a good client and seven bad ones at the same time."""
    limit = 4096
    uploads = [({"name": "empty"}, b""), ({"name": "small"}, bytes(100)),
               ({"name": "at the limit"}, random_bytes(random.Random(seed), limit))]
    good: list[Frame] = [f for meta, payload in uploads
                         for f in encode_reference(meta, payload, seed % 4)]
    clients = {"good": (good, None), **LIVE_CLIENTS}

    async def run() -> Verdict:
        seen, errors = await live_uploads(
            {label: frames for label, (frames, _) in clients.items()},
            lambda: module.Receiver(max_size=limit), max_size=4 * limit,
            expect={"good": len(uploads)})
        lines = [f"{label:<22} -> " + (f"closed with {c.close[0]} {c.close[1]!r:.50}"
                                       if c.close else "open") + f", {len(c.delivered)} delivered"
                 for label, c in seen.items()]
        where = ("Live, on a real server on 127.0.0.1 (your Receiver, max_size 4,096), eight "
                 "clients at once")
        if errors:
            return Failed("failed", f"{where}: your receiver raised ({errors[0]}), and the server "
                          "closed that connection with 1011.", "no exception", lines)
        for label, (_, code) in clients.items():
            client = seen[label]
            got = client.close[0] if client.close else None
            if got != code:
                return Failed(
                    "failed",
                    f"{where}: the {label} client's connection "
                    + (f"was closed with {code_name(got)}" if got else "was never closed")
                    + (f" and {len(client.delivered)} upload(s) delivered" if client.delivered
                       else "") + ".",
                    f"close {code_name(code)}" if code else "no close", lines)
            if label != "good" and client.delivered:
                return Failed("failed", f"{where}: the {label} client got "
                              f"{client.delivered!r:.80} delivered.", "nothing delivered", lines)
        want = [(meta, len(payload)) for meta, payload in uploads]
        if seen["good"].delivered != want:
            return Failed("failed", f"{where}: the good client's uploads came out as "
                          f"{seen['good'].delivered!r:.120}.", f"{want!r}", lines)
        return PASS

    return run_outside_a_loop(run)


# -- the grader --------------------------------------------------------------------------


def _guarded(run: Callable[[LearnerModule, int], Verdict | None], module: Fresh,
             seed: int) -> Verdict | None:
    """Run one scenario under the time limit."""
    seconds = sim.LIVE_SECONDS if seed in (LIVE_BJ_SEED, LIVE_ML_SEED) else sim.SCENARIO_SECONDS
    try:
        with time_limit(seconds, f"scenario seed {seed}"):
            return run(learner_module(module.load(seed)), seed)
    except LearnerTimeout as error:
        return Verdict("failed", str(error), "the code returns promptly")
    except Exception as error:  # loading it again failed (it loaded once, so: unlikely)
        return Verdict("failed", f"loading your file raised {describe_error(error)}",
                       "the file loads")


def _judged(run: Callable[[LearnerModule, int], Verdict | None], fresh: Fresh,
            seeds: list[int]) -> list[Judged[None]]:
    """Verdicts of ``seeds`` in order, up to the first failure (the one reported)."""
    judged: list[Judged[None]] = []
    for seed in seeds:
        verdict = _guarded(run, fresh, seed)
        if verdict is None:
            continue  # a live scenario, skipped inside a running event loop
        judged.append(Judged(seed, verdict, None))
        if verdict.status == "failed":
            break
    return judged


def _illustrate(run: None, verdict: Verdict) -> tuple[list[str], str | None]:
    if not isinstance(verdict, Failed):
        return [], None
    return verdict.timeline, _wire_figure(*verdict.wire) if verdict.wire is not None else None


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    missing = missing_names(module)
    if missing is not None:
        return Report("frames", "", error=missing)
    try:
        fresh = Fresh(module)
    except (OSError, SyntaxError) as error:
        return Report("frames", "", error=f"Your file could not be read again: {error}")
    measures: list[Measure] = []
    tally: dict[str, int] = {}

    def bj(learner: LearnerModule, seed: int) -> Verdict | None:
        if seed == LIVE_BJ_SEED:
            return live_binary_json(learner, seed)
        return check_binary_json(learner, seed, measures)

    def ml(learner: LearnerModule, seed: int) -> Verdict | None:
        if seed == LIVE_ML_SEED:
            return live_limits(learner, seed)
        return check_limits(learner, seed, tally)

    plan: list[tuple[str, list[int], Callable[[LearnerModule, int], Verdict | None]]] = [
        (BJ, BJ_SEEDS, bj), (ML, ML_SEEDS, ml)]
    findings = []
    for id, all_seeds, run in plan:
        chosen = [s for s in all_seeds if seeds is None or s in seeds]
        findings.append(judge(CHECKS[id], _judged(run, fresh, chosen), _illustrate,
                              none_run="no scenario for this seed"))
    _add_measurements(findings, measures, tally)
    return Report("frames", "", findings, scenarios=sum(f.scenarios for f in findings))


def _wire_figure(payload: int, yours: int, binary: int) -> str:
    """Bytes on the wire of the failing upload: the payload, your frames, JSON + binary."""
    import matplotlib.pyplot as plt

    from rtlab.plots import figure_to_png_base64

    fig, ax = plt.subplots(figsize=(6.5, 1.9))
    rows = [("payload", payload, "#8c959f"), ("your frames", yours, "#cf222e"),
            ("JSON + binary frame", binary, "#1a7f37")]
    for y, (_, size, colour) in enumerate(reversed(rows)):
        ax.barh(y, size, color=colour)
        ax.annotate(f" {size:,} B ({size / payload:.3f} x)", (size, y), va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=8)
    ax.axvline(payload * MAX_OVERHEAD, color="#57606a", linestyle=":", linewidth=1)
    ax.set_xlim(0, max(yours, binary) * 1.35)
    ax.set_xlabel(f"bytes on the wire (dotted: the {MAX_OVERHEAD:.2f} x limit)", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return figure_to_png_base64(fig)


def _add_measurements(findings: list[Finding], measures: list[Measure],
                      tally: dict[str, int]) -> None:
    """Passed findings say what was measured."""
    bj, ml = findings
    if bj.passed and measures:
        ratios = [m.wire / m.payload for m in measures]
        big = max(measures, key=lambda m: m.payload)
        bj.observed = (
            f"{len(measures)} uploads of 16 KiB or more came to at most {max(ratios):.4f} x "
            f"their payload on the wire (the largest: {big.payload:,} payload bytes in "
            f"{big.wire:,} bytes of frames); base64 inside JSON would be about 1.33 x.")
    if ml.passed and tally:
        refused = sum(n for kind, n in tally.items() if kind != "good uploads")
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(tally.items())
                          if kind != "good uploads")
        ml.observed = (f"{refused} bad frames refused with the right code ({kinds}); "
                       f"{tally.get('good uploads', 0)} good uploads delivered exactly, on "
                       "their own connections and beside the bad ones.")
