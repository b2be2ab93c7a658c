"""Every capability kafkaops offers, named once, with its words in each face.

Pure data: the bot's `help` and its hints and the CLI's help epilog read this table, so a
hint is given in the words of the face the person uses (`/kafka lag billing` in Slack,
`kafkaops lag --group billing` at a terminal, `l` in the console), and a capability
renamed in one face cannot drift from the others unnoticed: tests/test_bot_help.py checks
the table against the bot's subcommands, the CLI's parser and the console's key bindings.

Templates: words after the face's command (`kafkaops`, the slash command), with
`{name}` placeholders and `[...]` parts that are left out when a placeholder inside them
has no value; a placeholder outside brackets without a value shows as its NAME.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Face = Literal["cli", "slack", "console"]


@dataclass(frozen=True)
class Capability:
    """One thing kafkaops does, named as the CLI, the console and Slack name it."""

    key: str
    """Stable name: "lag.group", "flag.toggle"."""
    topic: str
    """The help topic it is listed under (`/kafka help flags`)."""
    summary: str
    """One line: what it does."""
    cli: str | None
    """Words after `kafkaops`; None: not in the CLI."""
    slack: str | None
    """Words after the slash command; None: not in Slack."""
    console: str | None
    """The console key(s) that show it; None: no screen."""
    examples: tuple[str, ...] = ()
    """Slack examples (words after the slash command)."""
    rank: int = 0
    """1 to 5: the five things people do most, in that order (help shows them first)."""
    screen: tuple[str, str] | None = None
    """When `console` is a key that opens a screen from anywhere: the screen's title and
    its line on the console's help screen and command palette."""


def _c(key: str, topic: str, summary: str, cli: str | None, slack: str | None,
       console: str | None, *examples: str, rank: int = 0,
       screen: tuple[str, str] | None = None) -> Capability:
    return Capability(key, topic, summary, cli, slack, console, tuple(examples), rank, screen)


