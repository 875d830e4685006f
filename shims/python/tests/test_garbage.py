"""Bad input from a connector (a small fake one, to send what `relay serve` never would)."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.server import serve

from conftest import eventually
from relay_transport import WebSocketRelayTransport

pytestmark = pytest.mark.usefixtures("types_mode")

DESCRIPTOR = {
    "contract_version": 1, "platform": "relay", "label": "Relay", "max_message_length": 4096,
    "supports_draft_streaming": False, "supports_edit": True, "supports_threads": False,
    "markdown_dialect": "plain", "len_unit": "chars",
}


async def test_garbage_frames_and_split_messages_leave_the_link_up():
    async def connector(ws):
        await ws.recv()  # the hello
        await ws.send(json.dumps({"type": "descriptor", "descriptor": DESCRIPTOR}) + "\n")
        for junk in ["not json\n", "[1, 2]\n", '{"type": 7}\n', '{"type":"inbound","event":5}\n',
                     '{"type":"hello","platform":"x","botId":""}\n', b"\xff\xfe\n", '{"a": NaN}\n']:
            await ws.send(junk)
        frame = json.dumps({"type": "inbound", "event": {"text": "after", "source": {"platform": "relay"}}})
        # One frame in three messages, Python-style JSON: boundaries mean nothing.
        await ws.send(frame[:10])
        await ws.send(frame[10:20].encode())
        await ws.send(frame[20:] + "\n")
        async for message in ws:
            request = json.loads(message)
            if request["type"] == "outbound":
                result = {"type": "outbound_result", "requestId": request["requestId"], "result": {"success": True}}
                await ws.send(json.dumps(result) + "\n")

    async with serve(connector, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        t = WebSocketRelayTransport(f"ws://127.0.0.1:{port}", "relay", "")
        got = []
        t.set_inbound_handler(lambda event: got.append(event.text))
        await t.connect()
        await t.handshake()
        await eventually(lambda: got == ["after"])
        assert await t.send_outbound({"op": "typing", "chat_id": "c"}) == {"success": True}
        await t.disconnect()
