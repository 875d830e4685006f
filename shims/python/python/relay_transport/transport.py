"""``WebSocketRelayTransport``: the reference gateway's transport surface over the core.

The protocol (handshake, requests and their failures, keepalive, idle,
acknowledgements) is the core machine's, one per socket; when to re-dial is
the core reconnect policy's. This class keeps the reference's coroutines,
callbacks, result dicts and private names, and moves bytes, timers and
callbacks between them and asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import secrets
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ._build import Builders
from ._core import DEFAULT_MAX_LINE, ReconnectPolicy, RequestRefused, chat_info, mint_token, normalize_url

try:
    import websockets
    from websockets.asyncio.client import connect as _ws_connect
except ImportError:  # pragma: no cover - exercised only without the dependency
    websockets = None  # type: ignore[assignment]

from ._connection import Connection, _bounded

WEBSOCKETS_AVAILABLE = websockets is not None

logger = logging.getLogger("gateway.relay.ws_transport")

REDIAL_HOLD_MAX_S = 60.0
_TOKEN_TTL_S = 300
_OPEN_TIMEOUT_S = 10.0
_DRAIN_GRACE_MAX_S = 5.0
# Disconnect reserves the three teardown steps (≤ 1 s each) and a margin.
_TEARDOWN_RESERVED_S = 3.5
# How long the machine waits for going_idle_ack: go_idle's default timeout.
_GOING_IDLE_WAIT_S = 10.0
# The reference re-dials until it succeeds: a first-connect budget that never runs out.
_FOREVER_S = 1e9

_CLOSED = {"success": False, "error": "relay transport closed"}
_NOT_CONNECTED = {"success": False, "error": "relay transport not connected"}


def _env_disconnect_budget_s() -> float:
    """The adapter's disconnect budget: env ``HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT``, default 5 s."""
    budget = 5.0
    raw = os.getenv("HERMES_GATEWAY_ADAPTER_DISCONNECT_TIMEOUT", "").strip()
    if raw:
        with contextlib.suppress(ValueError):
            budget = max(0.0, float(raw))
    return budget


def _dial_url(url: str) -> str:
    try:
        return normalize_url(url)
    except ValueError:
        # Kept as given: the dial reports it, as the reference's would.
        return (url or "").strip()


