"""Grader of the frames exercise (``exercises/frames.py``): uploads as JSON + binary.

The protocol is sans-I/O, so the grader drives it directly: it calls the
learner's ``encode_upload`` and feeds frames to the learner's ``Receiver``,
one ``Receiver`` per simulated connection, exactly as the live server in
``rtlab.topics.websocket_basics.live`` does with real WebSocket frames. Wire sizes are those
of real frames (``rtlab.wire.websocket``: 2, 4 or 10 header bytes, plus a 4-byte mask
from a client).

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

import asyncio
import base64
import json
import random
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from rtlab import course
from rtlab.grading.report import Finding, Report, Status
from rtlab.learner import LearnerTimeout, describe_error, load_module, time_limit
from rtlab.syllabus import reference_link
from rtlab.topics.websocket_basics.live import live_uploads
from rtlab.wire.websocket import frames_size

BJ = "websocket-binary-json"
ML = "websocket-message-limits"
IDS = (BJ, ML)
TITLES = {
    BJ: "Payloads travel as binary frames, metadata as JSON",
    ML: "Oversize and malformed messages are refused with the right code, and only there",
}
HINTS = {
    BJ: "encode_upload returns two frames: json.dumps({'size': len(payload), 'meta': meta}) "
    "(a str: a text frame) and the payload itself (bytes: a binary frame), with no base64 "
    "or hex. Receiver.receive keeps (meta, size) from the announcement and returns "
    "[('deliver', meta, payload)] when the binary frame of that size arrives.",
    ML: "Check in the order of the table: the size first (a text frame's UTF-8 bytes, a "
    "binary frame's length, the announced size: more than max_size is 1009), then whether "
    "this frame type is expected now (1003), then the content (json.loads in a try; an object "
    "with an int size >= 0 and a dict meta; the payload length equals size; else 1007). "
    "Never raise (a crash is a 1011), keep the reason under 123 bytes, and keep the state on "
    "self, not on the class.",
}

LIVE_BJ_SEED, LIVE_ML_SEED = 1100, 2140  # the last scenario of each ID: real sockets
BJ_SEEDS = [*range(1000, 1100), LIVE_BJ_SEED]
ML_SEEDS = [*range(2000, 2140), LIVE_ML_SEED]
LIVE_SECONDS = 10.0
SCENARIO_SECONDS = 5.0
OVERHEAD_FROM = 16 * 1024  # payloads this large or larger must travel with little overhead
MAX_OVERHEAD = 1.05
REASON_LIMIT = 123  # bytes of UTF-8 in a close frame's reason (RFC 6455, 5.5.1)
TOO_BIG, UNSUPPORTED, INVALID, INTERNAL = 1009, 1003, 1007, 1011
CODE_NAMES = {1000: "Normal Closure", 1001: "Going Away", 1003: "Unsupported Data",
              1007: "Invalid frame payload data", 1008: "Policy Violation",
              1009: "Message Too Big", 1011: "Internal Error"}

Frame = str | bytes


class ProtocolError(Exception):
    """Learner code returned something the driver cannot use."""


# -- what travels: metadata, payloads, frames ------------------------------------------

WORDS = ["photo", "voice memo", "Grüße", "naïve café", "日本語のファイル", "emoji 🎉🐍",
         'quote " and \\ backslash', "line\nbreak\ttab", "\u2028separator", "Ωμέγα", "",
         "x" * 40, "<script>", "😀" * 5]


def random_meta(rng: random.Random) -> dict[str, Any]:
    """Metadata as an app would send it, with the unicode and escapes JSON must survive."""
    meta: dict[str, Any] = {"name": rng.choice(WORDS) + rng.choice([".png", ".ogg", ".bin", ""])}
    for key in rng.sample(["type", "caption", "tags", "width", "duration", "id", "é", "🔑"],
                          rng.randint(0, 4)):
        meta[key] = rng.choice([
            rng.choice(WORDS), rng.randint(-10**6, 10**6), rng.random() * 100, True, None,
            [rng.choice(WORDS) for _ in range(rng.randint(0, 3))], {"nested": rng.choice(WORDS)},
        ])
    return meta


@cache
def _pool() -> bytes:
    return random.Random(0).randbytes(2 * 1024 * 1024 + 4096)


def random_bytes(rng: random.Random, size: int) -> bytes:
    """``size`` seeded random bytes: a slice of one random pool, much cheaper than randbytes."""
    pool = _pool()
    if size > len(pool):
        return rng.randbytes(size)
    start = rng.randrange(len(pool) - size + 1)
    return pool[start:start + size]


def random_size(rng: random.Random, limit: int) -> int:
    """A payload size up to ``limit``, spread over the three frame header sizes."""
    lo, hi = rng.choice([(0, 0), (1, 125), (126, 65535), (65536, limit), (limit // 2, limit)])
    hi = min(hi, limit)
    return rng.randint(min(lo, hi), hi)


def encode_reference(meta: dict[str, Any], payload: bytes, style: int = 0) -> list[Frame]:
    """Legal announcements written in different ways (a receiver must accept all)."""
    size = len(payload)
    if style == 1:
        text = json.dumps({"size": size, "meta": meta}, separators=(",", ":"), ensure_ascii=False)
    elif style == 2:
        text = json.dumps({"meta": meta, "size": size}, indent=1)
    elif style == 3:
        text = json.dumps({"v": 1, "size": size, "meta": meta, "note": "extra keys are ignored"})
    else:
        text = json.dumps({"size": size, "meta": meta})
    return [text, payload]


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


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


# -- driving the learner's code ----------------------------------------------------------


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
class Verdict:
    status: Status
    observed: str = ""
    expected: str = ""
    timeline: list[str] = field(default_factory=list)
    wire: tuple[int, int, int] | None = None  # payload, your frames, JSON + binary: bytes


PASS = Verdict("passed")


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


def binary_json_scenario(module: ModuleType, seed: int, measures: list[Measure]) -> Verdict:
    rng = random.Random(seed)
    limit = rng.choice([4096, 100_000, 1024 * 1024])
    conns = [[(random_meta(rng), random_bytes(rng, random_size(rng, limit - 1)))
              for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 3))]
    if limit > OVERHEAD_FROM and all(len(p) < OVERHEAD_FROM for c in conns for _, p in c):
        meta = random_meta(rng)
        conns[0].append((meta, random_bytes(rng, rng.randint(OVERHEAD_FROM, limit - 1))))
    reference = _reference()
    for number, uploads in enumerate(conns, 1):
        verdict = _send_side(module, reference, uploads, limit, number, measures)
        if verdict.status != "passed":
            return verdict
        verdict = _receive_side(module, uploads, limit, number, rng.randrange(4))
        if verdict.status != "passed":
            return verdict
    return PASS


def _send_side(module: ModuleType, reference: ModuleType, uploads: list[tuple[dict[str, Any],
               bytes]], limit: int, number: int, measures: list[Measure]) -> Verdict:
    receiver = reference.Receiver(max_size=limit)
    for meta, payload in uploads:
        call = f"encode_upload({_short(meta)}, <{len(payload):,} random bytes>)"
        try:
            frames = module.encode_upload(meta, payload)
        except (Exception, LearnerTimeout) as error:
            return Verdict("failed", f"{call} raised {describe_error(error)}",
                           "a list of frames: the JSON announcement (str), then the payload "
                           "(bytes)")
        if not isinstance(frames, list | tuple) or not all(
                isinstance(f, str | bytes) for f in frames):
            return Verdict("failed", f"{call} returned {frames!r:.80}",
                           "a list of frames, each a str (text frame) or bytes (binary frame)")
        frames = list(frames)
        if not all(valid_utf8(f) for f in frames if isinstance(f, str)):
            return Verdict("failed", f"{call} returned a text frame that is not valid UTF-8 "
                           "(lone surrogates)", "text frames of valid UTF-8")
        wire = frames_size(frames, "client")
        if len(payload) >= OVERHEAD_FROM:
            measures.append(Measure(len(payload), wire))
            ratio = wire / len(payload)
            if ratio > MAX_OVERHEAD:
                kinds = ", ".join(describe_frame(f).split(" B ")[0] + " B" for f in frames)
                return Verdict(
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
                return Verdict(
                    "failed",
                    f"{call} returned frames that the protocol refuses: the reference receiver "
                    f"closed with {code_name(closes[0][1])}: {closes[0][2]}",
                    "a text frame {\"size\": len(payload), \"meta\": meta}, then the payload "
                    "as one binary frame",
                    _timeline(steps))
        if delivered != [("deliver", meta, payload)]:
            got = ("nothing" if not delivered else
                   f"{len(delivered)} upload(s): {describe_actions(delivered)}")
            return Verdict(
                "failed", f"{call}: the reference receiver delivered {got}",
                "exactly this upload, once: the announcement, then the payload as one binary "
                "frame", _timeline(steps))
    return PASS


def _receive_side(module: ModuleType, uploads: list[tuple[dict[str, Any], bytes]], limit: int,
                  number: int, style: int) -> Verdict:
    steps: list[Step] = []
    try:
        receiver = module.Receiver(max_size=limit)
    except (Exception, LearnerTimeout) as error:
        return Verdict("failed", f"Receiver(max_size={limit}) raised {describe_error(error)}",
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
                return Verdict("failed", str(error), "a list of actions", _timeline(steps))
            except (Exception, LearnerTimeout) as error:
                step.actions = "raised"
                return Verdict("failed", f"receive() of a good upload's frame raised "
                               f"{describe_error(error)}", "no exception",
                               _timeline(steps))
            step.actions = describe_actions(actions)
            want = [("deliver", meta, payload)] if i == len(frames) - 1 else []
            if actions != want and _normalised(actions) != want:
                what = ("the announcement" if i == 0 else
                        f"the {len(payload):,}-byte payload")
                return Verdict(
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

BAD_KINDS = ["oversize announcement", "oversize text", "oversize payload", "not JSON",
             "wrong JSON", "bad UTF-8", "wrong length", "unannounced payload",
             "announced twice"]
NOT_JSON = ["hello", "{size: 3, meta: {}}", '{"size": 3, "meta": {}', "", "nul", "{'size': 1}",
            '{"size": 1, "meta": {}}}', "\x00\x01"]
WRONG_JSON = ["[1, 2]", "null", "42", '"upload"', '{"meta": {}}', '{"size": 3}',
              '{"size": "12", "meta": {}}', '{"size": -1, "meta": {}}',
              '{"size": 2.5, "meta": {}}', '{"size": 3, "meta": [1]}',
              '{"size": 3, "meta": "cat.png"}', '{"size": null, "meta": {}}']
BAD_UTF8 = ['{"size": 3, "meta": {"name": "\\ud83d"}}', '{"size": 3, "meta": {"name": "\ud83d"}}',
            '{"size": 0, "meta": {"\\udc80": 1}}', '{"size": 1, "meta": {"name": "ok\udcff"}}']


@dataclass
class Script:
    """What one connection sends, and what the grader expects back."""

    frames: list[Frame] = field(default_factory=list)
    uploads: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)  # good, in order
    bad_at: int | None = None  # index into frames of the bad frame
    bad_kind: str = ""
    code: int | None = None


def padded_announcement(meta: dict[str, Any], size: int, total: int, wide: bool) -> str:
    """A valid announcement of exactly ``total`` UTF-8 bytes (``wide``: 2-byte characters)."""
    base = json.dumps({"size": size, "meta": {**meta, "pad": ""}}, ensure_ascii=False)
    room = total - utf8_len(base)
    if room < 0:
        return base
    pad = "é" * (room // 2) + "x" * (room % 2) if wide else "x" * room
    return json.dumps({"size": size, "meta": {**meta, "pad": pad}}, ensure_ascii=False)


def good_upload(rng: random.Random, script: Script, limit: int) -> None:
    meta = {"name": rng.choice(WORDS), "n": len(script.uploads)}
    roll = rng.random()
    size = limit if roll < 0.15 else random_size(rng, limit)
    payload = random_bytes(rng, size)
    text: Frame
    if roll > 0.9:
        text = padded_announcement(meta, size, limit, wide=rng.random() < 0.5)
        meta = json.loads(text)["meta"]
    else:
        text = encode_reference(meta, payload, rng.randrange(4))[0]
    script.frames += [text, payload]
    script.uploads.append((meta, payload))


def bad_frames(rng: random.Random, kind: str, script: Script, limit: int) -> tuple[list[Frame],
                                                                                  int, int]:
    """The frames a misbehaving client sends: (frames, index of the bad one, expected code)."""
    meta = {"name": rng.choice(WORDS)}
    if kind == "oversize announcement":
        size = rng.randint(limit + 1, 2 * limit)
        return [json.dumps({"size": size, "meta": meta}), random_bytes(rng, size)], 0, TOO_BIG
    if kind == "oversize text":
        total = rng.randint(limit + 1, limit + 40)
        return [padded_announcement(meta, 1, total, wide=rng.random() < 0.5), b"x"], 0, TOO_BIG
    if kind == "oversize payload":
        size = rng.randint(0, limit)
        return ([json.dumps({"size": size, "meta": meta}),
                 random_bytes(rng, rng.randint(limit + 1, 2 * limit))], 1, TOO_BIG)
    if kind == "not JSON":
        return [rng.choice(NOT_JSON), b"abc"], 0, INVALID
    if kind == "wrong JSON":
        return [rng.choice(WRONG_JSON), b"abc"], 0, INVALID
    if kind == "bad UTF-8":
        return [rng.choice(BAD_UTF8), b"abc"], 0, INVALID
    if kind == "wrong length":
        size = rng.randint(1, limit - 1)
        actual = size + rng.choice([-1, 1, -size, limit - size])
        return [json.dumps({"size": size, "meta": meta}), random_bytes(rng, actual)], 1, INVALID
    if kind == "unannounced payload":
        size = rng.randint(0, limit)
        again = script.uploads[-1][1] if script.uploads else random_bytes(rng, size)
        return [again], 0, UNSUPPORTED
    assert kind == "announced twice"
    first = json.dumps({"size": 3, "meta": meta})
    return [first, json.dumps({"size": 3, "meta": meta}), b"abc", b"abc"], 1, UNSUPPORTED


def limits_scripts(seed: int) -> tuple[int, list[Script], list[int]]:
    """max_size, what each connection sends, and the order frames arrive in (connection ids)."""
    rng = random.Random(seed)
    limit = rng.choice([1024, 4096, 65536])
    count = rng.randint(3, 6)
    bad = set(rng.sample(range(count), rng.randint(1, count - 1)))
    scripts = []
    for i in range(count):
        script = Script()
        for _ in range(rng.randint(0, 3)):
            good_upload(rng, script, limit)
        if i in bad:
            kind = BAD_KINDS[(seed + i) % len(BAD_KINDS)]
            frames, at, code = bad_frames(rng, kind, script, limit)
            script.bad_at, script.bad_kind, script.code = len(script.frames) + at, kind, code
            script.frames += frames
            for _ in range(rng.randint(0, 2)):  # the client does not know it was refused
                extra = Script()
                good_upload(rng, extra, limit)
                script.frames += extra.frames
        scripts.append(script)
    order = [i for i, s in enumerate(scripts) for _ in s.frames]
    rng.shuffle(order)  # frames of one connection keep their order; connections interleave
    return limit, scripts, order


def limits_scenario(module: ModuleType, seed: int, tally: dict[str, int]) -> Verdict:
    limit, scripts, order = limits_scripts(seed)
    steps: list[Step] = []
    try:
        receivers = [module.Receiver(max_size=limit) for _ in scripts]
    except (Exception, LearnerTimeout) as error:
        return Verdict("failed", f"Receiver(max_size={limit}) raised {describe_error(error)}",
                       "a receiver for one connection")
    position = [0] * len(scripts)
    delivered: list[list[tuple[Any, ...]]] = [[] for _ in scripts]
    closed: list[bool] = [False] * len(scripts)
    for conn in order:
        if closed[conn]:
            continue  # the server closed it: nothing more is read from this connection
        script, index = scripts[conn], position[conn]
        frame = script.frames[index]
        position[conn] += 1
        step = Step(conn + 1, frame)
        steps.append(step)
        bad_here = script.bad_at == index
        where = (f"connection {conn + 1} (max_size {limit:,}) sent frame {index + 1} of its own, "
                 f"{describe_frame(frame)}")
        try:
            actions = check_actions(receivers[conn].receive(frame))
        except ProtocolError as error:
            step.actions = "?"
            return Verdict("failed", f"{where}: {error}", "a list of actions", _timeline(steps))
        except (Exception, LearnerTimeout) as error:
            step.actions = "raised -> close 1011"
            expected = (f"('close', {code_name(script.code)}, reason)" if bad_here
                        else "no exception: this frame is good")
            blame = (", blaming itself for the client's mistake" if bad_here else "")
            return Verdict(
                "failed",
                f"{where}, and receive() raised {describe_error(error).rstrip('.')}. A live "
                f"server closes this connection with 1011 (Internal Error){blame}.",
                expected, _timeline(steps))
        step.actions = describe_actions(actions)
        actions = _normalised(actions)
        closes = [a for a in actions if a[0] == "close"]
        delivers = [a for a in actions if a[0] == "deliver"]
        if bad_here:
            want = f"[('close', {script.code}, reason)]: {code_name(script.code)}"
            if not closes:
                return Verdict(
                    "failed",
                    f"{where}: {script.bad_kind}. Your receiver returned "
                    f"{describe_actions(actions)} and carried on.",
                    f"{want}, at this frame", _timeline(steps))
            code, reason = closes[0][1], closes[0][2]
            if code != script.code:
                shared = ""
                others_busy = any(position[c] % 2 == 1 for c in range(len(scripts))
                                  if c != conn and not closed[c])
                if code == UNSUPPORTED and others_busy and index % 2 == 0:
                    shared = (" This connection was between uploads, but another one was "
                              "waiting for its payload: is state shared between receivers?")
                return Verdict(
                    "failed",
                    f"{where}: {script.bad_kind}. Your receiver closed with "
                    f"{code_name(code)}.{shared}", want, _timeline(steps))
            if delivers:
                return Verdict(
                    "failed",
                    f"{where}: {script.bad_kind}. Your receiver closed, but also delivered "
                    f"{describe_actions(delivers)} from it.",
                    f"{want} and nothing delivered from a bad message", _timeline(steps))
            problem = _reason_problem(reason)
            if problem:
                return Verdict("failed", f"{where}: your close reason {problem}",
                               f"a reason of at most {REASON_LIMIT} bytes of UTF-8 text",
                               _timeline(steps))
            closed[conn] = True
            tally[script.bad_kind] = tally.get(script.bad_kind, 0) + 1
            continue
        if closes:
            return Verdict(
                "failed",
                f"{where}, a good frame, and your receiver closed the connection with "
                f"{code_name(closes[0][1])}: {closes[0][2]!r:.80}.",
                "no close: every frame this connection had sent so far was good"
                + (" (other connections sent bad ones: is state shared between receivers?)"
                   if any(closed) else ""),
                _timeline(steps))
        delivered[conn] += delivers
        expected_so_far = [("deliver", m, p) for m, p in
                           script.uploads[:_uploads_completed(script, index + 1)]]
        if delivered[conn] != expected_so_far:
            got, want_list = delivered[conn], expected_so_far
            return Verdict(
                "failed",
                f"{where}; after it, your receiver had delivered {len(got)} upload(s) on this "
                f"connection: {describe_actions(got[-2:])}"
                + (" (other connections sent bad frames: is state shared between receivers?)"
                   if any(closed) else ""),
                f"{len(want_list)} upload(s), the last ones {describe_actions(want_list[-2:])}",
                _timeline(steps))
    for conn, script in enumerate(scripts):
        if script.bad_at is not None and not closed[conn]:  # cannot happen: checked at the frame
            return Verdict("failed", f"connection {conn + 1} was never closed", "a close")
    tally["good uploads"] = tally.get("good uploads", 0) + sum(len(s.uploads) for s in scripts)
    return PASS


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


def _live(run: Callable[[], Coroutine[Any, Any, Verdict]]) -> Verdict | None:
    """Run a live scenario on a fresh event loop; None when a loop already runs in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    return None  # grade() called from inside a notebook cell: the simulated scenarios must do


