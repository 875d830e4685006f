#!/usr/bin/env python3
"""A connector written the way the reference Python connectors are, for
interop tests of the Rust gateway (tests/tests/interop_python_connector.rs).

It speaks the reference wire format exactly: every frame is
``json.dumps(frame) + "\\n"`` (default separators ", " and ": ", ASCII-only
output with \\uXXXX escapes, surrogate pairs for emoji), one frame per
WebSocket text message, on a `websockets` server with its default settings
(so permessage-deflate is offered whenever a client asks for it).

Protocol of this script with the test that runs it:

- stdout, first line: {"event": "listening", "port": N} (127.0.0.1 only);
- it serves exactly one gateway connection: answers the N expected hellos
  with descriptors, pushes SCRIPT, answers every outbound with an
  outbound_result, acks going_idle, records everything, and checks each
  frame against PROTOCOL.md as it arrives;
- when the gateway closes the socket, it prints one more line,
  {"event": "report", ...}, and exits 0; on any mismatch it prints the
  report too, then "MISMATCH: ..." lines on stderr, and exits 1; when the
  deadline passes first it exits 2.

With ``--serve`` it is instead a long-running reference connector for any
number of gateway connections (``relay conform connector`` checks it): only
``/relay`` is upgraded; each connection answers its hellos in order (a
platform without a descriptor above gets a plain one; a ``supported_ops``
list is written as op names only), answers every
outbound (``unknown_identity`` for an identity that did not hello, a failure
for an op its descriptor does not list), acks ``going_idle``, and skips lines
it cannot read. It runs until stdin closes or the deadline passes.

Only the standard library and `websockets` are used.
"""

import argparse
import asyncio
import base64
import json
import os
import re
import sys
import threading

import websockets
from websockets.asyncio.server import serve

REQUEST_ID = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")

# The exact bytes of the passthrough body: every byte value, then CR LF and
# bytes that are not UTF-8, so only an exact base64 round trip matches.
FORWARD_BODY = bytes(range(256)) * 3 + b"\r\n\xff\xfe\x00\xc3("

DESCRIPTORS = {
    "discord": {
        "contract_version": 1,
        "platform": "discord",
        "label": "Discord \u2728 (Python)",
        "max_message_length": 2000,
        "supports_draft_streaming": False,
        "supports_edit": True,
        "supports_threads": True,
        "markdown_dialect": "discord",
        "len_unit": "chars",
        "emoji": "\U0001F3AE",
        "platform_hint": "R\u00e9ponds bri\u00e8vement",
        "pii_safe": False,
        "supported_ops": ["edit", "follow_up", "get_chat_info", "react", "send", "thread_create", "typing", "", 5],
        "x_future_field": {"nested": [1, 2, "tr\u00e8s"]},
    },
    "telegram": {
        "contract_version": 1,
        "platform": "telegram",
        "label": "Telegram",
        "max_message_length": 4096,
        "supports_draft_streaming": True,
        "supports_edit": True,
        "supports_threads": False,
        "markdown_dialect": "markdown_v2",
        "len_unit": "utf16",
        "emoji": "\u2708\ufe0f",
    },
}

INBOUND_TEXT = (
    "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u4f60\u597d \U0001F44B\U0001F3FD "
    '"quoted" \\ back\\slash\ttab\nnew line \u2028 nul:\u0000 end'
)
BUFFERED_TEXT = "\U0001F600 buffered \U0001F1E9\U0001F1EA \u0410\u043b\u0438\u0441\u0430"
SESSION_KEY = "agent:main:discord:group:chan-1:u-1"

