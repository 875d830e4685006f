"""Type stubs of the binding ``relay_transport._core`` (Rust, PyO3).

Time is float seconds on one monotonic clock (``loop.time()``); every method
that takes ``now`` clamps time that goes backwards.

Actions (``RelayMachine.poll_action``), tuples tagged by their first item:

- ``("send", line)``: write ``line`` as one WebSocket text message
- ``("ping",)``: send a WebSocket ping; call ``handle_keepalive`` on its pong
- ``("ready", platform, bot_id, descriptor)``: the first descriptor (a dict)
- ``("descriptor", platform, bot_id, descriptor)``: a later identity's descriptor
- ``("inbound", event_kwargs, buffer_id)``: keyword arguments of the reference's
  ``MessageEvent`` (``source`` holds those of its ``SessionSource``, platform
  and message type as wire names); ``buffer_id`` is a str or None
- ``("passthrough", forward_kwargs, buffer_id)``: keyword arguments of ``PassthroughForward``
- ``("interrupt", session_key, chat_id)``
- ``("idle_acknowledged",)``, ``("idle_timed_out",)``
- ``("diagnostic", kind, line, detail)``: a skipped line; the connection stays up
- ``("resolve", request_id, result)``: the connector's result dict
- ``("fail", request_id, failure)``: ``{"success": False, "error": text}``,
  plus ``"ambiguous": True`` when the frame had left
- ``("closed", name, message, close_code, close_reason)``: always last; close the
  socket with ``close_code``/``close_reason`` when they are not None
"""

from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

DEFAULT_MAX_LINE: int

Action = Tuple[Any, ...]
DialDecision = Union[
    Tuple[Literal["dial"]],
    Tuple[Literal["wait"], float],
    Tuple[Literal["in_flight"]],
    Tuple[Literal["connected"]],
    Tuple[Literal["stop"], Literal["budget_exhausted", "revoked", "disabled"], str],
]

class RequestRefused(Exception):
    """A command the machine could not take; ``args == (text, ambiguous)``."""

class TokenRejected(Exception):
    """A refused upgrade token; ``args[0]`` is ``"expired"`` or ``"unauthorized"``."""

class RelayMachine:
    """One gateway-side connection, from the socket opening until ``closed``."""

    def __init__(
        self,
        now: float,
        *,
        seed: int,
        identities: Optional[Sequence[Tuple[str, str]]] = None,
        command_manifest: Optional[List[Any]] = None,
        handshake_timeout_s: float = 30.0,
        request_timeout_s: float = 30.0,
        max_pending: int = 10000,
        max_held_frames: int = 1024,
        max_line: int = ...,
        ping_interval_s: float = 30.0,
        dead_link_timeout_s: float = 60.0,
        going_idle_timeout_s: float = 2.0,
    ) -> None: ...
    def is_ready(self) -> bool: ...
    def is_closed(self) -> bool: ...
    def pending_requests(self) -> int: ...
    def descriptor(self) -> Optional[Dict[str, Any]]: ...
    def handle_input(self, now: float, data: Union[bytes, str]) -> None: ...
    def handle_keepalive(self, now: float) -> None: ...
    def handle_timeout(self, now: float) -> None: ...
    def handle_transport_closed(self, now: float, code: Optional[int] = None, reason: str = "") -> None: ...
    def handle_write_failed(self, now: float, detail: str) -> None: ...
    def request(
        self, now: float, action: Mapping[str, Any], platform: Optional[str] = None, bot_id: Optional[str] = None
    ) -> str: ...
    def interrupt(self, now: float, session_key: str, reason: Optional[str] = None) -> None: ...
    def ack(self, now: float, buffer_id: str) -> None: ...
    def go_idle(self, now: float) -> None: ...
    def shutdown(self, now: float, deadline: float, go_idle: bool = False) -> None: ...
    def close(self, now: float) -> None: ...
    def poll_action(self) -> Optional[Action]: ...
    def poll_actions(self) -> List[Action]: ...
    def poll_timeout(self) -> Optional[float]: ...

class ReconnectPolicy:
    """When to dial next and when to give up, across one gateway's machines."""

    def __init__(
        self,
        now: float,
        *,
        seed: int,
        enabled: bool = True,
        connect_budget_s: float = 30.0,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        stability_window_s: float = 30.0,
        max_redial_hold_s: float = 60.0,
        dormant_interval_s: float = 1.0,
    ) -> None: ...
    def poll_dial(self, now: float) -> DialDecision: ...
    def handle_dial_failed(self, now: float, detail: str, timed_out: bool = False) -> None: ...
    def handle_ready(self, now: float) -> None: ...
    def handle_closed(self, now: float, machine: RelayMachine) -> None: ...
    def hold_redial(self, now: float) -> None: ...
    def release_redial(self, now: float) -> None: ...
    def handle_went_idle(self, now: float) -> None: ...
    def attempt(self) -> int: ...
    def is_dormant(self) -> bool: ...
    def is_stopped(self) -> bool: ...

class InboundDedupe:
    """The last ``capacity`` keys ``<platform>:<chat_id>:<message_id>``."""

    def __init__(self, capacity: int = 512) -> None: ...
    def is_duplicate(
        self, platform: str, chat_id: str, message_id: Optional[str], source_message_id: Optional[str] = None
    ) -> bool: ...
    @staticmethod
    def key(
        platform: str, chat_id: str, message_id: Optional[str], source_message_id: Optional[str] = None
    ) -> Optional[str]: ...
    @property
    def capacity(self) -> int: ...
    def __len__(self) -> int: ...

def session_key(
    source: Mapping[str, Any],
    *,
    group_sessions_per_user: bool = True,
    thread_sessions_per_user: bool = False,
    profile: Optional[str] = None,
) -> str: ...
def normalize_url(url: str) -> str: ...
def mint_token(gateway_id: str, exp: int, secret: str) -> str: ...
def verify_token(
    token: str, secrets: Sequence[str], now_unix: int, *, max_lifetime_s: Optional[int] = None
) -> Tuple[str, int]: ...
def chat_info(result: Mapping[str, Any], chat_id: str) -> Dict[str, str]: ...