CAPABILITIES: tuple[Capability, ...] = (
    _c("lag", "lag", "consumer groups needing attention, worst first; one group's partitions",
       "lag", "lag", "l", "lag", "lag billing-service", rank=1,
       screen=("Lag", "Consumer groups: lag in messages and seconds, status, trend, time to "
               "catch up")),
    _c("lag.group", "lag", "one group: each partition's lag in records and seconds, status",
       "lag --group {group}", "lag {group}", "l, then enter", "lag billing-service"),
    _c("alerts", "alerts", "alerts firing now, who is on them, snoozes", "alerts list",
       "alerts", "!", "alerts", rank=2,
       screen=("Alerts", "Alerts firing and recently resolved: rule, severity, target, value, "
               "channel")),
    _c("status", "status", "every cluster: brokers, offline and under-replicated partitions",
       "[-c {cluster}] cluster", "status [--cluster {cluster}]", "c", "status", rank=3,
       screen=("Cluster", "Brokers, controller, topic and partition counts, offline and "
               "under-replicated")),
    _c("flag.toggle", "flags", "switch a flag on or off, after Confirm",
       "flags toggle {flag} [--{state}]", "flag toggle {flag} [--{state}]", "f, then space",
       "flag toggle checkout.new-payment-flow --off --reason 'incident 42'", rank=4),
    _c("dlq.list", "dlq", "dead-letter topics: counts and reasons grouped", "dlq list",
       "dlq list", "d", "dlq list", rank=5,
       screen=("Dead letters", "Dead-letter topics, error reasons grouped, replay to the origin "
               "topic")),
    _c("topics", "topics", "topics with partitions, retention and messages", "topics",
       "topics [{filter}]", "t", "topics orders",
       screen=("Topics", "Topics with partitions, replication, retention, cleanup, compression, "
               "offsets")),
    _c("topic", "topics", "one topic: partitions, leaders, ISR, offsets, configs",
       "topic describe {topic}", "topic {topic}", "t, then enter", "topic orders.events"),
    _c("topic.config", "topics", "change a topic's configs: the diff first, then Confirm",
       "topic alter-config {topic} --set {setting}", "topic config {topic} {setting}",
       "t, then enter, then e", "topic config orders.events retention.ms=86400000"),
    _c("tail", "topics", "a topic's records as they arrive", "tail {topic}", None,
       "t, then m"),
    _c("offsets.reset", "offsets", "move a stopped group to earliest, latest, a time, an offset",
       "offsets reset {group} --topic {topic} [--to-time {time}]",
       "offsets reset {group} --topic {topic} [--to-time {time}]", "l, then o",
       "offsets reset billing-service --topic orders.events --to-time 1h"),
    _c("flags", "flags", "every flag: state, rollout, owner, version", "flags list",
       "flag list", "f", "flag list",
       screen=("Flags", 'Feature flags: toggle, rollout, history and rollback')),
    _c("flag.get", "flags", "one flag's full state", "flags get {flag}", "flag get {flag}",
       "f", "flag get checkout.new-payment-flow"),
    _c("flag.history", "flags", "a flag's changes, newest first", "flags history {flag}",
       "flag history {flag}", "f, then enter"),
    _c("flag.eval", "flags", "what given users get from a flag", "flags eval {flag} --user {user}",
       "flag eval {flag} {user}", None, "flag eval checkout.new-payment-flow customer-42"),
    _c("flag.rollout", "flags", "set the percentage of users who get a flag",
       "flags rollout {flag} {percent}", "flag rollout {flag} {percent}", "f, then p",
       "flag rollout checkout.new-payment-flow 25"),
    _c("flag.set", "flags", "change the value served when a flag is on",
       "flags set {flag} {value}", "flag set {flag} {value}", None),
    _c("flag.rollback", "flags", "restore a flag as it was at an earlier version",
       "flags rollback {flag} {version}", "flag rollback {flag} {version}", "f, then b"),
    _c("flag.create", "flags", "a new flag (it starts off)", "flags create {flag}", None, None),
    _c("flag.delete", "flags", "delete a flag", "flags delete {flag}", None, None),
    _c("flag.resign", "flags", "write a flag's last unsigned state again, signed",
       "flags resign {flag}", None, None),
    _c("dlq.show", "dlq", "a dead-letter topic's records with origin and reason",
       "dlq show {topic}", "dlq show {topic}", "d, then enter", "dlq show orders.events.dlq"),
    _c("dlq.replay", "dlq", "put dead letters back on their origin topic, after Confirm",
       "dlq replay {topic}", "dlq replay {topic}", "d, then R",
       "dlq replay orders.events.dlq --filter 'reason ~ \"timeout\"'"),
    _c("dr", "dr", "DR pairs: active cluster, RPO, heartbeat, replication lag",
       "dr status [--pair {pair}]", "dr [--pair {pair}]", "D", "dr",
       screen=("DR", "Disaster recovery: replication lag, RPO, heartbeats, checkpoints, "
               "failover plan")),
    _c("dr.resign", "dr", "write a failover's unsigned active record again, signed",
       "dr resign [--pair {pair}]", None, None),
    _c("failover.plan", "dr", "what a failover would do: pre-checks, offsets, steps",
       "failover plan [--pair {pair}]", "failover plan [--pair {pair}]", "D, then p",
       "failover plan"),
    _c("failover.execute", "dr", "run the failover, after Confirm",
       "failover execute [--pair {pair}]", "failover execute [--pair {pair}]", "D, then e"),
    _c("failover.status", "dr", "the newest failover run, step by step",
       "failover status [--pair {pair}]", "failover status [--pair {pair}]", None),
    _c("failover.resume", "dr", "finish a failover that stopped part-way, after Confirm",
       "failover resume [--pair {pair}]", "failover resume [--pair {pair}]", None),
    _c("failback.plan", "dr", "what a failback to the primary would do",
       "failback plan [--pair {pair}]", "failback plan [--pair {pair}]", "D, then p"),
    _c("failback.execute", "dr", "run the failback, after Confirm",
       "failback execute [--pair {pair}]", "failback execute [--pair {pair}]", "D, then e"),
    _c("failback.status", "dr", "the newest failback run, step by step",
       "failback status [--pair {pair}]", "failback status [--pair {pair}]", None),
    _c("failback.resume", "dr", "finish a failback that stopped part-way, after Confirm",
       "failback resume [--pair {pair}]", "failback resume [--pair {pair}]", None),
    _c("audit", "audit", "who changed what, when, from where (every cluster's trail)",
       "audit list", "audit [{n}]", "a", "audit 20",
       screen=("Audit", 'Who changed what, when, from where; verify the signed trail')),
    _c("audit.verify", "audit", "check every trail's signatures and sequence",
       "audit verify", "audit verify", "a, then v"),
    _c("connect", "connect", "Kafka Connect: every connector with state and sink lag",
       "connect list", "connect", "C", "connect",
       screen=("Connect", "Kafka Connect: connectors, task states and traces, sink lag; "
               "restart, pause")),
    _c("connect.status", "connect", "one connector: tasks and each failed task's trace",
       "connect status {connector}", "connect {connector}", "C, then enter",
       "connect s3-sink"),
    _c("connect.restart", "connect", "restart a connector (or what failed), after Confirm",
       "connect restart {connector} [--failed-only]",
       "connect restart {connector} [--failed-only]", "C, then F",
       "connect restart s3-sink --failed-only"),
    _c("connect.pause", "connect", "pause a connector, after Confirm",
       "connect pause {connector}", "connect pause {connector}", "C, then p"),
    _c("connect.resume", "connect", "resume a paused connector, after Confirm",
       "connect resume {connector}", "connect resume {connector}", "C, then u"),
    _c("connect.stop", "connect", "stop a connector", "connect stop {connector}", None,
       "C, then x"),
    _c("usage", "usage", "bytes in and stored per team or topic, with the change before",
       "usage [--by {by}] [--team {team}] [--topic {topic}]",
       "usage [--by {by}] [--team {team}] [--topic {topic}]", "U",
       "usage", "usage --by topic --team payments", "usage --window 24h",
       screen=("Usage", 'Usage per team and topic: bytes in and stored, sparklines, top movers')),
    _c("usage.report", "usage", "the monthly chargeback: storage and ingress, priced",
       "usage report --month {month}", None, None),
    _c("policy", "usage", "topics that break the policies in config, with the fix",
       "policy check [--topic {topic}]", "policy [--topic {topic}]", "P",
       "policy", "policy --topic iac.changes",
       screen=("Compliance", "Topic policies: violations with the value found and the fix; fix "
               "configs")),
    _c("policy.fix", "usage", "change a topic's configs to what the policies require, "
       "after Confirm", "policy fix {topic}", "policy fix {topic}", "P, then F",
       "policy fix iac.changes"),
    _c("schema", "schema", "a Schema Registry subject: schema, versions, compatibility",
       "schemas show {subject}", "schema {subject}", "y", "schema orders-value"),
    _c("schemas", "schema", "Schema Registry subjects with their latest version, type and id",
       "schemas list", None, "y",
       screen=("Schemas", "Schema Registry: subjects, versions, diff of two versions, "
               "compatibility")),
    _c("schema.versions", "schema", "a subject's versions with their schema ids",
       "schemas versions {subject}", None, "y"),
    _c("schema.diff", "schema", "what changed between two versions of a subject",
       "schemas diff {subject} {version}", None, "y, then space"),
    _c("schema.compat", "schema", "is a schema file compatible with a subject",
       "schemas compat {subject} --file {file}", None, None),
    _c("schema.config", "schema", "a subject's (or the global) compatibility level; change it",
       "schemas config [{subject}]", None, None),
    # changes an administrator makes (each with a plan first, then Confirm or --yes)
    _c("topic.create", "topics", "create a topic", "topic create {topic} --partitions {count}",
       None, "t, then n"),
    _c("topic.delete", "topics", "delete a topic and every record in it",
       "topic delete {topic}", None, "t, then X"),
    _c("topic.partitions", "topics", "grow a topic to more partitions",
       "topic add-partitions {topic} --num {count}", None, "t, then enter, then +"),
    _c("produce", "topics", "produce records to a topic: a value, a file, or stdin lines",
       "produce {topic}", None, "t, then p"),
    _c("brokers", "status", "brokers: node id, host, rack, controller; their configs",
       "brokers", None, "c"),
    _c("group", "lag", "a consumer group's state, members, committed offsets and lag",
       "group describe {group}", None, "l, then enter"),
    _c("group.delete", "lag", "delete an empty consumer group and its committed offsets",
       "group delete {group}", None, "l, then enter, then X"),
    _c("alerts.check", "alerts", "evaluate the alert rules once, print what would fire",
       "alerts check", None, None),
    _c("alerts.run", "alerts", "evaluate the rules on a schedule, publish to the alerts topic",
       "alerts run", None, None),
    _c("connect.config", "connect", "a connector's config, secrets redacted",
       "connect config {connector}", None, "C, then enter, then v"),
    _c("connect.plugins", "connect", "connector plugins installed on the worker",
       "connect plugins", None, None),
    _c("connect.offsets", "connect", "a connector's committed offsets; reset them when stopped",
       "connect offsets {connector}", None, None),
    _c("connect.delete", "connect", "delete a connector (its offsets stay)",
       "connect delete {connector}", None, "C, then delete"),
    _c("usage.record", "usage", "measure usage now and keep the sample",
       "usage record", None, None),
    # running kafkaops itself: only at a terminal
    _c("console", "setup", "open the terminal console on the selected cluster",
       "console [--screen {screen}]", None, None),
    _c("bot", "setup", "run the Slack bot", "bot", None, None),
    _c("demo", "setup", "two local brokers with demo traffic, and the console on them",
       "demo", None, None),
    _c("doctor", "setup", "check config, every cluster, Slack, Schema Registry and Connect",
       "doctor", None, None),
    _c("config.show", "setup", "the config as read, every secret redacted", "config show",
       None, None),
    _c("config.check", "setup", "validate the config file", "config check", None, None),
    _c("completion", "setup", "a shell completion script", "completion {shell}", None, None),
)

