"""The sans-IO binding from Python: actions, timeouts, chunking invariance."""

from __future__ import annotations

import json
from typing import List

import pytest

from relay_transport import RelayMachine, RequestRefused

DESCRIPTOR = {
    "contract_version": 1, "platform": "telegram", "label": "Telegram", "max_message_length": 0,
    "supports_draft_streaming": False, "supports_edit": True, "supports_threads": False,
    "markdown_dialect": "plain", "len_unit": "chars",
}


def line(frame: dict) -> bytes:
    return (json.dumps(frame) + "\n").encode()


def ready_machine(**config) -> RelayMachine:
    m = RelayMachine(0.0, seed=7, identities=[("telegram", "t1")], **config)
    m.poll_actions()
    m.handle_input(0.0, line({"type": "descriptor", "descriptor": DESCRIPTOR}))
    assert m.poll_action()[0] == "ready"
    return m


def test_hellos_first_then_ready_with_interpreted_descriptor():
    m = RelayMachine(0.0, seed=1, identities=[("discord", "d1"), ("telegram", "t1")],
                     command_manifest=[{"name": "help"}])
    hellos = [json.loads(a[1]) for a in m.poll_actions()]
    assert hellos == [
        {"type": "hello", "platform": "discord", "botId": "d1", "command_manifest": [{"name": "help"}]},
        {"type": "hello", "platform": "telegram", "botId": "t1"},
    ]
    m.handle_input(0.1, line({"type": "descriptor", "descriptor": DESCRIPTOR}))
    tag, platform, bot_id, descriptor = m.poll_action()
    assert (tag, platform, bot_id) == ("ready", "discord", "d1")
    assert descriptor["max_message_length"] == 4096 and descriptor["emoji"] == "\U0001f50c"
    assert m.is_ready() and m.poll_action() is None


def test_request_resolves_with_the_result_dict():
    m = ready_machine()
    rid = m.request(1.0, {"op": "send", "chat_id": "c1", "content": "hi"})
    tag, sent = m.poll_action()
    frame = json.loads(sent)
    assert tag == "send" and frame["requestId"] == rid and len(rid) == 32
    assert frame["action"] == {"op": "send", "chat_id": "c1", "content": "hi", "reply_to": None, "metadata": {}}
    result = {"success": True, "message_id": "m1", "thread_id": "t9"}
    m.handle_input(1.5, line({"type": "outbound_result", "requestId": rid, "result": result}))
    assert m.poll_actions() == [("resolve", rid, result)]


def test_request_times_out_ambiguously_at_its_deadline():
    m = ready_machine(request_timeout_s=2.0)
    rid = m.request(10.0, {"op": "typing", "chat_id": "c1"})
    m.poll_actions()
    assert m.poll_timeout() == pytest.approx(12.0)
    m.handle_timeout(11.9)
    assert m.poll_actions() == []
    m.handle_timeout(12.0)
    assert m.poll_actions() == [
        ("fail", rid, {"success": False, "error": "relay outbound timed out", "ambiguous": True})
    ]


def test_transport_closed_fails_pending_then_closes_once():
    m = ready_machine()
    rid = m.request(1.0, {"op": "send", "chat_id": "c1", "content": "x"})
    m.poll_actions()
    m.handle_transport_closed(2.0, 4401, "unauthorized")
    assert m.poll_actions() == [
        ("fail", rid, {"success": False, "error": "relay transport connection lost", "ambiguous": True}),
        ("closed", "transport_closed", "relay transport connection lost (close code 4401: unauthorized)",
         None, None),
    ]
    assert m.is_closed() and m.poll_timeout() is None
    with pytest.raises(RequestRefused) as refused:
        m.request(3.0, {"op": "send", "chat_id": "c1", "content": "x"})
    assert refused.value.args == ("relay transport not connected", False)


def test_local_close_names_the_close_frame_and_reads_as_the_reference():
    m = ready_machine()
    rid = m.request(1.0, {"op": "send", "chat_id": "c1", "content": "x"})
    m.poll_actions()
    m.close(1.0)
    assert m.poll_actions() == [
        ("fail", rid, {"success": False, "error": "relay send failed: relay transport closed", "ambiguous": True}),
        ("closed", "local", "relay transport closed", 1000, ""),
    ]


def test_op_outside_the_descriptor_is_refused_definitely():
    m = ready_machine()
    with pytest.raises(RequestRefused) as refused:
        m.request(1.0, {"op": "react", "chat_id": "c1", "message_id": "m", "emoji": "x"})
    assert refused.value.args == ("relay op not supported by connector: react", False)


