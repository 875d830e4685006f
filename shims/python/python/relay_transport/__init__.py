"""The relay core under an asyncio shim.

``WebSocketRelayTransport`` is a drop-in for the reference gateway's
``gateway.relay.ws_transport.WebSocketRelayTransport``; :func:`install` makes
that name resolve to it. The sans-IO binding (``RelayMachine``,
``ReconnectPolicy``) and the core's pure helpers are exported too.
"""

from __future__ import annotations

import importlib

from ._build import PassthroughForward
from ._core import (
    InboundDedupe,
    ReconnectPolicy,
    RelayMachine,
    RequestRefused,
    TokenRejected,
    chat_info,
    mint_token,
    normalize_url,
    session_key,
    verify_token,
)
from .transport import REDIAL_HOLD_MAX_S, WEBSOCKETS_AVAILABLE, WebSocketRelayTransport, _env_disconnect_budget_s

__all__ = [
    "REDIAL_HOLD_MAX_S",
    "WEBSOCKETS_AVAILABLE",
    "InboundDedupe",
    "PassthroughForward",
    "ReconnectPolicy",
    "RelayMachine",
    "RequestRefused",
    "TokenRejected",
    "WebSocketRelayTransport",
    "_env_disconnect_budget_s",
    "chat_info",
    "install",
    "mint_token",
    "normalize_url",
    "session_key",
    "verify_token",
]


def install() -> bool:
    """Points ``gateway.relay.ws_transport.WebSocketRelayTransport`` at this package's class.

    Returns True when that module was importable and now resolves to ours;
    False (and nothing changed) when it is not importable.
    """
    try:
        module = importlib.import_module("gateway.relay.ws_transport")
    except ImportError:
        return False
    module.WebSocketRelayTransport = WebSocketRelayTransport  # type: ignore[attr-defined]
    return True
