"""What the console shows of signed flag and DR control records, driven with Pilot against
the embedded brokers and read off the screen at 200x50: a raw producer (anyone who can
write the topic) forges records; the Flags screen names the ignored offsets and shows a
flag that has only unsigned records as UNKNOWN (never its old value); with no key it says
that flag records are unsigned; the DR screen lists ignored control records among its
problems."""

from __future__ import annotations

import json
import time
from typing import Any

from kafkaops.console.app import KafkaOpsApp
from kafkaops.console.dr import DrScreen
from kafkaops.console.flags import FlagsScreen
from kafkaops.core.config import parse_config
from kafkaops.core.dr.control import CONTROL_TOPIC, ActiveRecord, active_key, encode_record
from kafkaops.core.flags.model import H_BY, H_EXPECTS, H_OP, FlagState, encode_state
from kafkaops.core.services import Services
from kafkaops.demo.embedded import EmbeddedClusters

from .conftest import produce, unique
from .drkit import close_world, make_world
from .test_console_shell import screen_text
from .test_signed_flags import attack, raw_produce, two_flags

SIZE = (200, 50)
#: the flags screen lists every flag of the shared test broker (other tests add theirs,
#: 60 and more in a full run): tall enough that the ones a test looks for are on screen
TALL = (200, 200)


async def shows(pilot: Any, *texts: str, limit: float = 30.0) -> str:
    """Wait until the screen shows every one of `texts`; returns the screen."""
    deadline = time.monotonic() + limit
    while True:
        screen = screen_text(pilot.app)
        if all(t in screen for t in texts):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen never showed {texts}; it shows:\n{screen}")
        await pilot.pause(0.05)


def line_with(screen: str, text: str) -> str:
    return next(ln for ln in screen.splitlines() if text in ln)


async def test_flags_screen_names_ignored_records_and_unsigned_only_flags_read_unknown(
        services: Services, bootstrap: str) -> None:
    a, b, a_offset = await two_flags(services)
    forged = await attack("unsigned-higher-version", bootstrap, a, b, a_offset)
    legacy = unique("legacy")  # written before signing: on, version 2, by bob
    legacy_offsets = []
    for expects, enabled in ((0, False), (1, True)):
        state = FlagState(legacy, "bool", enabled, True, False, version=expects + 1,
                          updated_by="bob@host")
        legacy_offsets.append(await raw_produce(
            bootstrap, legacy.encode(), encode_state(state),
            [(H_EXPECTS, str(expects).encode()), (H_OP, b"set"), (H_BY, b"bob@host")]))

    app = KafkaOpsApp(services)
    async with app.run_test(size=TALL) as pilot:
        await app.push_screen(FlagsScreen())
        screen = await shows(pilot, b, legacy, "records ignored (unsigned or altered)",
                             "kafkaops flags resign NAME")
        note = line_with(screen, "records ignored (unsigned or altered)")
        for o in (forged, *legacy_offsets):
            assert str(o) in note, note
        assert "flag records are unsigned" not in screen  # signed here
        row_b = line_with(screen, b)
        assert " off " in row_b and "mallory" not in row_b  # the forgery is not applied
        row = line_with(screen, legacy)
        assert "UNKNOWN" in row and "only unsigned records" in row
        assert "bob@host" not in row and " on " not in row  # not its old, unverified state
        assert "kafkaops flags resign NAME" in screen


async def test_flags_screen_says_records_are_unsigned_without_a_key(
        services: Services, config_data: dict[str, Any]) -> None:
    key = unique("plain")
    await (await services.flags()).create(key, actor="a@h", face="cli")
    # a reader with no key at all (no audit.signing_key, no flags key): records unsigned
    unsigned = parse_config({k: v for k, v in config_data.items() if k != "audit"})
    async with Services(unsigned) as services:
        app = KafkaOpsApp(services)
        async with app.run_test(size=TALL) as pilot:
            await app.push_screen(FlagsScreen())
            screen = await shows(pilot, key)
            assert ("flag records are unsigned: anyone who can write _kafkaops.flags can "
                    "change a flag; set flags.signing_key") in screen
            assert "records ignored" not in screen


async def test_flags_screen_note_is_escaped(services: Services, bootstrap: str) -> None:
    """A forged record's key is the attacker's text: it never reaches the terminal raw."""
    bad_key = unique("esc") + "\x1b[2J"
    await (await services.flags()).create(unique("esc.real"), actor="a@h", face="cli")
    state = json.dumps({"key": bad_key, "type": "bool", "enabled": True, "value": True,
                        "default": False, "version": 1})
    bad = await raw_produce(bootstrap, bad_key.encode(), state.encode(),
                            [(H_EXPECTS, b"0"), (H_OP, b"create")])
    app = KafkaOpsApp(services)
    async with app.run_test(size=TALL) as pilot:
        await app.push_screen(FlagsScreen())
        screen = await shows(pilot, "records ignored (unsigned or altered)")
        assert str(bad) in line_with(screen, "records ignored (unsigned or altered)")
        assert "\x1b" not in screen and "[2J" not in screen


async def test_dr_screen_lists_ignored_control_records(
        config_data: dict[str, Any], clusters: EmbeddedClusters) -> None:
    w = await make_world(config_data)
    try:
        forged = encode_record(ActiveRecord(w.name, "dr", 5, by="mallory", at=time.time(),
                                            reason="failover"))
        await produce(clusters.bootstrap("primary"), CONTROL_TOPIC, [forged],
                      key=active_key(w.name).encode(), partition=0)
        app = KafkaOpsApp(w.services, start="dr")
        async with app.run_test(size=SIZE) as pilot:
            screen = await shows(pilot, "of _kafkaops.control on 'primary' ignored")
            assert isinstance(app.screen, DrScreen)
            note = line_with(screen, "of _kafkaops.control on 'primary' ignored")
            assert "signature missing or wrong (offsets " in note and "not applied" in note
            assert "Active        primary (epoch 0)" in screen  # the forgery switched nothing
    finally:
        await close_world(w)
