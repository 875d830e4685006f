"""The package's own types, used when the reference gateway's are not importable.

Same names, fields and defaults as the reference's ``gateway.config.Platform``,
``gateway.platforms.event.MessageType``/``MessageEvent``,
``gateway.session.SessionSource`` and
``gateway.relay.descriptor.CapabilityDescriptor``, so code written against
those reads these unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Dict, List, Optional


class Platform(Enum):
    """Chat platforms (PROTOCOL §4); unknown names read as ``RELAY`` at the boundary."""

    LOCAL = "local"
    TELEGRAM = "telegram"
    DISCORD = "discord"
    WHATSAPP = "whatsapp"
    WHATSAPP_CLOUD = "whatsapp_cloud"
    SLACK = "slack"
    SIGNAL = "signal"
    MATTERMOST = "mattermost"
    MATRIX = "matrix"
    HOMEASSISTANT = "homeassistant"
    EMAIL = "email"
    SMS = "sms"
    DINGTALK = "dingtalk"
    API_SERVER = "api_server"
    WEBHOOK = "webhook"
    MSGRAPH_WEBHOOK = "msgraph_webhook"
    FEISHU = "feishu"
    WECOM = "wecom"
    WECOM_CALLBACK = "wecom_callback"
    WEIXIN = "weixin"
    BLUEBUBBLES = "bluebubbles"
    QQBOT = "qqbot"
    YUANBAO = "yuanbao"
    RELAY = "relay"
    NTFY = "ntfy"
    GOOGLE_CHAT = "google_chat"
    PHOTON = "photon"
    LINE = "line"
    IRC = "irc"
    TEAMS = "teams"
    RAFT = "raft"
    SIMPLEX = "simplex"

    @classmethod
    def _missing_(cls, value: object) -> Optional["Platform"]:
        # As the reference: names are matched trimmed and lower-cased.
        if isinstance(value, str):
            return cls._value2member_map_.get(value.strip().lower())  # type: ignore[return-value]
        return None


class MessageType(Enum):
    """Kinds of inbound message."""

    TEXT = "text"
    LOCATION = "location"
    PHOTO = "photo"
    VIDEO = "video"
    AUDIO = "audio"
    VOICE = "voice"
    DOCUMENT = "document"
    STICKER = "sticker"
    COMMAND = "command"


@dataclass
class SessionSource:
    """Where a message came from."""

    platform: Platform
    chat_id: str
    chat_name: Optional[str] = None
    chat_type: str = "dm"
    user_id: Optional[str] = None
    user_name: Optional[str] = None
    thread_id: Optional[str] = None
    chat_topic: Optional[str] = None
    user_id_alt: Optional[str] = None
    chat_id_alt: Optional[str] = None
    is_bot: bool = False
    scope_id: Optional[str] = None
    guild_id: Optional[str] = None
    parent_chat_id: Optional[str] = None
    message_id: Optional[str] = None
    role_authorized: bool = False
    profile: Optional[str] = None
    auto_thread_created: bool = False
    auto_thread_initial_name: Optional[str] = None
    prospective_thread_id: Optional[str] = None
    # Stamped locally for events that came over the relay, never read from the wire.
    delivered_via_upstream_relay: bool = False

    def __post_init__(self) -> None:
        # The reference mirrors the deprecated guild_id and scope_id (scope_id wins).
        if self.scope_id is None and self.guild_id is not None:
            self.scope_id = self.guild_id
        elif self.scope_id is not None:
            self.guild_id = self.scope_id


@dataclass
class MessageEvent:
    """An inbound message, normalized."""

    text: str
    message_type: MessageType = MessageType.TEXT
    user_id: Optional[str] = None
    user_name: Optional[str] = None
    source: Optional[SessionSource] = None
    raw_message: Any = None
    message_id: Optional[str] = None
    media_urls: List[str] = field(default_factory=list)
    media_types: List[str] = field(default_factory=list)
    reply_to_message_id: Optional[str] = None
    reply_to_text: Optional[str] = None
    reply_to_author_id: Optional[str] = None
    reply_to_author_name: Optional[str] = None
    reply_to_is_own_message: bool = False
    prompt_response: Optional[Dict[str, Any]] = None
    channel_context: Optional[str] = None
    internal: bool = False
    metadata: Dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=datetime.now)


@dataclass(frozen=True)
class CapabilityDescriptor:
    """What the connector's platform supports, negotiated at the handshake."""

    contract_version: int
    platform: str
    label: str
    max_message_length: int
    supports_draft_streaming: bool
    supports_edit: bool
    supports_threads: bool
    markdown_dialect: str
    len_unit: str
    emoji: str = "\U0001f50c"
    platform_hint: str = ""
    pii_safe: bool = False
    supports_context: bool = False
    supports_inchannel_continuable: bool = False
    supports_block_formatting: bool = False
    supported_ops: tuple = ()

    LEGACY_OPS = ("send", "edit", "typing", "follow_up")

    def supports_op(self, op: str) -> bool:
        """Whether the connector accepts ``op`` (the legacy set when it lists none)."""
        return op in (self.supported_ops or self.LEGACY_OPS)

    def to_json(self) -> str:
        """Sorted-key JSON of every field."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> "CapabilityDescriptor":
        """Reads descriptor JSON already interpreted by the core (unknown keys dropped)."""
        raw = json.loads(data)
        known = cls.__dataclass_fields__
        fields = {k: v for k, v in raw.items() if k in known}
        fields["supported_ops"] = tuple(fields.get("supported_ops") or ())
        return cls(**fields)
