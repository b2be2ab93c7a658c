"""The Slack app manifest we ship matches what the bot does: its command, its scopes, the
events it listens to, its message shortcut and its Home tab."""

from __future__ import annotations

from pathlib import Path

import yaml

from kafkaops.core.config import SlackConfig

MANIFEST = Path(__file__).resolve().parent.parent / "bot" / "manifest.yaml"


def test_manifest_names_the_default_command_and_the_scopes_the_bot_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert commands == [SlackConfig().command]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # commands: the slash command; chat:write: replies, alerts, updates; usergroups:read:
    # roles that name user groups (bot/permissions.py calls usergroups.users.list)
    assert {"commands", "chat:write", "usergroups:read"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # Confirm buttons
    assert manifest["settings"]["socket_mode_enabled"] is (SlackConfig().mode == "socket")
    uses_usergroups = "usergroups.users.list" in (
        MANIFEST.parent / "permissions.py").read_text()
    assert uses_usergroups


def test_manifest_subscribes_to_every_event_and_shortcut_the_bot_listens_to() -> None:
    import re

    from kafkaops.bot.commands.home import INVESTIGATE

    manifest = yaml.safe_load(MANIFEST.read_text())
    code = "\n".join(p.read_text() for p in MANIFEST.parent.rglob("*.py"))
    events = set(re.findall(r'\.event\("([a-z_]+)"\)', code))
    assert events == {"app_home_opened", "app_mention"}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == events
    shortcuts = manifest["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [("message", INVESTIGATE)]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert "app_mentions:read" in scopes  # app_mention events need it
