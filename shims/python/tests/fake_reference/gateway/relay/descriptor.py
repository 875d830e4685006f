"""Fake of the reference's gateway.relay.descriptor."""

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class CapabilityDescriptor:
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
    supported_ops: tuple = ()

    @classmethod
    def from_json(cls, data: str) -> "CapabilityDescriptor":
        raw = json.loads(data)
        known = cls.__dataclass_fields__
        filtered = {k: v for k, v in raw.items() if k in known}
        if "supported_ops" in filtered:
            filtered["supported_ops"] = tuple(filtered["supported_ops"])
        return cls(**filtered)