def test_bad_action_is_a_value_error():
    m = ready_machine()
    with pytest.raises(ValueError):
        m.request(1.0, {"op": "send"})
    with pytest.raises(TypeError):
        m.request(1.0, {"op": "send", "chat_id": "c", "content": object()})


def test_inbound_event_kwargs_follow_the_reference():
    m = ready_machine()
    event = {
        "text": "hello", "message_type": "bogus", "message_id": "m1",
        "source": {"platform": "Unknown", "chat_id": "c1", "chat_type": "group", "user_id": "u1",
                   "user_display_name": "Ann", "user_name": "ann", "guild_id": "g1"},
        "media_urls": ["u2", "u1"], "media": [{"url": "u1", "mime": "image/png"}],
        "reply_to": {"text": "earlier", "author": "Bob", "is_own": True},
        "context": [{"text": "one", "source": {"user_id": "x"}}, {"text": ""}, {"text": "two"}],
        "prompt_response": {"prompt_id": "p", "option_id": "o"},
    }
    m.handle_input(1.0, line({"type": "inbound", "event": event, "bufferId": "b7"}))
    tag, kwargs, buffer_id = m.poll_action()
    assert (tag, buffer_id) == ("inbound", "b7")
    assert kwargs["message_type"] == "text" and kwargs["media_types"] == ["", "image/png"]
    assert kwargs["reply_to_text"] == "earlier" and kwargs["reply_to_is_own_message"] is True
    assert kwargs["channel_context"] == "[Recent channel messages]\nx: one\ntwo"
    assert kwargs["prompt_response"] == {"prompt_id": "p", "option_id": "o"}
    source = kwargs["source"]
    assert (source["platform"], source["user_name"], source["scope_id"]) == ("relay", "Ann", "g1")


def test_bad_lines_are_diagnostics_and_the_machine_goes_on():
    m = ready_machine()
    m.handle_input(1.0, b"not json\n[1]\n{\"type\": 5}\n{\"type\": \"nope\"}\n\n")
    kinds = [a[1] for a in m.poll_actions()]
    assert kinds == ["invalid_json", "not_an_object", "missing_type", "unknown_type"]
    assert m.is_ready()


def test_idle_interrupt_and_ack_frames():
    m = ready_machine()
    m.go_idle(1.0)
    m.interrupt(1.0, "agent:main:telegram:dm:1", None)
    m.ack(1.0, "b1")
    frames = [json.loads(a[1]) for a in m.poll_actions()]
    assert frames == [
        {"type": "going_idle"},
        {"type": "interrupt", "session_key": "agent:main:telegram:dm:1", "reason": None},
        {"type": "inbound_ack", "bufferId": "b1"},
    ]
    m.handle_input(1.1, line({"type": "going_idle_ack"}))
    assert m.poll_actions() == [("idle_acknowledged",)]


def test_actions_do_not_depend_on_chunking():
    stream = b"".join([
        line({"type": "interrupt_inbound", "session_key": "k", "chat_id": "c"}),
        b"garbage\r\n",
        line({"type": "inbound", "event": {"text": "\U0001f389 caf\u00e9", "source": {"platform": "slack"}}}),
        line({"type": "passthrough_forward", "forward": {"method": "POST", "bodyB64": "AAEC/w=="}}),
    ])

    def run(chunks: List[bytes]) -> list:
        machine = ready_machine()
        request_id = machine.request(0.5, {"op": "send", "chat_id": "c", "content": "x"})
        machine.poll_actions()
        result = line({"type": "outbound_result", "requestId": request_id, "result": {"success": True}})
        out = []
        for chunk in chunks + [result]:
            machine.handle_input(1.0, chunk)
            out.extend(machine.poll_actions())
        return [a[:1] + a[2:] if a[0] == "resolve" else a for a in out]

    whole = run([stream])
    assert run([stream[i:i + 1] for i in range(len(stream))]) == whole
    assert run([stream[i:i + 7] for i in range(0, len(stream), 7)]) == whole
    assert [a[0] for a in whole] == ["interrupt", "diagnostic", "inbound", "passthrough", "resolve"]
    assert whole[3][1]["body"] == b"\x00\x01\x02\xff"


def test_text_input_is_accepted_like_bytes():
    m = ready_machine()
    m.handle_input(1.0, '{"type":"interrupt_inbound","session_key":"k","chat_id":"c"}\n')
    assert m.poll_actions() == [("interrupt", "k", "c")]


def test_handshake_timeout_closes_with_a_close_frame():
    m = RelayMachine(0.0, seed=3, handshake_timeout_s=5.0)
    m.poll_actions()
    m.handle_timeout(5.0)
    assert m.poll_actions() == [("closed", "handshake_timed_out", "relay handshake timed out", 1002,
                                 "handshake timed out")]