BY_KEY: dict[str, Capability] = {c.key: c for c in CAPABILITIES}
#: help topics in the order help lists them
TOPICS: tuple[str, ...] = tuple(dict.fromkeys(c.topic for c in CAPABILITIES))


def most_used() -> list[Capability]:
    """The five things people do most (ranked 1 to 5), in order."""
    return sorted((c for c in CAPABILITIES if c.rank and c.slack), key=lambda c: c.rank)


def literal(template: str) -> str:
    """The fixed words a template starts with: `flag toggle {flag}` -> `flag toggle`."""
    out = []
    for word in template.split():
        if word.startswith(("{", "[", "-")):
            break
        out.append(word)
    return " ".join(out)


_PART = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, values: Mapping[str, object]) -> str:
    """The template with its placeholders filled: `[...]` parts whose placeholders are not
    all given are left out; other placeholders without a value show as their NAME."""

    def part(m: re.Match[str]) -> str:
        inner = m.group(1)
        names = _SLOT.findall(inner)
        if names and all(values.get(n) not in (None, "") for n in names):
            return inner
        return ""

    text = _PART.sub(part, template)
    text = _SLOT.sub(lambda m: _word(values.get(m.group(1)), m.group(1)), text)
    return " ".join(text.split())


def _word(value: object, name: str) -> str:
    if value in (None, ""):
        return name.upper()
    text = str(value)
    if not text or any(c.isspace() or c in "'\"" for c in text):
        return "'" + text.replace("'", "'\\''") + "'"
    return text


