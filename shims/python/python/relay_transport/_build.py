"""Builds the objects callers receive from the binding's plain values.

The reference gateway's own classes are used when they are importable (so
``isinstance`` checks and enum identity hold in an application that has
them); otherwise the package's look-alikes from ``_types``. The binding
already produced each value as the reference reads it; this module only
picks classes and passes keyword arguments.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple, Type

from . import _types


@dataclass
class PassthroughForward:
    """A forwarded platform request (PROTOCOL §7): exact body bytes, headers in arrival order."""

    platform: str
    bot_id: str
    method: str
    path: str
    headers: List[Tuple[str, str]]
    body: bytes
    profile: Optional[str] = None


def _import(module: str, name: str, fallback: Any) -> Any:
    try:
        return getattr(__import__(module, fromlist=[name]), name)
    except Exception:  # noqa: BLE001 - any failure to import means "not the reference"
        return fallback


def _accepted(cls: Type[Any]) -> Optional[FrozenSet[str]]:
    """The keyword names ``cls`` takes, or None when it takes any."""
    if dataclasses.is_dataclass(cls):
        return frozenset(f.name for f in dataclasses.fields(cls) if f.init)
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params)


def _constructor(cls: Type[Any], keys: FrozenSet[str]) -> Callable[[Dict[str, Any]], Any]:
    """Calls ``cls(**kwargs)``, leaving out keys an older ``cls`` does not take."""
    accepted = _accepted(cls)
    if accepted is None or keys <= accepted:
        return lambda kwargs: cls(**kwargs)
    return lambda kwargs: cls(**{k: v for k, v in kwargs.items() if k in accepted})


def _enum_reader(enum: Type[Enum], fallback: Enum) -> Callable[[str], Enum]:
    cache: Dict[str, Enum] = {}

    def read(name: str) -> Enum:
        member = cache.get(name)
        if member is None:
            try:
                member = enum(name)
            except ValueError:
                member = fallback
            cache[name] = member
        return member

    return read


_EVENT_KEYS = frozenset(
    "text message_type source message_id reply_to_message_id reply_to_text reply_to_author_name "
    "reply_to_is_own_message media_urls media_types channel_context prompt_response".split()
)
_SOURCE_KEYS = frozenset(
    "platform chat_id chat_name chat_type user_id user_name thread_id chat_topic user_id_alt "
    "chat_id_alt scope_id parent_chat_id message_id profile auto_thread_created "
    "auto_thread_initial_name prospective_thread_id delivered_via_upstream_relay".split()
)


class Builders:
    """The classes of one transport, chosen when it is constructed."""

    def __init__(self) -> None:
        platform_cls = _import("gateway.config", "Platform", _types.Platform)
        message_type_cls = _import("gateway.platforms.event", "MessageType", _types.MessageType)
        self.message_event = _import("gateway.platforms.event", "MessageEvent", _types.MessageEvent)
        self.session_source = _import("gateway.session", "SessionSource", _types.SessionSource)
        self.descriptor_cls = _import(
            "gateway.relay.descriptor", "CapabilityDescriptor", _types.CapabilityDescriptor
        )
        # An application that imported the reference transport gets its forward class.
        reference = sys.modules.get("gateway.relay.ws_transport")
        self.forward_cls = getattr(reference, "PassthroughForward", PassthroughForward)
        self._platform = _enum_reader(platform_cls, platform_cls("relay"))
        self._message_type = _enum_reader(message_type_cls, message_type_cls("text"))
        self._new_event = _constructor(self.message_event, _EVENT_KEYS)
        self._new_source = _constructor(self.session_source, _SOURCE_KEYS)

    def event(self, kwargs: Dict[str, Any]) -> Any:
        """A MessageEvent from the binding's keyword arguments."""
        source = kwargs["source"]
        source["platform"] = self._platform(source["platform"])
        source["delivered_via_upstream_relay"] = True
        kwargs["source"] = self._new_source(source)
        kwargs["message_type"] = self._message_type(kwargs["message_type"])
        return self._new_event(kwargs)

    def descriptor(self, fields: Dict[str, Any]) -> Any:
        """A CapabilityDescriptor, read the way the class reads handshake JSON."""
        return self.descriptor_cls.from_json(json.dumps(fields))

    def forward(self, kwargs: Dict[str, Any]) -> Any:
        """A PassthroughForward from the binding's keyword arguments."""
        return self.forward_cls(**kwargs)