def live_binary_json(module: ModuleType, seed: int) -> Verdict | None:
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

    return _live(run)


LIVE_CLIENTS: dict[str, tuple[list[Frame], int | None]] = {
    "oversize-announcement": ([json.dumps({"size": 4097, "meta": {}}), bytes(4097)], TOO_BIG),
    "oversize-payload": ([json.dumps({"size": 10, "meta": {}}), bytes(5000)], TOO_BIG),
    "not-json": (['{"size": 3, "meta": {', b"abc"], INVALID),
    "escaped-surrogate": (['{"size": 1, "meta": {"name": "\\ud83d"}}', b"a"], INVALID),
    "wrong-length": ([json.dumps({"size": 10, "meta": {}}), bytes(11)], INVALID),
    "unannounced": ([b"\x89PNG"], UNSUPPORTED),
    "announced-twice": ([json.dumps({"size": 1, "meta": {}})] * 2 + [b"a"], UNSUPPORTED),
}


def live_limits(module: ModuleType, seed: int) -> Verdict | None:
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
            return Verdict("failed", f"{where}: your receiver raised ({errors[0]}), and the server "
                           "closed that connection with 1011.", "no exception", lines)
        for label, (_, code) in clients.items():
            client = seen[label]
            got = client.close[0] if client.close else None
            if got != code:
                return Verdict(
                    "failed",
                    f"{where}: the {label} client's connection "
                    + (f"was closed with {code_name(got)}" if got else "was never closed")
                    + (f" and {len(client.delivered)} upload(s) delivered" if client.delivered
                       else "") + ".",
                    f"close {code_name(code)}" if code else "no close", lines)
            if label != "good" and client.delivered:
                return Verdict("failed", f"{where}: the {label} client got "
                               f"{client.delivered!r:.80} delivered.", "nothing delivered", lines)
        want = [(meta, len(payload)) for meta, payload in uploads]
        if seen["good"].delivered != want:
            return Verdict("failed", f"{where}: the good client's uploads came out as "
                           f"{seen['good'].delivered!r:.120}.", f"{want!r}", lines)
        return PASS

    return _live(run)