class WebSocketRelayTransport:
    """The gateway's link to a connector: a drop-in for the reference transport."""

    def __init__(
        self,
        url: str,
        platform: str,
        bot_id: str,
        *,
        identities: Optional[List[Tuple[str, str]]] = None,
        connect_timeout_s: float = 30.0,
        outbound_timeout_s: float = 30.0,
        gateway_id: Optional[str] = None,
        upgrade_secret: Optional[str] = None,
        reconnect: bool = False,
        reconnect_backoff_s: float = 1.0,
        reconnect_max_backoff_s: float = 30.0,
    ) -> None:
        if not WEBSOCKETS_AVAILABLE:
            raise RuntimeError(
                "WebSocketRelayTransport requires the 'websockets' package "
                "(a hermes-agent core dependency)."
            )
        self._url = _dial_url(url)
        self._platform = platform
        self._bot_id = bot_id
        self._identities: List[Tuple[str, str]] = list(identities) if identities else [(platform, bot_id)]
        self._connect_timeout_s = connect_timeout_s
        self._outbound_timeout_s = outbound_timeout_s
        self._gateway_id = gateway_id
        self._upgrade_secret = upgrade_secret
        self._reconnect = reconnect
        self._reconnect_backoff_s = reconnect_backoff_s
        self._reconnect_max_backoff_s = reconnect_max_backoff_s
        # Read when connect() builds the reconnect policy.
        self._dormant_redial_s = 1.0
        self._redial_hold_max_s = REDIAL_HOLD_MAX_S
        self._dormant = False
        self._closing = False
        self._auth_revoked = False
        self._inbound: Optional[Callable[..., Any]] = None
        self._interrupt_inbound_handler: Optional[Callable[..., Any]] = None
        self._passthrough_handler: Optional[Callable[..., Any]] = None
        self._descriptor: Any = None
        self._descriptors_by_platform: Dict[str, Any] = {}
        self._descriptor_ready: Optional["asyncio.Future[Any]"] = None
        self._conn: Optional[Connection] = None
        self._policy: Optional[ReconnectPolicy] = None
        self._supervisor: Optional["asyncio.Task[None]"] = None
        self._redial_wake: Optional[asyncio.Event] = None
        self._idle_waiters: List["asyncio.Future[bool]"] = []
        self._deliveries: Deque[Tuple[Connection, tuple]] = deque()
        self._delivery_wake: Optional[asyncio.Event] = None
        self._dispatcher: Optional["asyncio.Task[None]"] = None
        self._types = Builders()

    # ---- lifecycle ----

    async def connect(self) -> bool:
        """Dials once, starts reading and sends one hello per identity; raises when that fails."""
        if self._closing:
            raise ConnectionError("relay transport closed")
        loop = asyncio.get_running_loop()
        await self._stop_connection()
        self._redial_wake = asyncio.Event()
        self._policy = ReconnectPolicy(
            loop.time(),
            seed=secrets.randbits(64),
            enabled=self._reconnect,
            connect_budget_s=_FOREVER_S,
            base_delay_s=self._reconnect_backoff_s,
            max_delay_s=self._reconnect_max_backoff_s,
            max_redial_hold_s=self._redial_hold_max_s,
            dormant_interval_s=self._dormant_redial_s,
        )
        self._policy.poll_dial(loop.time())
        self._start_dispatcher()
        try:
            conn = await self._dial()
        except BaseException:
            self._policy = None
            raise
        if self._reconnect:
            self._supervisor = loop.create_task(self._supervise(conn), name="relay-ws-reconnect")
        if conn.is_ended:
            raise ConnectionError("relay ws closed during hello")
        return True

    async def _dial(self) -> Connection:
        """Opens a socket and its machine, and waits until the hellos are written."""
        headers = self._upgrade_headers()
        ws = await _ws_connect(
            self._url,
            additional_headers=headers or None,
            open_timeout=_OPEN_TIMEOUT_S,
            # Keepalive is the machine's (ping every 30 s, dead after 60 s of silence).
            ping_interval=None,
            ping_timeout=None,
            max_size=DEFAULT_MAX_LINE,
            compression=None,
        )
        self._descriptor = None
        self._descriptors_by_platform = {}
        if self._descriptor_ready is None or self._descriptor_ready.done():
            self._descriptor_ready = asyncio.get_running_loop().create_future()
        self._dormant = False
        self._conn = conn = Connection.open(
            self,
            ws,
            identities=self._identities,
            command_manifest=self._command_manifest(),
            request_timeout_s=self._outbound_timeout_s,
            going_idle_timeout_s=_GOING_IDLE_WAIT_S,
        )
        with contextlib.suppress(Exception):
            await conn.flushed()
        return conn

    def _upgrade_headers(self) -> Dict[str, str]:
        if not (self._gateway_id and self._upgrade_secret and self._upgrade_secret.strip()):
            return {}
        token = mint_token(self._gateway_id, int(time.time()) + _TOKEN_TTL_S, self._upgrade_secret)
        return {"Authorization": f"Bearer {token}"}

    def _command_manifest(self) -> Optional[list]:
        if not any(platform == "discord" for platform, _ in self._identities):
            return None
        try:
            from gateway.relay.command_manifest import build_relay_command_manifest

            return list(build_relay_command_manifest())
        except Exception:  # noqa: BLE001 - enrichment only; the hello goes without it
            logger.debug("relay command manifest build failed", exc_info=True)
            return None

    async def _supervise(self, conn: Connection) -> None:
        """Re-dials after each unexpected end, as the reconnect policy says, until it stops."""
        policy = self._policy
        loop = asyncio.get_running_loop()
        while policy is not None and not self._closing:
            await asyncio.shield(conn.ended)
            if self._closing:
                return
            policy.handle_closed(loop.time(), conn.machine)
            while True:
                decision = policy.poll_dial(loop.time())
                if decision[0] == "stop":
                    self._auth_revoked = decision[1] == "revoked"
                    logger.warning("relay ws not reconnecting: %s", decision[2])
                    return
                if decision[0] == "wait":
                    await self._sleep_until(decision[1])
                    if self._closing:
                        return
                    continue
                try:
                    conn = await self._dial()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the policy schedules the next dial
                    logger.warning("relay ws reconnect failed: %s", exc)
                    timed_out = isinstance(exc, (TimeoutError, asyncio.TimeoutError))
                    policy.handle_dial_failed(loop.time(), str(exc), timed_out=timed_out)

    async def _sleep_until(self, at: float) -> None:
        wake = self._redial_wake
        delay = at - asyncio.get_running_loop().time()
        if wake is None or delay <= 0:
            return
        wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)

    async def disconnect(self, *, budget_s: Optional[float] = None) -> None:
        """Terminal close: in-flight requests get a bounded grace, then everything stops."""
        self._closing = True
        try:
            budget = _env_disconnect_budget_s() if budget_s is None else max(0.0, budget_s)
            grace = max(0.0, min(_DRAIN_GRACE_MAX_S, budget - _TEARDOWN_RESERVED_S))
            conn = self._conn
            if conn is not None and not conn.is_ended:
                now = conn.now()
                with contextlib.suppress(RequestRefused):
                    conn.machine.shutdown(now, now + grace)
                    conn.drain()
                if conn.pending:
                    with contextlib.suppress(Exception):
                        await asyncio.wait(list(conn.pending.values()), timeout=grace)
            for task in (self._supervisor, self._dispatcher):
                if task is not None and not task.done():
                    task.cancel()
                    await _bounded(task)
            self._supervisor = self._dispatcher = None
            await self._stop_connection()
        finally:
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(False)

    async def _stop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not conn.is_ended:
            with contextlib.suppress(RequestRefused):
                conn.machine.close(conn.now())
                conn.drain()
        await conn.stop()

    async def handshake(self) -> Any:
        """The first descriptor of the current connection, waiting for it up to ``connect_timeout_s``."""
        if self._descriptor is not None:
            return self._descriptor
        if self._descriptor_ready is None:
            raise RuntimeError("handshake() called before connect()")
        return await asyncio.wait_for(asyncio.shield(self._descriptor_ready), self._connect_timeout_s)

    def descriptor_for_platform(self, platform: str) -> Any:
        """The latest descriptor whose platform is ``platform``, or None."""
        return self._descriptors_by_platform.get(platform)

    @property
    def auth_revoked(self) -> bool:
        """True once a 4401 hit the fresh token of the re-dial after a first one: terminal."""
        return self._auth_revoked

    def set_inbound_handler(self, handler: Callable[..., Any]) -> None:
        self._inbound = handler

    def set_interrupt_inbound_handler(self, handler: Callable[..., Any]) -> None:
        self._interrupt_inbound_handler = handler

    def set_passthrough_handler(self, handler: Callable[..., Any]) -> None:
        self._passthrough_handler = handler

    # ---- outbound ----

    async def send_outbound(self, action: Dict[str, Any], *, platform: Optional[str] = None) -> Dict[str, Any]:
        return await self._request(action, platform)

    async def send_follow_up(self, action: Dict[str, Any], *, platform: Optional[str] = None) -> Dict[str, Any]:
        return await self._request(action, platform)

    async def get_chat_info(self, chat_id: str) -> Dict[str, Any]:
        result = await self._request({"op": "get_chat_info", "chat_id": chat_id}, None)
        return chat_info(result, chat_id)

    async def _request(self, action: Dict[str, Any], platform: Optional[str]) -> Dict[str, Any]:
        if self._closing:
            return dict(_CLOSED)
        conn = self._conn
        if conn is None or conn.is_ended:
            return dict(_NOT_CONNECTED)
        bot_id = next((b for p, b in self._identities if p == platform), None) if platform else None
        try:
            request_id = conn.machine.request(conn.now(), action, platform or None, bot_id or None)
        except RequestRefused as refused:
            text, ambiguous = refused.args
            return {"success": False, "error": text, **({"ambiguous": True} if ambiguous else {})}
        except (TypeError, ValueError) as exc:
            return {"success": False, "error": f"relay send failed: {exc}"}
        future: "asyncio.Future[Dict[str, Any]]" = conn.loop.create_future()
        conn.pending[request_id] = future
        conn.drain()
        try:
            await conn.send_queued()
            return await future
        finally:
            conn.pending.pop(request_id, None)

    async def send_interrupt(self, session_key: str, reason: Optional[str] = None) -> None:
        """Sends ``interrupt``; raises when there is no socket or the write fails."""
        conn = self._live_connection()
        try:
            conn.machine.interrupt(conn.now(), session_key, reason)
        except RequestRefused as refused:
            raise RuntimeError(refused.args[0]) from None
        conn.drain()
        await conn.flushed()

    async def ack_inbound(self, buffer_id: str) -> None:
        """Acknowledges a buffered frame (``inbound_ack``); failures are swallowed."""
        try:
            conn = self._live_connection()
            conn.machine.ack(conn.now(), str(buffer_id))
            conn.drain()
            await conn.flushed()
        except Exception:  # noqa: BLE001 - an unacknowledged entry is replayed next time
            logger.debug("relay: inbound_ack failed for %s", buffer_id)

    _send_inbound_ack = ack_inbound

    def _live_connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.is_ended:
            raise RuntimeError("relay transport not connected")
        return conn

    # ---- idle and dormant ----

    async def go_idle(self, timeout_s: float = 10.0) -> bool:
        """Asks the connector to buffer; True once it acknowledged within ``timeout_s``."""
        conn = self._conn
        if conn is None or conn.is_ended:
            return False
        waiter: "asyncio.Future[bool]" = conn.loop.create_future()
        self._idle_waiters.append(waiter)
        try:
            conn.machine.go_idle(conn.now())
            conn.drain()
            return await asyncio.wait_for(waiter, timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - never raises: no ack in time is False
            return False
        finally:
            self._idle_waiters.remove(waiter)

    async def go_dormant(self, timeout_s: float = 10.0) -> bool:
        """go_idle, then a non-terminal close; the re-dial follows the dormant cadence."""
        conn = self._conn
        if conn is None or conn.is_ended:
            return False
        if not await self.go_idle(timeout_s=timeout_s):
            return False
        self._dormant = True
        if self._policy is not None:
            self._policy.handle_went_idle(conn.now())
        with contextlib.suppress(RequestRefused):
            conn.machine.close(conn.now())
            conn.drain()
        await _bounded(asyncio.shield(conn.ended))
        return True

    def hold_redial(self) -> None:
        """Parks a due re-dial until ``release_redial`` or ``_redial_hold_max_s``."""
        if self._policy is not None:
            self._policy.hold_redial(self.loop_time())

    def release_redial(self) -> None:
        """Lets a held re-dial go now."""
        if self._policy is not None:
            self._policy.release_redial(self.loop_time())
        if self._redial_wake is not None:
            self._redial_wake.set()

    # ---- what connections report ----

    @staticmethod
    def loop_time() -> float:
        return asyncio.get_running_loop().time()

    def on_event(self, conn: Connection, action: tuple) -> None:
        """An event of ``conn``'s machine, in frame order."""
        tag = action[0]
        if tag in ("inbound", "interrupt", "passthrough"):
            self._deliveries.append((conn, action))
            if self._delivery_wake is not None:
                self._delivery_wake.set()
        elif tag == "ready" or tag == "descriptor":
            self._on_descriptor(conn, tag == "ready", action[3])
        elif tag == "idle_acknowledged" or tag == "idle_timed_out":
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(tag == "idle_acknowledged")
        elif tag == "diagnostic":
            logger.warning("relay: skipped a frame (%s): %s", action[1], action[3])

    def _on_descriptor(self, conn: Connection, first: bool, fields: Dict[str, Any]) -> None:
        if conn is not self._conn:
            return
        descriptor = self._types.descriptor(fields)
        if descriptor.platform:
            self._descriptors_by_platform[descriptor.platform] = descriptor
        if not first:
            return
        self._descriptor = descriptor
        if self._policy is not None:
            self._policy.handle_ready(conn.now())
        if self._descriptor_ready is not None and not self._descriptor_ready.done():
            self._descriptor_ready.set_result(descriptor)

    def on_connection_ended(self, conn: Connection) -> None:
        """``conn``'s machine closed: a waiting go_idle on it fails."""
        if conn is self._conn:
            for waiter in self._idle_waiters:
                if not waiter.done():
                    waiter.set_result(False)

    # ---- callbacks, one at a time in frame order ----

    def _start_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._delivery_wake = asyncio.Event()
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name="relay-dispatch")

    async def _dispatch(self) -> None:
        wake = self._delivery_wake
        assert wake is not None
        deliveries = self._deliveries
        while True:
            if not deliveries:
                wake.clear()
                await wake.wait()
                continue
            conn, action = deliveries.popleft()
            tag = action[0]
            try:
                # No callback set: the frame is dropped, unacknowledged.
                if tag == "inbound":
                    if self._inbound is None:
                        continue
                    result = self._inbound(self._types.event(action[1]))
                elif tag == "interrupt":
                    if self._interrupt_inbound_handler is None:
                        continue
                    result = self._interrupt_inbound_handler(action[1], action[2])
                else:
                    if self._passthrough_handler is None:
                        continue
                    result = self._passthrough_handler(self._types.forward(action[1]), action[2])
                if result is not None and inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a raising callback never stops delivery
                logger.exception("relay: %s callback raised", tag)
                continue
            if tag != "interrupt" and action[2]:
                # Custody is the callback having returned (PROTOCOL §8); the ack goes
                # on the connection the frame came on, and is dropped if it is gone.
                with contextlib.suppress(RequestRefused):
                    conn.machine.ack(conn.now(), action[2])
                    conn.drain()
