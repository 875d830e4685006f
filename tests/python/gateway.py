#!/usr/bin/env python3
"""A gateway written the way the reference Python gateway is, for interop
tests of the Rust connector `relay serve` (tests/tests/interop_python.rs).

It dials with `websockets` and its default settings (permessage-deflate
offered), writes every frame as ``json.dumps(frame) + "\\n"`` (separators
", " and ": ", ASCII-only with \\uXXXX escapes), one frame per text message,
uses ``uuid.uuid4().hex`` request ids, and mints upgrade tokens with the
standard library exactly as PROTOCOL.md §8 describes.

Modes:

  gateway.py session --url URL --expect-live N --expect-replayed M [--ping-interval S]
      Connection 1: hello x2 -> descriptors; N live script-pushed frames
      (no bufferId); outbound requests (echo results expected); interrupt
      with a reason and with null; going_idle -> going_idle_ack; then waits
      for a "go" line on stdin (the test saw the connector buffer M frames)
      and closes cleanly.
      Connection 2: the same hellos; the M buffered frames are replayed,
      each with a bufferId and acked with inbound_ack as it arrives; nothing
      else follows (the script plays once per gateway); a clean close.

  gateway.py auth --url URL --gateway-id ID --secret S --old-secret S0 --wrong-secret W
      one connection per token variant; records how each ended.

  gateway.py conform --url URL [--identity P:B ...] [--gateway-id ID --secret S]
      A long-running gateway for `relay conform gateway`, behaving as the
      reference does: one hello per identity on every connection; two
      requests once the first connection's descriptor came (nothing sent
      before it); an inbound_ack for every bufferId; results for unknown
      or settled requests ignored; a fresh token for every dial; after a
      connection that completed its handshake ends, the reconnect ladder
      (attempt n waits uniform [b/2, b], b = min(30 s, 1 s * 2^n), reset
      only after 30 s up) and the 4401 policy (expired: the ladder;
      otherwise one immediate re-dial, and a second 4401 on it is terminal).
      Ends when revoked, printing {"event": "report", "revoked": true, ...}.

Prints one line {"event": "report", ...} on stdout; exits 1 with
"MISMATCH: ..." lines on stderr when something differs from the protocol,
2 when a wait timed out. Exits by itself when its stdin closes (the test
that started it is gone).
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
import uuid

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

WAIT = 10.0
SENT_TEXT = "Bonjour \u00e0 tous \u2014 \U0001F389 \"cit\u00e9\" \\ fin\nligne 2 \u4e2d\u6587"
INFO_CHAT = "ch\u00e4t-\U0001F3B2"
HELLOS = [("discord", "d1"), ("telegram", "t1")]
DESCRIPTOR_FIELDS = {
    "contract_version": int,
    "platform": str,
    "label": str,
    "max_message_length": int,
    "supports_draft_streaming": bool,
    "supports_edit": bool,
    "supports_threads": bool,
    "markdown_dialect": str,
    "len_unit": str,
}
CONNECTOR_FRAMES = {
    "descriptor", "inbound", "outbound_result", "interrupt_inbound",
    "passthrough_forward", "going_idle_ack",
}


def wire(frame):
    """Exactly what the reference writes for one frame."""
    return json.dumps(frame) + "\n"


def mint(gateway_id, secret, exp, padded=False, upper=False):
    """PROTOCOL §8: base64url("<id>:<exp>:<hex hmac-sha256(secret, "<id>:<exp>")>"), unpadded."""
    sig = hmac.new(secret.encode("utf-8"), ("%s:%d" % (gateway_id, exp)).encode("utf-8"),
                   hashlib.sha256).hexdigest()
    if upper:
        sig = sig.upper()
    token = base64.urlsafe_b64encode(("%s:%d:%s" % (gateway_id, exp, sig)).encode("utf-8")).decode("ascii")
    return token if padded else token.rstrip("=")


def check_token_vectors(mismatches):
    vectors = [
        (1700000300, "Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2Z"
                     "jYWQ3YjFiMmI4Njk4ZTVkMjgyZTc2YThiOTc"),
        (0, "Z3ctdGVzdDowOjE4ZjkyNDk3NWM3MDk3NmQwYjQ3MzlhZWYwYzQxNWFmYjMxNmI5MjQ0M2RkZGQxMDVjYjJl"
            "NmNjNjZhNGM5NzA"),
    ]
    for exp, token in vectors:
        if mint("gw-test", "s3cret", exp) != token:
            mismatches.append("token minting disagrees with the PROTOCOL §8 vector for exp %d" % exp)


class Reader:
    """The reference reader: buffer, split on \\n, keep the partial tail;
    plus checks that the connector writes one frame per text message."""

    def __init__(self, ws, mismatches):
        self.ws = ws
        self.mismatches = mismatches
        self.frames = asyncio.Queue()
        self.messages = 0

    async def run(self):
        buf = ""
        try:
            async for message in self.ws:
                self.messages += 1
                if not isinstance(message, str):
                    self.mismatches.append("connector sent a binary message: %r" % message[:80])
                    message = message.decode("utf-8", "replace")
                # Whole frames, each with its \n: a sender may put several
                # in one message (PROTOCOL §1), never split one across two.
                if not message.endswith("\n"):
                    self.mismatches.append("connector message does not end on a frame's \\n: %r" % message[:200])
                buf += message
                *lines, buf = buf.split("\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        frame = json.loads(line)
                    except ValueError as e:
                        self.mismatches.append("connector sent invalid JSON (%s): %r" % (e, line[:200]))
                        continue
                    if not isinstance(frame, dict) or frame.get("type") not in CONNECTOR_FRAMES:
                        self.mismatches.append("connector sent an unexpected frame: %r" % line[:200])
                        continue
                    await self.frames.put(frame)
        except ConnectionClosed:
            pass
        finally:
            await self.frames.put(None)


class Timeout(Exception):
    pass


async def session(args):
    go = asyncio.Event()
    watch_stdin(asyncio.get_running_loop(), go)
    mismatches = []
    check_token_vectors(mismatches)
    report = {"event": "report", "websockets_version": websockets.__version__, "sent_text": SENT_TEXT}
    # websockets' defaults (permessage-deflate offered, 1 MiB messages), only
    # the keepalive made faster when asked so a short test exercises it.
    keepalive = {}
    if args.ping_interval is not None:
        keepalive = {"ping_interval": args.ping_interval, "ping_timeout": args.ping_timeout}
    async with connect(args.url, open_timeout=WAIT, close_timeout=WAIT, **keepalive) as ws:
        report["offered_extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        report["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        reader = Reader(ws, mismatches)
        reading = asyncio.create_task(reader.run())
        descriptors, pushed, results = [], [], {}
        idle_acks = []

        async def take(what, until):
            """Routes frames until `until()` holds; bounded by WAIT."""
            deadline = time.monotonic() + WAIT
            while not until():
                left = deadline - time.monotonic()
                try:
                    frame = await asyncio.wait_for(reader.frames.get(), max(left, 0.001))
                except asyncio.TimeoutError:
                    raise Timeout("timed out after %ss waiting for %s" % (WAIT, what))
                if frame is None:
                    raise Timeout("the connection ended while waiting for %s" % what)
                kind = frame["type"]
                if kind == "descriptor":
                    descriptors.append(frame.get("descriptor"))
                elif kind == "outbound_result":
                    request_id = frame.get("requestId")
                    if request_id in results:
                        mismatches.append("second result for %s" % request_id)
                    results[request_id] = frame.get("result")
                elif kind == "going_idle_ack":
                    idle_acks.append(frame)
                else:
                    pushed.append(frame)

        for platform, bot_id in HELLOS:
            await ws.send(wire({"type": "hello", "platform": platform, "botId": bot_id}))
        await take("%d descriptors" % len(HELLOS), lambda: len(descriptors) >= len(HELLOS))
        for i, d in enumerate(descriptors):
            if not isinstance(d, dict):
                mismatches.append("descriptor %d is not an object: %r" % (i, d))
                continue
            for field, kind in DESCRIPTOR_FIELDS.items():
                value = d.get(field)
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    mismatches.append("descriptor %d: %s should be %s, got %r" % (i, field, kind.__name__, value))
            if d.get("platform") != HELLOS[i][0]:
                mismatches.append("descriptor %d is for %r, hello was %r" % (i, d.get("platform"), HELLOS[i][0]))
        report["descriptors"] = descriptors
        await take("%d pushed frames" % args.expect_live, lambda: len(pushed) >= args.expect_live)
        report["pushed"] = pushed
        for frame in pushed:
            if "bufferId" in frame:
                mismatches.append("a live frame carries a bufferId: %r" % frame)

        # Outbound requests, all in flight at once; results matched by requestId.
        requests = [
            ({"op": "send", "chat_id": "chan-1", "content": SENT_TEXT, "reply_to": None, "metadata": {}}, None,
             {"success": True, "message_id": "srv-send"}),
            ({"op": "send", "chat_id": "111", "content": "\u041f\u0440\u0438\u0432\u0435\u0442", "reply_to": None,
              "metadata": {"thread": "t\u00e9"}}, ("telegram", "t1"),
             {"success": True, "message_id": "srv-send"}),
            ({"op": "edit", "chat_id": "chan-1", "message_id": "srv-send", "content": "\u270F\uFE0F"}, None,
             {"success": True, "message_id": "srv-edit"}),
            ({"op": "typing", "chat_id": "chan-1", "content": ""}, None,
             {"success": True, "message_id": "srv-typing"}),
            ({"op": "follow_up", "session_key": "agent:main:discord:group:chan-1:u-1", "kind": "ephemeral_reply",
              "content": "ok", "metadata": {}}, None,
             {"success": True, "message_id": "srv-follow_up"}),
            ({"op": "get_chat_info", "chat_id": INFO_CHAT}, None,
             {"success": True, "chat_info": {"name": INFO_CHAT, "type": "group"}}),
            ({"op": "send", "chat_id": "c", "content": "x", "reply_to": None, "metadata": {},
              "x_unknown": [1, {"a": None}]}, None,
             {"success": True, "message_id": "srv-send"}),
            ({"op": "send", "chat_id": "c", "content": "x", "reply_to": None, "metadata": {}}, ("slack", "x"),
             {"success": False, "error": "identity not announced: slack:x", "code": "unknown_identity"}),
        ]
        sent = []
        for action, tag, expected in requests:
            request_id = uuid.uuid4().hex
            frame = {"type": "outbound", "requestId": request_id, "action": action}
            if tag:
                frame["platform"], frame["botId"] = tag
            sent.append((request_id, action, tag, expected))
            await ws.send(wire(frame))
        await take("%d outbound_results" % len(sent), lambda: all(r in results for r, _, _, _ in sent))
        report["results"] = []
        for request_id, action, tag, expected in sent:
            got = results.pop(request_id)
            report["results"].append({"op": action["op"], "tag": tag, "result": got})
            if got != expected:
                mismatches.append("%s%s: expected result %s, got %s" % (
                    action["op"], " for %s:%s" % tag if tag else "", json.dumps(expected), json.dumps(got)))
        if results:
            mismatches.append("results for unknown requestIds: %r" % results)

        # Interrupts, then going idle.
        forward = next((f for f in pushed if f["type"] == "passthrough_forward"), None)
        if forward is not None:
            report["forward_body_b64"] = normalized_body(forward)
        await ws.send(wire({"type": "interrupt", "session_key": "agent:main:discord:group:chan-1:u-1",
                            "reason": "stop \u270B"}))
        await ws.send(wire({"type": "interrupt", "session_key": "agent:main:telegram:dm:111", "reason": None}))
        await ws.send(wire({"type": "going_idle"}))
        await take("going_idle_ack", lambda: idle_acks)
        # Idle: the connector buffers what it pushes now. Stay connected
        # until the test saw it do so, then leave.
        try:
            await asyncio.wait_for(go.wait(), 3 * WAIT)
        except asyncio.TimeoutError:
            raise Timeout("no 'go' line on stdin within %ss" % (3 * WAIT))
        while not reader.frames.empty():
            pushed.append(reader.frames.get_nowait())
        late = [f for f in pushed[args.expect_live:] if f is not None]
        if late:
            mismatches.append("frames arrived after the script's live part or while idle: %r" % late)
        # Round trip of our last keepalive ping; stays 0 until a pong came back.
        report["ping_latency"] = ws.latency
        await ws.close()
        await asyncio.wait_for(reading, WAIT)
        report["close_code"] = ws.close_code
        report["messages"] = reader.messages

    # Connection 2: the backlog is replayed first, each frame with a bufferId.
    async with connect(args.url, open_timeout=WAIT, close_timeout=WAIT) as ws:
        reader = Reader(ws, mismatches)
        reading = asyncio.create_task(reader.run())
        for platform, bot_id in HELLOS:
            await ws.send(wire({"type": "hello", "platform": platform, "botId": bot_id}))
        replayed, acked, descriptors2 = [], [], []
        want = args.expect_replayed
        deadline = time.monotonic() + WAIT
        while len(descriptors2) < len(HELLOS) or len(replayed) < want:
            try:
                frame = await asyncio.wait_for(reader.frames.get(), max(deadline - time.monotonic(), 0.001))
            except asyncio.TimeoutError:
                raise Timeout("second connection: timed out after %ss with %d of %d frames"
                              % (WAIT, len(replayed), want))
            if frame is None:
                raise Timeout("second connection ended early")
            if frame["type"] == "descriptor":
                descriptors2.append(frame)
                continue
            replayed.append(frame)
            if isinstance(frame.get("bufferId"), str):
                # Custody taken: acknowledge at once, as the reference does.
                await ws.send(wire({"type": "inbound_ack", "bufferId": frame["bufferId"]}))
                acked.append(frame["bufferId"])
        # Let the acks land, and see that nothing else comes.
        await asyncio.sleep(0.3)
        while not reader.frames.empty():
            frame = reader.frames.get_nowait()
            if frame is not None:
                mismatches.append("unexpected frame after the replay: %r" % frame)
        for i, frame in enumerate(replayed):
            if not isinstance(frame.get("bufferId"), str):
                mismatches.append("replayed frame %d has no bufferId: %r" % (i, frame))
        if len(set(acked)) != len(acked):
            mismatches.append("a bufferId was delivered twice on one connection: %r" % acked)
        forward = next((f for f in replayed if f["type"] == "passthrough_forward"), None)
        if forward is not None:
            report["replayed_forward_body_b64"] = normalized_body(forward)
        report["replayed"] = replayed
        report["acked"] = acked
        await ws.close()
        await asyncio.wait_for(reading, WAIT)
        report["close_code_2"] = ws.close_code
    return report, mismatches


def normalized_body(frame):
    """The forward's bodyB64, decoded (padding optional) and re-encoded with padding."""
    b64 = frame.get("forward", {}).get("bodyB64", "")
    return base64.b64encode(base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)).decode("ascii")