# -- the grader --------------------------------------------------------------------------


@cache
def _reference() -> ModuleType:
    return load_module(course.root() / "solutions" / "frames.py", "frames_reference")


class Fresh:
    """The learner's module, loaded afresh for each scenario: a new server process each time.

    State that leaks between connections (a mutable class attribute, a global)
    is caught inside one scenario, where several connections interleave; a
    fresh module keeps it from leaking into the next scenario, so that every
    scenario replays alone from its seed exactly as it ran among the others.
    The file is compiled once; each scenario runs the compiled code in a new
    module (a few microseconds).
    """

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.code = None
        path = getattr(module, "__file__", None)
        if path is not None:
            self.code = compile(Path(path).read_bytes(), path, "exec")

    def load(self, seed: int) -> ModuleType:
        if self.code is None:
            return self.module
        name = f"{self.module.__name__}_seed{seed}"
        module = ModuleType(name)
        module.__file__ = self.module.__file__
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            exec(self.code, module.__dict__)
        finally:
            del sys.modules[name]
        return module


def _guarded(run: Callable[[ModuleType, int], Verdict | None], module: Fresh,
             seed: int) -> Verdict | None:
    """Run one scenario under the time limit."""
    seconds = LIVE_SECONDS if seed in (LIVE_BJ_SEED, LIVE_ML_SEED) else SCENARIO_SECONDS
    try:
        with time_limit(seconds, f"scenario seed {seed}"):
            return run(module.load(seed), seed)
    except LearnerTimeout as error:
        return Verdict("failed", str(error), "the code returns promptly")
    except Exception as error:  # loading it again failed (it loaded once, so: unlikely)
        return Verdict("failed", f"loading your file raised {describe_error(error)}",
                       "the file loads")