def say(key: str, face: Face, *, command: str = "/kafka", **values: object) -> str | None:
    """How a person does `key` in `face`: `/kafka lag billing`, `kafkaops lag --group
    billing`, or the console key; None when that face does not offer it."""
    cap = BY_KEY[key]
    if face == "console":
        return cap.console
    template = cap.cli if face == "cli" else cap.slack
    if template is None:
        return None
    head = "kafkaops" if face == "cli" else command
    return f"{head} {fill(template, values)}".strip()


_CLI_IN_TEXT = re.compile(r"`kafkaops ([^`]*)`")


def in_slack_words(text: str, command: str = "/kafka") -> str:
    """Core's messages name CLI commands (`kafkaops flags history KEY`); in Slack each is
    given as the slash command that does the same (`/kafka flag history KEY`), or, when
    Slack has no such command, marked as one for a terminal."""

    def swap(m: re.Match[str]) -> str:
        words = m.group(1).split()
        found = _match_cli(words)
        if found is not None:
            cap, values = found
            if cap.slack is not None:
                fixed = literal(cap.cli or "").split()
                read = [w for w in words if w != "--dry-run"]
                if len(read) < len(fixed):  # a group of commands (`kafkaops failback`)
                    return f"`{command} {' '.join(literal(cap.slack).split()[:len(read)])}`"
                rest = f" {values['rest']}" if values.get("rest") else ""
                return f"`{command} {fill(cap.slack, values)}{rest}`"
        return f"`kafkaops {m.group(1)}` (in a terminal)"

    return _CLI_IN_TEXT.sub(swap, text)