async def auth(args):
    watch_stdin(asyncio.get_running_loop(), asyncio.Event())
    mismatches = []
    check_token_vectors(mismatches)
    now = int(time.time())
    gid = args.gateway_id
    good = mint(gid, args.secret, now + 300)
    padded = mint(gid, args.secret, now + 300, padded=True)
    if not padded.endswith("="):
        mismatches.append("pick a gateway id whose token needs base64 padding (this one: %r)" % gid)
    attempts = [
        ("bearer", "Bearer " + good),
        ("bare-token", good),
        ("padded-base64", "Bearer " + padded),
        ("rotated-old-secret", "Bearer " + mint(gid, args.old_secret, now + 300)),
        ("wrong-secret", "Bearer " + mint(gid, args.wrong_secret, now + 300)),
        ("no-header", None),
        ("expired", "Bearer " + mint(gid, args.secret, now - 60)),
        ("beyond-max-lifetime", "Bearer " + mint(gid, args.secret, now + 7200)),
        ("exp-zero", "Bearer " + mint(gid, args.secret, 0)),
        ("uppercase-signature", "Bearer " + mint(gid, args.secret, now + 300, upper=True)),
    ]
    results = []
    for name, authorization in attempts:
        headers = {"Authorization": authorization} if authorization is not None else None
        outcome = await attempt(args.url, headers, mismatches)
        results.append({"name": name, "outcome": outcome})
    return {"event": "report", "websockets_version": websockets.__version__, "attempts": results}, mismatches


