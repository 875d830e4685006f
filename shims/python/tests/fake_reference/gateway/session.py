"""Fake of the reference's gateway.session (an older SessionSource: no prospective_thread_id)."""

from dataclasses import dataclass
from typing import Optional

from gateway.config import Platform


@dataclass
class SessionSource:
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
    scope_id: Optional[str] = None
    parent_chat_id: Optional[str] = None
    message_id: Optional[str] = None
    profile: Optional[str] = None
    auto_thread_created: bool = False
    auto_thread_initial_name: Optional[str] = None
    delivered_via_upstream_relay: bool = False