# Pushed, in this order, right after the last descriptor.
SCRIPT = [
    {
        "type": "inbound",
        "event": {
            "text": INBOUND_TEXT,
            "message_type": "text",
            "source": {
                "platform": "discord",
                "chat_id": "chan-1",
                "chat_name": "g\u00e9n\u00e9ral",
                "chat_type": "group",
                "user_id": "u-1",
                "user_name": "Zo\u00eb \U0001F98A",
                "thread_id": None,
                "chat_topic": None,
                "scope_id": "guild-9",
                "guild_id": "guild-9",
                "message_id": "m-1",
            },
            "message_id": "m-1",
            "reply_to_message_id": None,
            "media_urls": ["https://cdn.example/a.png", "https://cdn.example/b.ogg"],
            "media": [
                {"url": "https://cdn.example/b.ogg", "mime": "audio/ogg", "kind": "voice",
                 "size": 1234, "filename": "b.ogg", "caption": None},
                {"url": "https://cdn.example/a.png", "mime": "image/png", "kind": "image",
                 "size": 99, "filename": "\u00e4.png", "caption": "sch\u00f6n"},
            ],
            "x_reference_extra": {"k": "v\u00e9"},
        },
    },
    {
        "type": "inbound",
        "bufferId": "buf-7",
        "event": {
            "text": BUFFERED_TEXT,
            "message_type": "text",
            "source": {
                "platform": "telegram",
                "chat_id": "111",
                "chat_name": None,
                "chat_type": "dm",
                "user_id": "111",
                "user_name": "\u0410\u043b\u0438\u0441\u0430",
                "thread_id": None,
                "chat_topic": None,
            },
            "message_id": "tg-5",
            "reply_to_message_id": None,
            "media_urls": [],
        },
    },
    {
        "type": "passthrough_forward",
        "bufferId": "buf-9",
        "forward": {
            "platform": "discord",
            "botId": "d1",
            "method": "POST",
            "path": "/interactions?q=\u00e9",
            "headers": [
                ["Content-Type", "application/json"],
                ["X-Multi", "1"],
                ["X-Multi", "2"],
                ["X-Name", "Zo\u00eb"],
            ],
            "bodyB64": base64.b64encode(FORWARD_BODY).decode("ascii"),
        },
    },
    {"type": "interrupt_inbound", "session_key": SESSION_KEY, "chat_id": "chan-1"},
]

EXPECTED_ACKS = ["buf-7", "buf-9"]
GATEWAY_FRAMES = {"hello", "outbound", "interrupt", "going_idle", "inbound_ack"}


def wire(frame):
    """Exactly what the reference writes for one frame."""
    return json.dumps(frame) + "\n"


def result_for(action):
    """The connector's answer to one outbound action (deterministic per action)."""
    op = action.get("op")
    chat_id = action.get("chat_id", "")
    if op == "send":
        return {"success": True, "message_id": "py-send:" + chat_id}
    if op == "get_chat_info":
        return {"success": True, "chat_info": {"name": "Ch\u00e2t " + chat_id + " \U0001F3E0", "type": "group"}}
    if op == "edit":
        return {"success": False, "error": "\u00e9dition refus\u00e9e \u270B",
                "code": "egress_declined", "retry_after": 1.5}
    if op == "react":
        return {"success": True, "message_id": "py-react:" + action.get("emoji", "")}
    if op == "typing":
        return {"success": True}
    return {"success": True, "message_id": "py-" + str(op)}


