"""Fake of the reference's gateway.config: fewer platforms than the core knows."""

from enum import Enum


class Platform(Enum):
    RELAY = "relay"
    DISCORD = "discord"
    TELEGRAM = "telegram"
    SLACK = "slack"