def trial(module: ModuleType) -> str | None:
    """Can a notebook run this code live? None, or why not (it raises, or it hangs).

    A few calls under the time limit: an upload encoded, a good upload and a
    bad frame received. Wrong answers are the grader's business; code that
    raises or loops forever would stall a live server, so it is caught here.
    """
    missing = [name for name in ("encode_upload", "Receiver")
               if not callable(getattr(module, name, None))]
    if missing:
        return f"The file has no {' and no '.join(missing)}."
    receiver: list[Any] = []

    def receive(frame: Frame) -> Callable[[], object]:
        return lambda: receiver[0].receive(frame)

    calls: list[tuple[str, Callable[[], object]]] = [
        ("encode_upload({'name': 'probe'}, b'probe')",
         lambda: module.encode_upload({"name": "probe"}, b"probe")),
        ("Receiver(max_size=1024)", lambda: receiver.append(module.Receiver(1024))),
    ]
    for frame in ('{"size": 5, "meta": {"name": "probe"}}', b"probe", "not JSON"):
        calls.append((f"receive({frame!r})", receive(frame)))
    try:
        with time_limit(SCENARIO_SECONDS, "trying your code"):
            for what, call in calls:
                try:
                    call()
                except Exception as error:
                    return f"{what} raised {describe_error(error)}"
    except LearnerTimeout as error:
        return str(error)
    return None