async def attempt(url, headers, mismatches):
    """One dial: 'accepted' (a descriptor came back), 'closed <code> <reason>', or 'http <status>'."""
    try:
        async with connect(url, additional_headers=headers, open_timeout=WAIT, close_timeout=WAIT) as ws:
            try:
                await ws.send(wire({"type": "hello", "platform": "relay", "botId": ""}))
                message = await asyncio.wait_for(ws.recv(), WAIT)
            except ConnectionClosed as e:
                if e.rcvd is None:
                    return "closed without a close frame"
                return "closed %d %s" % (e.rcvd.code, e.rcvd.reason)
            except asyncio.TimeoutError:
                return "no answer within %ss" % WAIT
            frame = json.loads(message)
            if frame.get("type") != "descriptor":
                mismatches.append("expected a descriptor, got %r" % message[:200])
            return "accepted"
    except InvalidStatus as e:
        return "http %d" % e.response.status_code


class Conform:
    """The reference gateway's connection management, for `conform` mode."""

    def __init__(self, args):
        self.args = args
        self.identities = [tuple((i.split(":", 1) + [""])[:2]) for i in (args.identity or ["relay:"])]
        self.attempt = 0
        self.strike_redial = False
        self.ever_connected = False
        self.requested = False
        self.pending = {}
        self.dials = 0
        self.ignored_results = 0

    def headers(self):
        if not self.args.gateway_id or not self.args.secret:
            return None
        return {"Authorization": "Bearer " + mint(self.args.gateway_id, self.args.secret, int(time.time()) + 300)}

    def ladder(self):
        b = min(30.0, 1.0 * 2 ** self.attempt)
        self.attempt += 1
        return random.uniform(b / 2, b)

    async def run(self):
        watch_stdin(asyncio.get_running_loop(), asyncio.Event())
        while True:
            self.dials += 1
            outcome = await self.connection()
            if outcome == "revoked":
                return {"event": "report", "revoked": True, "dials": self.dials,
                        "ignored_results": self.ignored_results}
            await asyncio.sleep(0 if outcome == "strike" else self.ladder())

    async def connection(self):
        """One dial; 'strike', 'revoked' or 'ladder' says what comes next."""
        ready = False
        try:
            async with connect(self.args.url, additional_headers=self.headers(), open_timeout=WAIT) as ws:
                buf = ""
                try:
                    for platform, bot_id in self.identities:
                        await ws.send(wire({"type": "hello", "platform": platform, "botId": bot_id}))
                    async for message in ws:
                        if not isinstance(message, str):
                            message = message.decode("utf-8", "replace")
                        buf += message
                        *lines, buf = buf.split("\n")
                        for line in lines:
                            try:
                                frame = json.loads(line)
                            except ValueError:
                                continue
                            if not isinstance(frame, dict):
                                continue
                            kind = frame.get("type")
                            if kind == "descriptor" and not ready:
                                ready = True
                                self.ever_connected = True
                                self.strike_redial = False
                                up_since = time.monotonic()
                                await self.request(ws)
                            elif kind in ("inbound", "passthrough_forward") and isinstance(frame.get("bufferId"), str):
                                await ws.send(wire({"type": "inbound_ack", "bufferId": frame["bufferId"]}))
                            elif kind == "outbound_result":
                                if self.pending.pop(frame.get("requestId"), None) is None:
                                    self.ignored_results += 1
                except ConnectionClosed:
                    pass
                code, reason = ws.close_code, ws.close_reason
        except (OSError, InvalidStatus, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            self.strike_redial = False
            return "ladder"
        if ready and time.monotonic() - up_since >= 30:
            self.attempt = 0
        if code == 4401 and reason != "expired" and self.ever_connected:
            if self.strike_redial and not ready:
                return "revoked"
            self.strike_redial = True
            return "strike"
        self.strike_redial = False
        return "ladder"

    async def request(self, ws):
        """The application's requests: two, once, after the first descriptor."""
        if self.requested:
            return
        self.requested = True
        for action in ({"op": "send", "chat_id": "conform-chat", "content": "hello", "reply_to": None, "metadata": {}},
                       {"op": "typing", "chat_id": "conform-chat"}):
            request_id = uuid.uuid4().hex
            self.pending[request_id] = action
            await ws.send(wire({"type": "outbound", "requestId": request_id, "action": action}))


def watch_stdin(loop, go):
    """A "go" line on stdin sets `go`; end of input means the test that
    started us is gone, so we exit at once."""
    def watch():
        buf = b""
        while True:
            chunk = os.read(0, 4096)
            if not chunk:
                os._exit(3)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            if any(line.strip() == b"go" for line in lines):
                loop.call_soon_threadsafe(go.set)
    threading.Thread(target=watch, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    s = modes.add_parser("session")
    s.add_argument("--url", required=True)
    s.add_argument("--expect-live", type=int, required=True)
    s.add_argument("--expect-replayed", type=int, required=True)
    s.add_argument("--ping-interval", type=float, help="keepalive ping interval (default: websockets')")
    s.add_argument("--ping-timeout", type=float, default=1.0, help="keepalive pong timeout with --ping-interval")
    a = modes.add_parser("auth")
    a.add_argument("--url", required=True)
    a.add_argument("--gateway-id", required=True)
    a.add_argument("--secret", required=True)
    a.add_argument("--old-secret", required=True)
    a.add_argument("--wrong-secret", required=True)
    c = modes.add_parser("conform")
    c.add_argument("--url", required=True)
    c.add_argument("--identity", action="append", help="platform:botId (repeatable; default relay:)")
    c.add_argument("--gateway-id")
    c.add_argument("--secret")
    args = parser.parse_args()

    if args.mode == "conform":
        print(json.dumps(asyncio.run(Conform(args).run())), flush=True)
        return 0
    try:
        report, mismatches = asyncio.run(session(args) if args.mode == "session" else auth(args))
    except (Timeout, asyncio.TimeoutError, OSError, websockets.exceptions.WebSocketException) as e:
        print(json.dumps({"event": "report", "mismatches": ["%s: %s" % (type(e).__name__, e)]}), flush=True)
        print("MISMATCH: %s: %s" % (type(e).__name__, e), file=sys.stderr, flush=True)
        return 2
    report["mismatches"] = mismatches
    print(json.dumps(report), flush=True)
    for m in mismatches:
        print("MISMATCH: " + m, file=sys.stderr, flush=True)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
