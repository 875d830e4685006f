"""Fake of the reference's gateway.relay.ws_transport: the class install() replaces."""

from dataclasses import dataclass
from typing import List, Optional, Tuple


class WebSocketRelayTransport:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the reference transport should have been replaced")


@dataclass
class PassthroughForward:
    platform: str
    bot_id: str
    method: str
    path: str
    headers: List[Tuple[str, str]]
    body: bytes
    profile: Optional[str] = None
