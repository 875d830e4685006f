"""The pure helpers: session keys, URLs, tokens, dedupe, chat info, the reconnect policy."""

from __future__ import annotations

import pytest

from relay_transport import (
    InboundDedupe, ReconnectPolicy, RelayMachine, TokenRejected, _env_disconnect_budget_s, chat_info,
    mint_token, normalize_url, session_key, verify_token,
)


@pytest.mark.parametrize("source, options, key", [
    ({"platform": "telegram", "chat_type": "dm", "chat_id": "111", "user_id": "111"}, {},
     "agent:main:telegram:dm:111"),
    ({"platform": "telegram", "chat_type": "group", "chat_id": "-100", "user_id": "u1"},
     {"group_sessions_per_user": False}, "agent:main:telegram:group:-100"),
    ({"platform": "telegram", "chat_type": "forum", "chat_id": "-100", "thread_id": "42", "user_id": "u1"},
     {"thread_sessions_per_user": True}, "agent:main:telegram:forum:-100:42:u1"),
    ({"platform": "slack", "chat_type": "group", "scope_id": "T1", "chat_id": "C1", "user_id": "U1"}, {},
     "agent:main:slack:group:T1:C1:U1"),
    ({"platform": "discord", "chat_type": "group", "chat_id": "chan1", "user_id": "userX"},
     {"profile": "reviewer"}, "agent:reviewer:discord:group:chan1:userX"),
])
def test_session_key_vectors(source, options, key):
    assert session_key(source, **options) == key


def test_normalize_url():
    assert normalize_url("https://connector.example.com") == "wss://connector.example.com/relay"
    assert normalize_url("http://localhost:8080/api/") == "ws://localhost:8080/api/relay"
    assert normalize_url("wss://x/relay") == "wss://x/relay"
    with pytest.raises(ValueError):
        normalize_url("ftp://x")


def test_token_vectors_and_verification():
    token = mint_token("gw-test", 1700000300, "s3cret")
    assert token == ("Z3ctdGVzdDoxNzAwMDAwMzAwOmZkMGI1YmUzYTMxMDNhNDU0YWEwMDkyYmM3NjU4OWZmZjAwY2ZjYWQ3Yj"
                     "FiMmI4Njk4ZTVkMjgyZTc2YThiOTc")
    assert verify_token(f"Bearer {token}", ["old", "s3cret"], 1700000000) == ("gw-test", 1700000300)
    with pytest.raises(TokenRejected, match="expired"):
        verify_token(token, ["s3cret"], 1700000301)
    with pytest.raises(TokenRejected, match="unauthorized"):
        verify_token(token, ["other"], 1700000000)
    with pytest.raises(ValueError):
        mint_token("gw", 0, "  ")


def test_dedupe_window():
    dedupe = InboundDedupe(capacity=2)
    assert InboundDedupe.key("telegram", "42", "7") == "telegram:42:7"
    assert not dedupe.is_duplicate("telegram", "42", "7")
    assert dedupe.is_duplicate("telegram", "42", "7")
    assert not dedupe.is_duplicate("telegram", "42", None), "no message id: never a duplicate"
    assert not dedupe.is_duplicate("discord", "c", None, "m9")
    assert not dedupe.is_duplicate("discord", "c", "m10")
    assert not dedupe.is_duplicate("telegram", "42", "7"), "evicted from a window of 2"
    assert len(dedupe) == 2 and dedupe.capacity == 2


def test_chat_info_falls_back_per_field():
    assert chat_info({"success": True, "chat_info": {"name": "General"}}, "c1") == {"name": "General", "type": "dm"}
    assert chat_info({"success": False, "error": "x"}, "c1") == {"name": "c1", "type": "dm"}


def test_reconnect_policy_ladder_and_strikes():
    policy = ReconnectPolicy(0.0, seed=7)
    assert policy.poll_dial(0.0) == ("dial",)
    assert policy.poll_dial(0.0) == ("in_flight",)
    policy.handle_dial_failed(0.0, "connection refused")
    tag, at = policy.poll_dial(0.0)
    assert tag == "wait" and 0.5 <= at <= 1.0
    assert policy.poll_dial(at) == ("dial",)
    policy.handle_ready(at)
    for expected in [("dial",), ("stop", "revoked")]:
        machine = RelayMachine(at, seed=1)
        machine.handle_transport_closed(at, 4401, "unauthorized")
        machine.poll_actions()
        policy.handle_closed(at, machine)
        assert policy.poll_dial(at)[:2] == expected
    assert policy.is_stopped()


def test_env_disconnect_budget(monkeypatch):
    for raw, budget in [("", 5.0), ("  ", 5.0), ("abc", 5.0), ("-3", 0.0), ("2.5", 2.5)]:
        monkeypatch.setenv("HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT", raw)
        assert _env_disconnect_budget_s() == budget
    monkeypatch.delenv("HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT")
    assert _env_disconnect_budget_s() == 5.0
