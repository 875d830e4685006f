"""Loopback throughput of this transport beside a plain asyncio `websockets` client.

The plain client does what the reference transport does, in Python: JSON
lines in and out, a future per request id, the inbound event rebuilt from
its dict (the same dataclasses). Both run against one `relay serve` in one
run; the figures are measured, not asserted. Usage:

    RELAY_BIN=target/release/relay python shims/python/bench/bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from websockets.asyncio.client import connect

from relay_transport import WebSocketRelayTransport
from relay_transport._types import MessageEvent, MessageType, Platform, SessionSource

SEND = {"op": "send", "chat_id": "c1", "content": "hello there", "reply_to": None, "metadata": {}}


def inbound_frame(n: int) -> Dict[str, Any]:
    return {"type": "inbound", "event": {
        "text": f"message {n} with some text in it", "message_id": f"m{n}", "message_type": "text",
        "source": {"platform": "telegram", "chat_id": "42", "chat_type": "group", "user_id": "u1",
                   "user_name": "ann", "chat_name": "General"},
        "media_urls": ["https://x/1.png"], "media": [{"url": "https://x/1.png", "mime": "image/png"}],
    }}


class PlainClient:
    """The reference transport's shape, reduced to what the benchmark exercises."""

    def __init__(self, url: str, bot_id: str):
        self.url, self.bot_id = url, bot_id
        self.pending: Dict[str, asyncio.Future] = {}
        self.handler: Optional[Callable[[Any], Any]] = None
        self.ready: Optional[asyncio.Future] = None

    async def connect(self) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        self.ws = await connect(self.url, ping_interval=30, ping_timeout=60)
        self.reader = asyncio.create_task(self.read())
        await self.ws.send(json.dumps({"type": "hello", "platform": "relay", "botId": self.bot_id}) + "\n")
        await self.ready

    async def read(self) -> None:
        buf = ""
        async for chunk in self.ws:
            buf += chunk if isinstance(chunk, str) else chunk.decode()
            *lines, buf = buf.split("\n")
            for line in lines:
                if line.strip():
                    await self.handle(json.loads(line))

    async def handle(self, frame: Dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "outbound_result":
            fut = self.pending.get(frame.get("requestId", ""))
            if fut is not None and not fut.done():
                fut.set_result(frame.get("result", {}))
        elif kind == "inbound" and self.handler is not None:
            await self.handler(event_from_wire(frame.get("event", {})))
        elif kind == "descriptor" and not self.ready.done():
            self.ready.set_result(frame["descriptor"])

    async def send_outbound(self, action: Dict[str, Any]) -> Dict[str, Any]:
        request_id = uuid.uuid4().hex
        fut = asyncio.get_running_loop().create_future()
        self.pending[request_id] = fut
        try:
            await self.ws.send(json.dumps({"type": "outbound", "requestId": request_id, "action": action}) + "\n")
            return await asyncio.wait_for(fut, 30.0)
        finally:
            self.pending.pop(request_id, None)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def event_from_wire(raw: Dict[str, Any]) -> MessageEvent:
    src = raw.get("source", {}) or {}
    try:
        platform = Platform(src.get("platform", "relay"))
    except ValueError:
        platform = Platform.RELAY
    source = SessionSource(
        platform=platform, chat_id=src.get("chat_id", ""), chat_type=src.get("chat_type", "dm"),
        chat_name=src.get("chat_name"), user_id=src.get("user_id"),
        user_name=src.get("user_display_name") or src.get("user_name") or src.get("user_handle"),
        thread_id=src.get("thread_id"), chat_topic=src.get("chat_topic"), user_id_alt=src.get("user_id_alt"),
        chat_id_alt=src.get("chat_id_alt"), scope_id=src.get("scope_id"),
        parent_chat_id=src.get("parent_chat_id"), message_id=src.get("message_id"),
        profile=src.get("profile"), auto_thread_created=bool(src.get("auto_thread_created", False)),
        auto_thread_initial_name=src.get("auto_thread_initial_name"),
        prospective_thread_id=src.get("prospective_thread_id"), delivered_via_upstream_relay=True,
    )
    try:
        message_type = MessageType(raw.get("message_type", "text"))
    except ValueError:
        message_type = MessageType.TEXT
    reply_to = raw.get("reply_to") or {}
    urls = raw.get("media_urls") or []
    mime = {m["url"]: m.get("mime") or "" for m in raw.get("media") or [] if isinstance(m, dict) and m.get("url")}
    return MessageEvent(
        text=raw.get("text", ""), message_type=message_type, source=source, message_id=raw.get("message_id"),
        reply_to_message_id=raw.get("reply_to_message_id"), reply_to_text=reply_to.get("text"),
        reply_to_author_name=reply_to.get("author"), reply_to_is_own_message=bool(reply_to.get("is_own", False)),
        media_urls=urls, media_types=[mime.get(u, "") for u in urls],
    )


async def round_trips(client: Any, concurrency: int, total: int) -> float:
    per_worker = total // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            result = await client.send_outbound(SEND)
            assert result.get("success"), result

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return per_worker * concurrency / (time.perf_counter() - started)


async def serve(script: str) -> tuple:
    proc = await asyncio.create_subprocess_exec(
        os.environ.get("RELAY_BIN", "target/release/relay"), "serve", "--listen", "127.0.0.1:0",
        "--script", script, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    url = json.loads(await proc.stdout.readline())["url"]

    async def drain_stdout() -> None:
        while await proc.stdout.readline():
            pass

    return proc, url, asyncio.create_task(drain_stdout())


async def measure(name: str, make: Callable[[str, str], Any], url: str, sizes: Dict[str, int]) -> Dict[str, float]:
    figures: Dict[str, float] = {}
    for concurrency, key in ((1, "rt_c1"), (256, "rt_c256")):
        client = await make(url, f"{name}-{key}")
        figures[key] = await round_trips(client, concurrency, sizes[key])
        await client.close()
    received: List[tuple] = []
    client = await make(url, f"{name}-inbound",
                        handler=lambda event: received.append((time.perf_counter(), time.process_time())))
    deadline = time.perf_counter() + 60
    while len(received) < sizes["inbound"] and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    (wall0, cpu0), (wall1, cpu1) = received[0], received[-1]
    figures["inbound"] = (len(received) - 1) / (wall1 - wall0)
    # `relay serve` playing its script paces the wall-clock figure; this one is the client's own cost.
    figures["inbound_cpu"] = (len(received) - 1) / max(cpu1 - cpu0, 1e-9)
    await client.close()
    return figures


async def ours(url: str, bot_id: str, handler: Optional[Callable] = None) -> Any:
    t = WebSocketRelayTransport(url, "relay", bot_id)
    if handler is not None:
        t.set_inbound_handler(handler)
    await t.connect()
    await t.handshake()
    t.close = t.disconnect  # type: ignore[attr-defined]
    return t


async def plain(url: str, bot_id: str, handler: Optional[Callable] = None) -> Any:
    c = PlainClient(url, bot_id)
    if handler is not None:
        async def call(event: Any) -> None:
            handler(event)
        c.handler = call
    await c.connect()
    return c


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is shown")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    sizes = {"rt_c1": 3000 // scale, "rt_c256": 25600 // scale, "inbound": 30000 // scale}
    # Other load on the machine skews one run: the clients alternate, best round kept.
    results: Dict[str, Dict[str, float]] = {"plain": {}, "ours": {}}
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as script:
        for n in range(sizes["inbound"]):
            script.write(json.dumps(inbound_frame(n)) + "\n")
    proc, url, drain = await serve(script.name)
    try:
        for n in range(args.rounds):
            for name, make in (("plain", plain), ("ours", ours)):
                figures = await measure(f"{name}{n}", make, url, sizes)
                for key, value in figures.items():
                    results[name][key] = max(value, results[name].get(key, 0.0))
    finally:
        proc.terminate()
        await proc.wait()
        drain.cancel()
        os.unlink(script.name)
    labels = {"rt_c1": "round trips/s, concurrency 1", "rt_c256": "round trips/s, concurrency 256",
              "inbound": "inbound frames/s to a handler",
              "inbound_cpu": "inbound frames per client CPU-s"}
    print(f"{'figure':34} {'plain websockets':>17} {'relay_transport':>16} {'ratio':>7}")
    for key, label in labels.items():
        p, o = results["plain"][key], results["ours"][key]
        print(f"{label:34} {p:17.0f} {o:16.0f} {o / p:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
