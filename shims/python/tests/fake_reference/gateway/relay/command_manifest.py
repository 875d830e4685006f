"""Fake of the reference's gateway.relay.command_manifest."""


def build_relay_command_manifest() -> list:
    return [{"name": "help", "description": "Show help"}]