def in_console_words(text: str) -> str:
    """Core's messages name CLI commands (`kafkaops lag`); in the console each is given as
    the key that shows the same (`l` (Lag)), or, when the console has no such screen,
    marked as a command for a terminal."""

    def swap(m: re.Match[str]) -> str:
        found = _match_cli(m.group(1).split())
        if found is not None and found[0].console is not None:
            cap = found[0]
            title = f" ({cap.screen[0]})" if cap.screen else ""
            return f"key `{cap.console}`{title}"
        return f"`kafkaops {m.group(1)}` (in a terminal)"

    return _CLI_IN_TEXT.sub(swap, text)


def _match_cli(words: list[str]) -> tuple[Capability, dict[str, str]] | None:
    """The capability whose CLI template reads the most of `words`, with the values of
    its placeholders (and words it does not read kept as `rest`)."""
    words = [w for w in words if w != "--dry-run"]  # a plan is always shown before a change
    best: tuple[int, Capability, dict[str, str]] | None = None
    for cap in CAPABILITIES:
        if cap.cli is None:
            continue
        read = _read(_items(cap.cli), words)
        if read is None:
            continue
        values, used = read
        if best is None or used > best[0]:
            rest = " ".join(words[used:])
            best = (used, cap, {**values, "rest": rest} if rest else values)
    return None if best is None else (best[1], best[2])


Item = tuple[str, str] | tuple[str, list[tuple[str, str]]]


def _items(template: str) -> list[Item]:
    """A template as items: ("word", w), ("slot", name) and ("optional", [items])."""

    def one(tok: str) -> tuple[str, str]:
        m = _SLOT.fullmatch(tok)
        return ("slot", m.group(1)) if m else ("word", tok)

    out: list[Item] = []
    for m in re.finditer(r"\[([^\[\]]*)\]|(\S+)", template):
        if m.group(1) is not None:
            out.append(("optional", [one(t) for t in m.group(1).split()]))
        else:
            out.append(one(m.group(2)))
    return out


def _read(items: list[Item], words: list[str]) -> tuple[dict[str, str], int] | None:
    """(placeholder values, words read) when `words` start as the template does (words
    may stop early); None when a fixed word differs."""
    values: dict[str, str] = {}
    i = 0

    def take(item: tuple[str, str], at: int) -> int | None:
        kind, text = item
        if at >= len(words):
            return None
        if kind == "slot":
            if words[at].startswith("-"):
                return None
            values[text] = words[at]
            return at + 1
        return at + 1 if words[at] == text else None

    for item in items:
        if i >= len(words):
            break
        if item[0] == "optional":
            at: int | None = i
            for sub in item[1]:
                at = take(sub, at) if at is not None else None  # type: ignore[arg-type]
            if at is not None:
                i = at
            continue
        nxt = take(item, i)  # type: ignore[arg-type]
        if nxt is None:
            if item[0] == "word":
                return None
            break
        i = nxt
    return values, i