def grade(module: ModuleType, *, seeds: list[int] | None = None) -> Report:
    """Run every scenario (or only ``seeds``) and return one finding per ID."""
    missing = [name for name in ("encode_upload", "Receiver")
               if not callable(getattr(module, name, None))]
    if missing:
        return Report("frames", "", error=f"The file has no {' and no '.join(missing)}.")
    try:
        fresh = Fresh(module)
    except (OSError, SyntaxError) as error:
        return Report("frames", "", error=f"Your file could not be read again: {error}")
    measures: list[Measure] = []
    tally: dict[str, int] = {}
    def bj(learner: ModuleType, seed: int) -> Verdict | None:
        if seed == LIVE_BJ_SEED:
            return live_binary_json(learner, seed)
        return binary_json_scenario(learner, seed, measures)

    def ml(learner: ModuleType, seed: int) -> Verdict | None:
        if seed == LIVE_ML_SEED:
            return live_limits(learner, seed)
        return limits_scenario(learner, seed, tally)

    plan: list[tuple[str, list[int], Callable[[ModuleType, int], Verdict | None]]] = [
        (BJ, BJ_SEEDS, bj), (ML, ML_SEEDS, ml)]
    findings = []
    total = 0
    for id, all_seeds, run in plan:
        finding = Finding(id, TITLES[id], "passed", hint=HINTS[id], reference=reference_link(id))
        for seed in all_seeds:
            if seeds is not None and seed not in seeds:
                continue
            verdict = _guarded(run, fresh, seed)
            if verdict is None:
                continue  # a live scenario, skipped inside a running event loop
            finding.scenarios += 1
            if verdict.status == "failed":
                finding.status, finding.seed = "failed", seed
                finding.observed, finding.expected = verdict.observed, verdict.expected
                finding.timeline = verdict.timeline
                if verdict.wire is not None:
                    finding.figure_png = _wire_figure(*verdict.wire)
                break
        total += finding.scenarios
        if finding.scenarios == 0:
            finding.status, finding.observed = "not reached", "no scenario for this seed"
        findings.append(finding)
    _add_measurements(findings, measures, tally)
    return Report("frames", "", findings, scenarios=total)


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
