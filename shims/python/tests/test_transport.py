"""The transport against `relay serve` over real sockets, with and without the reference types."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import time

import pytest

from conftest import eventually
from relay_transport import WebSocketRelayTransport, install

pytestmark = pytest.mark.usefixtures("types_mode")

SEND = {"op": "send", "chat_id": "c1", "content": "hi", "reply_to": None, "metadata": {}}


async def connected(url: str, **kwargs) -> WebSocketRelayTransport:
    transport = WebSocketRelayTransport(url, kwargs.pop("platform", "relay"), kwargs.pop("bot_id", ""), **kwargs)
    assert await transport.connect() is True
    await transport.handshake()
    return transport


def inbound(text: str, message_id: str, **source) -> dict:
    source = {"platform": "telegram", "chat_id": "42", "chat_type": "dm", **source}
    return {"type": "inbound", "event": {"text": text, "message_id": message_id, "source": source}}


async def test_handshake_per_identity_in_order(serve_factory, types_mode):
    serve = await serve_factory()
    t = await connected(serve.url.replace("ws://", "http://").replace("/relay", ""),
                        identities=[("discord", "d1"), ("telegram", "t1")])
    try:
        first = await t.handshake()
        assert first.platform == "discord" and t._descriptor is first
        assert t.descriptor_for_platform("discord") is first
        await eventually(lambda: t.descriptor_for_platform("telegram") is not None)
        assert t.descriptor_for_platform("slack") is None
        await serve.wait_count("hello", 2)
        hellos = serve.named("hello")
        assert [(h["platform"], h["botId"]) for h in hellos] == [("discord", "d1"), ("telegram", "t1")]
        manifest = hellos[0].get("command_manifest")
        assert manifest == ([{"name": "help", "description": "Show help"}] if types_mode == "reference" else None)
        assert t._url == serve.url and t._identities == [("discord", "d1"), ("telegram", "t1")]
        kind = sys.modules["gateway.relay.descriptor"].CapabilityDescriptor if types_mode == "reference" else None
        assert kind is None or isinstance(first, kind)
    finally:
        await t.disconnect()


async def test_request_results_and_error_strings(serve_factory):
    serve = await serve_factory()
    t = WebSocketRelayTransport(serve.url, "relay", "", identities=[("relay", ""), ("telegram", "t1")])
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay transport not connected"}
    with pytest.raises(RuntimeError, match="handshake\\(\\) called before connect\\(\\)"):
        await t.handshake()
    await t.connect()
    await t.handshake()
    assert await t.send_outbound(SEND) == {"success": True, "message_id": "srv-send"}
    assert await t.send_follow_up({"op": "follow_up", "session_key": "k", "kind": "x", "content": "c",
                                   "metadata": {}}) == {"success": True, "message_id": "srv-follow_up"}
    assert await t.get_chat_info("c9") == {"name": "c9", "type": "group"}
    assert await t.send_outbound(SEND, platform="telegram") == {"success": True, "message_id": "srv-send"}
    await serve.wait_for(lambda _: any(r["platform"] == "telegram" and r["botId"] == "t1"
                                       for r in serve.named("request")))
    assert (await t.send_outbound({"op": "send"}))["error"].startswith("relay send failed: ")
    assert await t.send_outbound({"op": "react", "chat_id": "c", "message_id": "m", "emoji": "x"}) == {
        "success": False, "error": "relay op not supported by connector: react"}
    conn = t._conn

    async def broken(_data):
        raise OSError("boom")

    conn.ws.send = broken
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay send failed: boom", "ambiguous": True}
    await t.disconnect()
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay transport closed"}
    assert await t.get_chat_info("c9") == {"name": "c9", "type": "dm"}


async def test_failed_results_pass_through(serve_factory):
    serve = await serve_factory("--reply", "fail")
    t = await connected(serve.url)
    try:
        assert await t.send_outbound(SEND) == {"success": False, "error": "refused by relay serve", "code": "refused"}
    finally:
        await t.disconnect()


async def test_timeout_and_disconnect_while_waiting(serve_factory):
    serve = await serve_factory("--reply", "silent")
    t = await connected(serve.url, outbound_timeout_s=0.3)
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay outbound timed out", "ambiguous": True}
    await t.disconnect()
    t = await connected(serve.url)
    waiting = asyncio.ensure_future(t.send_outbound(SEND))
    await serve.wait_count("request", 2)
    started = time.monotonic()
    await t.disconnect(budget_s=4.0)
    elapsed = time.monotonic() - started
    assert await waiting == {"success": False, "error": "relay send failed: relay transport closed", "ambiguous": True}
    assert 0.4 <= elapsed < 2.0, elapsed
    await t.disconnect()


async def test_disconnect_budget_zero_settles_at_once(serve_factory):
    serve = await serve_factory("--reply", "silent")
    t = await connected(serve.url)
    waiting = asyncio.ensure_future(t.send_outbound(SEND))
    await serve.wait_count("request", 1)
    started = time.monotonic()
    await t.disconnect(budget_s=-1)
    assert time.monotonic() - started < 1.0
    assert (await waiting)["ambiguous"] is True
    assert await t.go_idle() is False


async def test_drop_with_requests_pending_fails_them_at_once(serve_factory):
    serve = await serve_factory("--reply", "silent")
    t = await connected(serve.url, outbound_timeout_s=30.0)
    waiting = [asyncio.ensure_future(t.send_outbound(SEND)) for _ in range(3)]
    await serve.wait_count("request", 3)
    started = time.monotonic()
    await serve.stop(kill=True)
    results = await asyncio.gather(*waiting)
    assert time.monotonic() - started < 2.0
    assert results == [{"success": False, "error": "relay transport connection lost", "ambiguous": True}] * 3
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay transport not connected"}
    with pytest.raises(RuntimeError, match="relay transport not connected"):
        await t.send_interrupt("k")
    await t.disconnect()


async def test_inbound_event_fields_and_types(serve_factory, types_mode):
    serve = await serve_factory()
    t = WebSocketRelayTransport(serve.url, "relay", "")
    events = []
    t.set_inbound_handler(events.append)
    await t.connect()
    await t.handshake()
    # A push before the gateway's backlog was read (the `live` event) is
    # buffered and would carry a bufferId.
    await serve.wait_count("live", 1)
    frame = inbound("hello", "m1", user_display_name="Ann", scope_id="s1", auto_thread_created=True)
    frame["event"].update(media_urls=["u1"], media=[{"url": "u1", "mime": "image/png"}], message_type="photo")
    serve.push(frame)
    await eventually(lambda: len(events) == 1)
    event = events[0]
    assert (event.text, event.message_id, event.media_types) == ("hello", "m1", ["image/png"])
    source = event.source
    assert (source.chat_id, source.user_name, source.scope_id) == ("42", "Ann", "s1")
    assert source.auto_thread_created is True and source.delivered_via_upstream_relay is True
    if types_mode == "reference":
        from gateway.config import Platform
        from gateway.platforms.event import MessageEvent, MessageType

        assert isinstance(event, MessageEvent) and event.message_type is MessageType.PHOTO
        assert source.platform is Platform.TELEGRAM
    else:
        assert source.platform.value == "telegram" and event.message_type.value == "photo"
    await t.disconnect()


async def test_interrupts_both_ways(serve_factory):
    serve = await serve_factory()
    t = await connected(serve.url)
    seen = []

    async def on_interrupt(session_key, chat_id):
        seen.append((session_key, chat_id))

    t.set_interrupt_inbound_handler(on_interrupt)
    await t.send_interrupt("agent:main:telegram:dm:42", "user pressed stop")
    await t.send_interrupt("agent:main:telegram:dm:42")
    await serve.wait_count("interrupt", 2)
    assert [(e["session_key"], e["reason"]) for e in serve.named("interrupt")] == [
        ("agent:main:telegram:dm:42", "user pressed stop"), ("agent:main:telegram:dm:42", None)]
    # A push before the gateway's backlog was read (the `live` event) is
    # buffered, and an interrupt for it refused.
    await serve.wait_count("live", 1)
    serve.push({"type": "interrupt_inbound", "session_key": "agent:main:telegram:dm:42", "chat_id": "42"})
    await eventually(lambda: seen == [("agent:main:telegram:dm:42", "42")])
    await t.disconnect()


async def test_passthrough_keeps_exact_bytes(serve_factory, types_mode):
    serve = await serve_factory()
    t = await connected(serve.url)
    got = []
    t.set_passthrough_handler(lambda forward, buffer_id: got.append((forward, buffer_id)))
    body = bytes(range(256))
    # A push before the gateway's backlog was read (the `live` event) is
    # buffered and would carry a bufferId.
    await serve.wait_count("live", 1)
    serve.push({"type": "passthrough_forward", "forward": {
        "platform": "discord", "botId": "d1", "method": "POST", "path": "/interactions",
        "headers": [["X-B", "1"], ["x-a", "2"], ["bad"]], "bodyB64": base64.b64encode(body).decode()}})
    await eventually(lambda: len(got) == 1)
    forward, buffer_id = got[0]
    assert (forward.platform, forward.bot_id, forward.method, forward.path) == ("discord", "d1", "POST", "/interactions")
    assert forward.headers == [("X-B", "1"), ("x-a", "2")] and forward.body == body and buffer_id is None
    await t.disconnect()


async def test_idle_buffered_replay_acked_after_the_handler(serve_factory):
    serve = await serve_factory()
    t = await connected(serve.url)
    assert await t.go_idle(timeout_s=5) is True
    for n in range(3):
        serve.push(inbound(f"held {n}", f"m{n}"))
    await serve.wait_for(lambda ev: len([e for e in ev if e.get("delivery") == "buffered"]) == 3)
    await t.disconnect()

    replayed = []
    t2 = WebSocketRelayTransport(serve.url, "relay", "")

    async def handler(event):
        await asyncio.sleep(0.05)
        # Custody is confirmed only once this returns: no ack may have gone yet.
        replayed.append((event.text, len(serve.named("inbound_ack"))))

    t2.set_inbound_handler(handler)
    await t2.connect()
    await serve.wait_count("inbound_ack", 3)
    assert replayed == [("held 0", 0), ("held 1", 1), ("held 2", 2)]
    await t2.disconnect()


async def test_no_handler_drops_unacknowledged(serve_factory):
    serve = await serve_factory()
    t = await connected(serve.url)
    await t.go_idle()
    serve.push(inbound("held", "m1"))
    await serve.wait_for(lambda ev: any(e.get("delivery") == "buffered" for e in ev))
    await t.disconnect()
    t2 = await connected(serve.url)
    await asyncio.sleep(0.3)
    assert serve.named("inbound_ack") == []
    await t2.disconnect()


async def test_raising_handler_and_handler_awaiting_a_request_keep_the_link(serve_factory):
    serve = await serve_factory()
    t = await connected(serve.url)
    answers = []

    async def handler(event):
        if event.text == "boom":
            raise ValueError("handler bug")
        # Awaits a result the reader must still be free to read.
        answers.append(await t.send_outbound(SEND))

    t.set_inbound_handler(handler)
    await serve.wait_count("live", 1)
    serve.push(inbound("boom", "m1"))
    serve.push(inbound("fine", "m2"))
    await eventually(lambda: answers == [{"success": True, "message_id": "srv-send"}])
    assert await t.send_outbound(SEND) == {"success": True, "message_id": "srv-send"}
    await t.disconnect()


async def test_reconnect_on_the_ladder_and_requests_in_the_gap(serve_factory):
    port = __import__("conftest").free_port()
    serve = await serve_factory(port=port)
    t = await connected(serve.url, reconnect=True, reconnect_backoff_s=0.05, reconnect_max_backoff_s=0.2)
    await serve.stop()
    await eventually(lambda: t._conn is None or t._conn.is_ended)
    assert await t.send_outbound(SEND) == {"success": False, "error": "relay transport not connected"}
    await eventually(lambda: t._policy.attempt() >= 2)
    serve = await serve_factory(port=port)
    await serve.wait_count("hello", 1)
    await eventually(lambda: t._descriptor is not None)
    assert (await t.handshake()).platform == "relay"
    assert await t.send_outbound(SEND) == {"success": True, "message_id": "srv-send"}
    await t.disconnect()


async def test_4401_before_a_handshake_retries_after_one_revokes(serve_factory):
    port = __import__("conftest").free_port()
    serve = await serve_factory("--secret", "s1", port=port)
    early = WebSocketRelayTransport(serve.url, "relay", "", gateway_id="gw", upgrade_secret="wrong",
                                    reconnect=True, reconnect_backoff_s=0.05, reconnect_max_backoff_s=0.1)
    with contextlib.suppress(ConnectionError):  # the 4401 may beat the hellos
        await early.connect()
    await serve.wait_count("rejected", 3)
    assert early.auth_revoked is False
    await early.disconnect()

    t = await connected(serve.url, gateway_id="gw", upgrade_secret="s1", reconnect=True,
                        reconnect_backoff_s=0.05, reconnect_max_backoff_s=0.1)
    await serve.stop()
    serve = await serve_factory("--secret", "rotated-away", port=port)
    await eventually(lambda: t.auth_revoked)
    assert len(serve.named("rejected")) == 2, "the first strike earns exactly one fresh-token re-dial"
    await asyncio.sleep(0.3)
    assert len(serve.named("rejected")) == 2, "revoked: no more dials"
    await t.disconnect()


async def test_go_dormant_redials_on_the_dormant_cadence(serve_factory):
    serve = await serve_factory()
    t = WebSocketRelayTransport(serve.url, "relay", "", reconnect=True)
    t._dormant_redial_s = 0.1
    got = []
    t.set_inbound_handler(lambda event: got.append(event.text))
    await t.connect()
    await t.handshake()
    assert await t.go_dormant(timeout_s=5) is True
    assert t._dormant is True
    serve.push(inbound("while asleep", "m1"))
    await serve.wait_count("connected", 2)
    await eventually(lambda: got == ["while asleep"])
    await serve.wait_count("inbound_ack", 1)
    assert t._dormant is False
    await t.disconnect()


async def test_hold_redial_until_released(serve_factory):
    serve = await serve_factory()
    t = WebSocketRelayTransport(serve.url, "relay", "", reconnect=True)
    t._dormant_redial_s = 0.05
    await t.connect()
    await t.handshake()
    t.hold_redial()
    assert await t.go_dormant() is True
    await asyncio.sleep(0.4)
    assert len(serve.named("connected")) == 1, "held"
    t.release_redial()
    # On a loaded machine the first re-dial after the release may fail (the
    # dormant cadence then retries); allow for a retry behind an open timeout.
    await serve.wait_count("connected", 2, timeout=30.0)
    await t.disconnect()


async def test_connect_failure_raises_and_disconnect_is_terminal(serve_factory):
    port = __import__("conftest").free_port()
    t = WebSocketRelayTransport(f"ws://127.0.0.1:{port}", "relay", "")
    with pytest.raises(OSError):
        await t.connect()
    await t.disconnect()
    await t.disconnect()
    with pytest.raises(ConnectionError):
        await t.connect()


async def test_install_replaces_the_reference_name(types_mode):
    if types_mode == "reference":
        assert install() is True
        from gateway.relay.ws_transport import WebSocketRelayTransport as resolved

        assert resolved is WebSocketRelayTransport
    else:
        assert install() is False