class Session:
    def __init__(self, hellos_expected):
        self.hellos_expected = hellos_expected
        self.mismatches = []
        self.report = {
            "event": "report",
            "path": None,
            "offered_extensions": None,
            "negotiated_extensions": None,
            "messages": 0,
            "hellos": [],
            "outbound": [],
            "interrupts": [],
            "acks": [],
            "going_idle": 0,
            "close_code": None,
            "ping_latency": None,
            "close_reason": None,
            "pushed": len(SCRIPT),
            "websockets_version": websockets.__version__,
        }
        self.request_ids = set()
        self.done = asyncio.Event()

    def mismatch(self, text):
        self.mismatches.append(text)

    async def handle(self, ws):
        if self.report["path"] is not None:
            self.mismatch("a second connection was opened; the gateway should keep one")
            await ws.close(1008, "one connection per test")
            return
        self.report["path"] = ws.request.path
        self.report["offered_extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        self.report["negotiated_extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
        buf = ""
        try:
            async for message in ws:
                self.report["messages"] += 1
                if not isinstance(message, str):
                    self.mismatch("gateway sent a binary message: %r" % message[:80])
                    message = message.decode("utf-8", "replace")
                # Whole frames, each with its \n: a sender may put several
                # in one message (PROTOCOL §1), never split one across two.
                if not message.endswith("\n"):
                    self.mismatch("gateway message does not end on a frame's \\n: %r" % message[:200])
                # Reference reader: buffer, split on \n, keep the partial tail.
                buf += message
                *lines, buf = buf.split("\n")
                for line in lines:
                    if line.strip():
                        await self.on_line(ws, line)
        finally:
            # Round trip of our last keepalive ping; stays 0 until a pong came back.
            self.report["ping_latency"] = ws.latency
            self.report["close_code"] = ws.close_code
            self.report["close_reason"] = ws.close_reason
            if buf.strip():
                self.mismatch("unterminated data at close: %r" % buf[:200])
            self.done.set()

    async def on_line(self, ws, line):
        try:
            frame = json.loads(line)
        except ValueError as e:
            self.mismatch("gateway sent invalid JSON (%s): %r" % (e, line[:200]))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            self.mismatch("gateway sent a frame without a string type: %r" % line[:200])
            return
        kind = frame["type"]
        if kind not in GATEWAY_FRAMES:
            self.mismatch("gateway sent an unexpected frame type %r" % kind)
            return
        await getattr(self, "on_" + kind)(ws, frame)

    async def on_hello(self, ws, frame):
        platform, bot_id = frame.get("platform"), frame.get("botId")
        if not isinstance(platform, str) or not isinstance(bot_id, str):
            self.mismatch("hello platform/botId are not strings: %r" % frame)
            return
        expected = ["botId", "platform", "type"]
        if platform == "discord" and "command_manifest" in frame:
            # ext, Discord only: a list of slash commands.
            expected = ["botId", "command_manifest", "platform", "type"]
            if not isinstance(frame["command_manifest"], list):
                self.mismatch("command_manifest is not a list: %r" % frame)
        if sorted(frame) != expected:
            self.mismatch("hello keys are %r, expected %r" % (sorted(frame), expected))
        hello = {"platform": platform, "botId": bot_id}
        if "command_manifest" in frame:
            hello["command_manifest"] = frame["command_manifest"]
        self.report["hellos"].append(hello)
        descriptor = DESCRIPTORS.get(platform)
        if descriptor is None:
            await ws.close(1008, "unsupported identity %s:%s" % (platform, bot_id))
            self.mismatch("hello for an unexpected platform %r" % platform)
            return
        await ws.send(wire({"type": "descriptor", "descriptor": descriptor}))
        if len(self.report["hellos"]) == self.hellos_expected:
            for pushed in SCRIPT:
                await ws.send(wire(pushed))

    async def on_outbound(self, ws, frame):
        request_id = frame.get("requestId")
        action = frame.get("action")
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            self.mismatch("requestId %r is not a simple-form UUIDv4 (32 lowercase hex, version 4)" % request_id)
        elif request_id in self.request_ids:
            self.mismatch("requestId %s repeated" % request_id)
        self.request_ids.add(request_id)
        if not isinstance(action, dict) or not isinstance(action.get("op"), str):
            self.mismatch("outbound without an action.op: %r" % frame)
            return
        op = action["op"]
        if op == "send":
            if "reply_to" not in action:
                self.mismatch("send action without the reply_to key: %r" % action)
        if op in ("send", "follow_up") and not isinstance(action.get("metadata"), dict):
            self.mismatch("%s action without the metadata object (always present): %r" % (op, action))
        for forbidden in ("token", "secret", "credential"):
            if forbidden in action:
                self.mismatch("action carries a %s field: %r" % (forbidden, action))
        record = {"requestId": request_id, "action": action}
        for tag in ("platform", "botId"):
            if tag in frame:
                record[tag] = frame[tag]
        unknown = sorted(set(frame) - {"type", "requestId", "action", "platform", "botId"})
        if unknown:
            self.mismatch("outbound frame has unexpected keys %r" % unknown)
        self.report["outbound"].append(record)
        await ws.send(wire({"type": "outbound_result", "requestId": request_id, "result": result_for(action)}))

    async def on_interrupt(self, ws, frame):
        if "reason" not in frame:
            self.mismatch("interrupt without the reason key: %r" % frame)
        if not isinstance(frame.get("session_key"), str):
            self.mismatch("interrupt without a string session_key: %r" % frame)
        if frame.get("reason") is not None and not isinstance(frame["reason"], str):
            self.mismatch("interrupt reason is neither a string nor null: %r" % frame)
        self.report["interrupts"].append(frame)

    async def on_inbound_ack(self, ws, frame):
        buffer_id = frame.get("bufferId")
        if not isinstance(buffer_id, str):
            self.mismatch("inbound_ack without a string bufferId: %r" % frame)
        self.report["acks"].append(buffer_id)

    async def on_going_idle(self, ws, frame):
        self.report["going_idle"] += 1
        await ws.send(wire({"type": "going_idle_ack"}))

    def final_checks(self):
        r = self.report
        if r["path"] != "/relay":
            self.mismatch("gateway dialed path %r, expected /relay (PROTOCOL §8 URL normalization)" % r["path"])
        if r["negotiated_extensions"]:
            self.mismatch("an extension was negotiated: %r" % r["negotiated_extensions"])
        if len(r["hellos"]) != self.hellos_expected:
            self.mismatch("expected %d hellos, got %r" % (self.hellos_expected, r["hellos"]))
        if sorted(a for a in r["acks"] if isinstance(a, str)) != EXPECTED_ACKS:
            self.mismatch("expected inbound_ack for %r, got %r" % (EXPECTED_ACKS, r["acks"]))
        if r["close_code"] != 1000:
            self.mismatch("gateway closed with code %r, expected 1000" % r["close_code"])


LEGACY_OPS = ["send", "edit", "typing", "follow_up"]


def plain_descriptor(platform):
    """The descriptor --serve answers a platform without one above with."""
    return {
        "contract_version": 1,
        "platform": platform,
        "label": platform,
        "max_message_length": 4096,
        "supports_draft_streaming": False,
        "supports_edit": True,
        "supports_threads": False,
        "markdown_dialect": "plain",
        "len_unit": "chars",
    }


def accepted_ops(descriptor):
    """The ops a descriptor lets through (PROTOCOL section 3)."""
    listed = [op for op in descriptor.get("supported_ops") or [] if isinstance(op, str) and op]
    return set(listed or LEGACY_OPS) | {"get_chat_info"}


async def serve_connection(ws):
    """One gateway connection in --serve mode."""
    descriptors = {}
    hellos = []
    buf = ""
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
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                continue
            kind = frame["type"]
            if kind == "hello":
                platform, bot_id = frame.get("platform"), frame.get("botId")
                if not isinstance(platform, str) or not isinstance(bot_id, str):
                    continue
                descriptor = dict(DESCRIPTORS.get(platform) or plain_descriptor(platform))
                if "supported_ops" in descriptor:
                    # The one-shot mode's junk entries test gateways; a
                    # reference connector writes only op names.
                    descriptor["supported_ops"] = sorted(accepted_ops(descriptor))
                hellos.append((platform, bot_id))
                descriptors[(platform, bot_id)] = descriptor
                await ws.send(wire({"type": "descriptor", "descriptor": descriptor}))
            elif kind == "outbound":
                request_id, action = frame.get("requestId"), frame.get("action")
                if not isinstance(request_id, str) or not isinstance(action, dict):
                    continue
                if not isinstance(action.get("op"), str):
                    continue
                if "platform" in frame or "botId" in frame:
                    identity = (frame.get("platform") or "", frame.get("botId") or "")
                else:
                    identity = hellos[0] if hellos else ("relay", "")
                if identity not in descriptors:
                    result = {"success": False, "error": "identity not announced: %s:%s" % identity,
                              "code": "unknown_identity"}
                elif action["op"] not in accepted_ops(descriptors[identity]):
                    result = {"success": False, "error": "op not supported: %s" % action["op"],
                              "code": "unsupported_op"}
                else:
                    result = result_for(action)
                await ws.send(wire({"type": "outbound_result", "requestId": request_id, "result": result}))
            elif kind == "going_idle":
                await ws.send(wire({"type": "going_idle_ack"}))


def only_relay_path(connection, request):
    """Refuses upgrades on any path but /relay, as a connector does."""
    if request.path != "/relay":
        return connection.respond(404, "only /relay is upgraded\n")
    return None


async def serve_forever(deadline):
    async with serve(serve_connection, "127.0.0.1", 0, process_request=only_relay_path) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"event": "listening", "port": port}), flush=True)
        await asyncio.sleep(deadline)
    return 0


