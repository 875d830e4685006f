"""One WebSocket and the core machine that owns its protocol state.

The reader feeds received messages to the machine, the writer sends what the
machine asks in order, one timer follows ``poll_timeout()``. Every action is
handed to the owning transport, which never blocks here: callbacks run in its
dispatcher, so a frame's handler can await a request whose result this reader
is still free to read.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Optional, Union

from websockets.exceptions import ConnectionClosed

from ._core import RelayMachine

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from .transport import WebSocketRelayTransport

logger = logging.getLogger("gateway.relay.ws_transport")

_PING = object()
_STEP_S = 1.0


class Connection:
    """A socket that opened, with its machine, reader, writer and timer."""

    def __init__(self, owner: "WebSocketRelayTransport", ws: "ClientConnection", machine: RelayMachine):
        self.owner = owner
        self.ws = ws
        self.machine = machine
        self.loop = asyncio.get_running_loop()
        self.pending: Dict[str, "asyncio.Future[Dict[str, Any]]"] = {}
        self.ended: "asyncio.Future[None]" = self.loop.create_future()
        self._outgoing: Deque[Union[str, object, "asyncio.Future[None]"]] = deque()
        self._wake = asyncio.Event()
        self._close_frame: Optional[tuple] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at: Optional[float] = None
        self._writing = True
        self._writer_idle = False
        self.drain()
        self._writer = self.loop.create_task(self._write(), name="relay-ws-writer")
        self._reader = self.loop.create_task(self._read(), name="relay-ws-reader")

    @classmethod
    def open(cls, owner: "WebSocketRelayTransport", ws: "ClientConnection", **config: Any) -> "Connection":
        """A machine for a socket that just opened (its hellos are the first frames)."""
        machine = RelayMachine(owner.loop_time(), seed=secrets.randbits(64), **config)
        return cls(owner, ws, machine)

    @property
    def is_ended(self) -> bool:
        return self.ended.done()

    def now(self) -> float:
        return self.loop.time()

    def flushed(self) -> "asyncio.Future[None]":
        """Done once everything queued so far was written; raises what the write raised."""
        marker: "asyncio.Future[None]" = self.loop.create_future()
        if not self._writing:
            marker.set_exception(ConnectionError("relay transport not connected"))
        else:
            self._outgoing.append(marker)
            self._wake.set()
        return marker

    def drain(self) -> None:
        """Hands every queued action on, then follows the machine's next deadline."""
        for action in self.machine.poll_actions():
            try:
                self._act(action)
            except Exception:  # noqa: BLE001 - one bad action must not stop the rest
                logger.exception("relay: handling %s failed", action[0])
        at = self.machine.poll_timeout()
        # A later deadline keeps the timer: firing early is harmless, and most
        # requests and results move the deadline later, so this saves a timer each.
        if at is None or self._timer_at is None or at < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = None if at is None else self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        at, self._timer_at, self._timer = self._timer_at, None, None
        # asyncio may fire up to its clock resolution early; the deadline is reached.
        self.machine.handle_timeout(max(self.now(), at or 0.0))
        self.drain()

    def _act(self, action: tuple) -> None:
        tag = action[0]
        if tag == "send":
            self._outgoing.append(action[1])
            self._wake.set()
        elif tag == "resolve" or tag == "fail":
            future = self.pending.pop(action[1], None)
            if future is not None and not future.done():
                future.set_result(action[2])
        elif tag == "ping":
            self._outgoing.append(_PING)
            self._wake.set()
        elif tag == "closed":
            self._on_closed(action)
        else:
            self.owner.on_event(self, action)

    def _on_closed(self, action: tuple) -> None:
        _, name, message, code, reason = action
        if code is not None:
            self._close_frame = (code, reason)
        if name != "local":
            logger.warning("relay ws connection ended: %s", message)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake.set()
        self.ended.set_result(None)
        self.owner.on_connection_ended(self)

    async def _read(self) -> None:
        code: Optional[int] = None
        reason = ""
        try:
            while True:
                data = await self.ws.recv(decode=False)
                self.machine.handle_input(self.now(), data)
                self.drain()
        except ConnectionClosed as exc:
            if exc.rcvd is not None:
                code, reason = exc.rcvd.code, exc.rcvd.reason
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the socket failed; the machine decides what follows
            logger.debug("relay ws read failed", exc_info=True)
        finally:
            self.machine.handle_transport_closed(self.now(), code, reason)
            self.drain()

    async def _write(self) -> None:
        try:
            while not (self.is_ended and not self._outgoing):
                if not self._outgoing:
                    self._wake.clear()
                    self._writer_idle = True
                    await self._wake.wait()
                    self._writer_idle = False
                    continue
                item = self._outgoing.popleft()
                if isinstance(item, asyncio.Future):
                    if not item.done():
                        item.set_result(None)
                elif item is _PING:
                    pong = await self.ws.ping()
                    pong.add_done_callback(self._on_pong)
                else:
                    await self.ws.send(item)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed write ends the connection
            self._write_failed(exc)
        self._writing = False
        self._fail_markers(ConnectionError("relay transport not connected"))
        if self._close_frame is not None:
            code, reason = self._close_frame
            try:
                await asyncio.wait_for(self.ws.close(code, reason), _STEP_S)
            except Exception:  # noqa: BLE001 - best effort; the socket is abandoned either way
                logger.debug("relay ws close did not complete", exc_info=True)

    async def send_queued(self) -> None:
        """Writes a lone queued line from the calling task while the writer is idle.

        Saves a request the hop to the writer task; order holds because the
        line is the only one queued and a send writes before it first yields.
        """
        if not (self._writer_idle and len(self._outgoing) == 1 and isinstance(self._outgoing[0], str)):
            return
        line = self._outgoing.popleft()
        try:
            await self.ws.send(line)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - a failed write ends the connection
            self._write_failed(exc)

    def _write_failed(self, exc: Exception) -> None:
        self._writing = False
        self._fail_markers(exc)
        # A closed socket is reported by the reader, with its close code (a
        # 4401 must reach the reconnect policy as one); other failures here.
        if not isinstance(exc, ConnectionClosed):
            self.machine.handle_write_failed(self.now(), str(exc))
            self.drain()

    def _fail_markers(self, exc: BaseException) -> None:
        while self._outgoing:
            item = self._outgoing.popleft()
            if isinstance(item, asyncio.Future) and not item.done():
                item.set_exception(exc)

    def _on_pong(self, pong: "asyncio.Future[float]") -> None:
        if not pong.cancelled() and pong.exception() is None and not self.is_ended:
            self.machine.handle_keepalive(self.now())
            self.drain()

    async def stop(self) -> None:
        """Ends the reader and writer and drops the socket, each step bounded."""
        for task in (self._writer, self._reader):
            if not task.done():
                task.cancel()
            await _bounded(task)
        await _bounded(self.ws.close())


async def _bounded(aw: Any) -> None:
    """Awaits a teardown step for at most a second, swallowing its failure."""
    try:
        await asyncio.wait_for(aw, _STEP_S)
    except (asyncio.CancelledError, Exception):  # noqa: BLE001
        pass
