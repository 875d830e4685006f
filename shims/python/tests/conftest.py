"""Shared fixtures: a `relay serve` per test, and the two type modes.

`RELAY_BIN` names the `relay` binary (ci.sh builds it and sets it).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

FAKE_REFERENCE = str(Path(__file__).parent / "fake_reference")
WAIT_S = 10.0


def _forget_gateway_modules() -> None:
    for name in [m for m in sys.modules if m == "gateway" or m.startswith("gateway.")]:
        del sys.modules[name]


@pytest.fixture(params=["reference", "own"])
def types_mode(request: pytest.FixtureRequest) -> Any:
    """Runs a test with the fake reference types importable, then without them."""
    _forget_gateway_modules()
    if request.param == "reference":
        sys.path.insert(0, FAKE_REFERENCE)
    yield request.param
    if FAKE_REFERENCE in sys.path:
        sys.path.remove(FAKE_REFERENCE)
    _forget_gateway_modules()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """A `relay serve` subprocess: its event lines, and pushes on its stdin."""

    def __init__(self, args: List[str]):
        self.args = args
        self.events: List[Dict[str, Any]] = []
        self.url = ""
        self.proc: Optional[asyncio.subprocess.Process] = None
        self._reader: Optional[asyncio.Task] = None

    async def start(self) -> "Serve":
        binary = os.environ.get("RELAY_BIN")
        if not binary:
            pytest.fail("RELAY_BIN is not set: run the suite through shims/python/ci.sh")
        self.proc = await asyncio.create_subprocess_exec(
            binary, "serve", *self.args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        first = json.loads(await asyncio.wait_for(self.proc.stdout.readline(), WAIT_S))
        assert first["event"] == "listening", first
        self.url = first["url"]
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.events.append(json.loads(line))

    def push(self, frame: Dict[str, Any], to: Optional[Dict[str, str]] = None) -> None:
        """Pushes a frame to a gateway (default: the relay/"" identity)."""
        assert self.proc is not None and self.proc.stdin is not None
        target = to or {"platform": "relay", "botId": ""}
        self.proc.stdin.write((json.dumps({"to": target, "frame": frame}) + "\n").encode())

    def named(self, name: str) -> List[Dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    async def wait_for(self, what: Callable[[List[Dict[str, Any]]], bool], timeout: float = WAIT_S) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not what(self.events):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out; events: {self.events}")
            await asyncio.sleep(0.01)

    async def wait_count(self, name: str, count: int, timeout: float = WAIT_S) -> None:
        await self.wait_for(lambda _: len(self.named(name)) >= count, timeout)

    async def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        await asyncio.wait_for(self.proc.wait(), WAIT_S)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT_S)


@pytest.fixture
async def serve_factory():
    """Starts `relay serve` with the given flags; every one is stopped after the test."""
    started: List[Serve] = []

    async def start(*args: str, port: Optional[int] = None) -> Serve:
        listen = f"127.0.0.1:{port or 0}"
        serve = await Serve(["--listen", listen, *args]).start()
        started.append(serve)
        return serve

    yield start
    for serve in started:
        await serve.stop()


async def eventually(check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    """Waits until ``check()`` is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