def exit_when_parent_goes():
    """The test keeps our stdin open; end of input means it died."""
    def watch():
        while os.read(0, 4096):
            pass
        os._exit(3)
    threading.Thread(target=watch, daemon=True).start()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hellos", type=int, default=2, help="hellos to expect before pushing the script")
    parser.add_argument("--deadline", type=float, default=45.0, help="seconds before giving up")
    parser.add_argument("--ping-interval", type=float, help="keepalive ping interval (default: websockets')")
    parser.add_argument("--ping-timeout", type=float, help="keepalive pong timeout (default: websockets')")
    parser.add_argument("--serve", action="store_true", help="serve any number of gateways until stdin closes")
    args = parser.parse_args()
    exit_when_parent_goes()
    if args.serve:
        return await serve_forever(args.deadline)

    session = Session(args.hellos)
    # websockets' defaults (permessage-deflate offered, 1 MiB messages), only
    # the keepalive made faster when asked so a short test exercises it.
    keepalive = {}
    if args.ping_interval is not None:
        keepalive["ping_interval"] = args.ping_interval
    if args.ping_timeout is not None:
        keepalive["ping_timeout"] = args.ping_timeout
    async with serve(session.handle, "127.0.0.1", 0, **keepalive) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"event": "listening", "port": port}), flush=True)
        try:
            await asyncio.wait_for(session.done.wait(), args.deadline)
        except asyncio.TimeoutError:
            print("MISMATCH: deadline of %ss passed before the gateway closed" % args.deadline,
                  file=sys.stderr, flush=True)
            print(json.dumps(session.report), flush=True)
            return 2
    session.final_checks()
    session.report["mismatches"] = session.mismatches
    print(json.dumps(session.report), flush=True)
    for m in session.mismatches:
        print("MISMATCH: " + m, file=sys.stderr, flush=True)
    return 1 if session.mismatches else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
