"""`kafkaops doctor`: can kafkaops do its job from here? One line per check, saying what is
wrong and what to do; exit 1 when any check fails.

Checks (each bounded by its own timeout; they run at the same time):
- config: the file parses, and every ${VAR} it names is set in the environment;
- each cluster: a Metadata request answered within its request_timeout (with its TLS and
  SASL settings: refused credentials are said as such);
- Slack, when slack.bot_token is configured: auth.test with the bot token (and the
  workspace it answers for against slack.team_id); in Socket Mode the app token through
  apps.connections.open, in HTTP mode that a signing secret is set;
- each Schema Registry: GET /config within its timeout;
- each Kafka Connect cluster: GET / within its cluster's request_timeout, and that its
  workers use that Kafka cluster (the cluster id they report).

Nothing is written anywhere. Tokens are sent only to slack.api_url and never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Any

from kafkaops.cli.common import Context, add_json, print_json
from kafkaops.core.config import ClusterConfig, Config, Secret
from kafkaops.core.errors import ConfigError, KafkaOpsError

SLACK_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    check: str
    """What kind: config, cluster, slack, registry, connect."""
    target: str
    """What was checked: a file, a cluster name, a URL."""
    status: str
    """ok, fail, warn (works, but unsafe: says why) or skip (nothing configured to check)."""
    detail: str
    """What was found, or what is wrong and what to do."""
    seconds: float | None = None
    """How long it took, for checks that went over the network."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check config, every cluster, Slack, Schema Registry and Connect; one line each",
        description="Check the config, reach every cluster (within its request_timeout), "
        "Slack's auth.test when a bot token is configured, and every Schema Registry and "
        "Kafka Connect URL. One line per check; exit 1 when any fails.",
    )
    add_json(p)
    p.set_defaults(func=doctor_cmd)


async def doctor_cmd(args: argparse.Namespace, ctx: Context) -> int:
    try:
        config = ctx.config
    except ConfigError as e:
        checks = [Check("config", "config", "fail", str(e))]
    else:
        checks = [config_check(config), *signing_checks(config),
                  *([dr_signing_check(config)] if config.dr.pairs else []),
                  *await run_checks(config)]
    if args.json:
        print_json([dataclasses.asdict(c) for c in checks])
    else:
        for c in checks:
            sys.stdout.write(line(c) + "\n")
    return 1 if any(c.status == "fail" for c in checks) else 0


def line(c: Check) -> str:
    """`ok    cluster   primary: 1 broker, 12 topics ...` on one line, whatever the detail."""
    status = {"ok": "ok", "fail": "FAIL", "warn": "WARN", "skip": "skip"}[c.status]
    took = f" ({c.seconds:.2f} s)" if c.seconds is not None and c.status == "ok" else ""
    detail = " ".join(f"{c.detail}{took}".split())
    return f"{status:<5} {c.check:<9} {c.target}: {detail}"


# ---------------------------------------------------------------- config


def config_check(config: Config) -> Check:
    unset = [str(e) for e in _unset_secrets(config)]
    parts = [f"{len(config.clusters)} cluster{'s' if len(config.clusters) != 1 else ''}"]
    if _slack_configured(config):
        parts.append(f"Slack ({config.slack.mode} mode)")
    registries = {c.schema_registry for c in config.clusters.values() if c.schema_registry}
    if registries:
        parts.append(f"{len(registries)} schema registr{'ies' if len(registries) > 1 else 'y'}")
    connects = sum(len(c.connect) for c in config.clusters.values())
    if connects:
        parts.append(f"{connects} Connect cluster{'s' if connects > 1 else ''}")
    if unset:
        return Check("config", config.source, "fail",
                     "; ".join(unset) + " — set them in the environment")
    if not config.clusters:
        return Check("config", config.source, "fail",
                     "no clusters: add clusters: to the config, or give -b HOST:PORT")
    return Check("config", config.source, "ok", ", ".join(parts))


def signing_checks(config: Config) -> list[Check]:
    """Whether flag records are signed, and the public key a service's SDK verifies with."""
    from kafkaops.core.flags.signing import UNSIGNED_NOTE, signer_for, verifier_for

    try:
        signer, verifier = signer_for(config), verifier_for(config)
    except ConfigError as e:
        return [Check("signing", "flags", "fail", str(e))]
    if verifier is None:
        return [Check("signing", "flags", "warn",
                      UNSIGNED_NOTE + "; set flags.signing_key (or audit.signing_key)")]
    how = "signed and verified" if signer is not None else "verified only (no signing key)"
    return [Check("signing", "flags", "ok",
                  f"flag records {how} (Ed25519); services verify with "
                  f"FlagClient(verify_key={verifier.text!r})")]


def dr_signing_check(config: Config) -> Check:
    """Whether DR control records are signed, and the key a pair's followers verify with."""
    from kafkaops.core.dr import signing

    try:
        signer, verifier = signing.signer_for(config), signing.verifier_for(config)
    except ConfigError as e:
        return Check("signing", "dr control", "fail", str(e))
    if verifier is None:
        return Check("signing", "dr control", "warn",
                     signing.UNSIGNED_NOTE + "; set dr.signing_key (or audit.signing_key)")
    how = "signed and verified" if signer is not None else "verified only (no signing key)"
    return Check("signing", "dr control", "ok",
                 f"control records {how} (Ed25519); followers verify with "
                 f"ActiveClusterWatcher(verify_key={verifier.text!r})")


def _unset_secrets(node: Any) -> list[ConfigError]:
    """The error of every Secret whose ${VAR} is not set, walking the config."""
    if isinstance(node, Secret):
        try:
            node.reveal()
        except ConfigError as e:
            return [e]
        return []
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return [e for f in dataclasses.fields(node) for e in _unset_secrets(getattr(node, f.name))]
    if isinstance(node, dict):
        return [e for v in node.values() for e in _unset_secrets(v)]
    if isinstance(node, list):
        return [e for v in node for e in _unset_secrets(v)]
    return []


def _slack_configured(config: Config) -> bool:
    token = config.slack.bot_token
    return token.is_set or bool(_unset_secrets(token))


# ---------------------------------------------------------------- the network checks


async def run_checks(config: Config) -> list[Check]:
    names = list(config.clusters)
    registries: dict[Any, list[str]] = {}
    for name, cc in config.clusters.items():
        if cc.schema_registry is not None:
            registries.setdefault(cc.schema_registry, []).append(name)
    results = await asyncio.gather(
        *(cluster_checks(config, n) for n in names),
        slack_checks(config),
        *(registry_check(reg, users) for reg, users in registries.items()),
    )
    clusters = [c for r in results[: len(names)] for c in r if c.check == "cluster"]
    connects = [c for r in results[: len(names)] for c in r if c.check == "connect"]
    rest = [c for r in results[len(names):] for c in r]
    slack = [c for c in rest if c.check == "slack"]
    regs = [c for c in rest if c.check == "registry"]
    return [*clusters, *slack, *regs, *connects]


async def cluster_checks(config: Config, name: str) -> list[Check]:
    cc = config.clusters[name]
    check, cluster_id = await cluster_check(name, cc)
    connects = await asyncio.gather(
        *(connect_check(config, name, i, cluster_id) for i in range(len(cc.connect))))
    return [check, *connects]


async def cluster_check(name: str, cc: ClusterConfig) -> tuple[Check, str | None]:
    """A Metadata request within the cluster's request_timeout: (the check, its cluster id).
    When no broker answers, each bootstrap address is tried over plain TCP to say why."""
    from kafkaops.core.kafka.connection import KafkaConnection

    timeout = float(cc.request_timeout)
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            async with KafkaConnection(name, cc) as conn:
                meta = await conn.metadata()
    except TimeoutError:
        why = await _diagnose(name, cc, timeout)
        return Check("cluster", name, "fail",
                     f"no Kafka answer within {timeout:g} s (request_timeout); {why}"), None
    except KafkaOpsError as e:
        if not e.retriable:  # refused credentials, bad TLS files: core says what to fix
            return Check("cluster", name, "fail", _without_name(str(e), name)), None
        why = await _diagnose(name, cc, timeout)
        return Check("cluster", name, "fail", f"unreachable: {why}"), None
    took = time.monotonic() - started
    brokers = len(meta.brokers)
    topics = len(meta.topics)
    detail = (f"{brokers} broker{'s' if brokers != 1 else ''}, {topics} "
              f"topic{'s' if topics != 1 else ''} at {cc.bootstrap_servers}"
              + (f", cluster id {meta.cluster_id}" if meta.cluster_id else "")
              + (", read-only" if cc.read_only else ""))
    return Check("cluster", name, "ok", detail, round(took, 3)), meta.cluster_id


def _without_name(message: str, name: str) -> str:
    """core's "cluster 'x' at ... refused ..." reads "at ... refused ..." after "x:"."""
    prefix = f"cluster {name!r} "
    return message[len(prefix):] if message.startswith(prefix) else message


async def _diagnose(name: str, cc: ClusterConfig, within: float) -> str:
    """Why the bootstrap addresses gave no Kafka answer, from a TCP connect to each."""
    import socket

    key = f"clusters.{name}"

    async def one(address: str) -> str:
        host, _, port = address.rpartition(":")
        try:
            async with asyncio.timeout(min(within, 5.0)):
                _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except TimeoutError:
            return (f"{address} does not answer TCP connects — check {key}.bootstrap_servers "
                    "and the firewalls in between")
        except socket.gaierror:
            return f"host {host!r} does not resolve — check {key}.bootstrap_servers and DNS"
        except ConnectionRefusedError:
            return (f"nothing listens on {address} (connection refused) — check the port in "
                    f"{key}.bootstrap_servers and that the brokers run")
        except OSError as e:
            return f"{address}: {e.strerror or e} — check {key}.bootstrap_servers"
        writer.close()
        return (f"{address} accepts connections but gave no Kafka answer with "
                f"security_protocol {cc.security_protocol} — check {key}.security_protocol "
                "(does the broker want TLS or SASL?) and that it is a Kafka listener")

    return "; ".join(dict.fromkeys(await asyncio.gather(*(one(a) for a in cc.bootstrap_list))))


async def slack_checks(config: Config) -> list[Check]:
    slack = config.slack
    if not _slack_configured(config):
        return [Check("slack", "bot token", "skip",
                      "no slack.bot_token in config (the bot is not set up here)")]
    try:
        token = slack.bot_token.reveal()
    except ConfigError as e:
        return [Check("slack", "bot token", "fail", f"cannot check: {e}")]
    import httpx

    url = slack.api_url if slack.api_url.endswith("/") else slack.api_url + "/"
    out: list[Check] = []
    async with httpx.AsyncClient(timeout=SLACK_TIMEOUT) as http:
        started = time.monotonic()
        answer = await _slack_call(http, url, "auth.test", token)
        if isinstance(answer, str):
            out.append(Check("slack", "bot token", "fail", f"auth.test at {url}: {answer}"
                             + _if_refused(answer, " — check slack.bot_token (xoxb-...)")))
        else:
            team, team_id = answer.get("team", "?"), answer.get("team_id", "?")
            if slack.team_id and slack.team_id != team_id:
                out.append(Check("slack", "bot token", "fail",
                                 f"the token is for workspace {team!r} ({team_id}), but "
                                 f"slack.team_id is {slack.team_id} — use that workspace's "
                                 "token or fix slack.team_id"))
            else:
                out.append(Check("slack", "bot token", "ok",
                                 f"auth.test: bot @{answer.get('user', '?')} in workspace "
                                 f"{team!r} ({team_id})", round(time.monotonic() - started, 3)))
        out.append(await _slack_mode_check(config, http, url))
    return out


async def _slack_mode_check(config: Config, http: Any, url: str) -> Check:
    slack = config.slack
    if slack.mode == "http":
        if not slack.signing_secret.is_set:
            try:
                slack.signing_secret.reveal()
                problem = "slack.signing_secret is empty"
            except ConfigError as e:
                problem = str(e)
            return Check("slack", "http mode", "fail",
                         f"{problem}; HTTP mode verifies every request with the app's signing "
                         "secret (usually ${SLACK_SIGNING_SECRET})")
        return Check("slack", "http mode", "ok",
                     f"signing secret set; Slack must reach "
                     f"http://{slack.http.host}:{slack.http.port}/slack/events")
    try:
        app_token = slack.app_token.reveal()
    except ConfigError as e:
        return Check("slack", "app token", "fail", f"cannot check: {e}")
    if not app_token:
        return Check("slack", "app token", "fail",
                     "slack.app_token is empty; Socket Mode needs the app-level token "
                     "(xapp-..., usually ${SLACK_APP_TOKEN})")
    started = time.monotonic()
    answer = await _slack_call(http, url, "apps.connections.open", app_token)
    if isinstance(answer, str):
        return Check("slack", "app token", "fail",
                     f"apps.connections.open at {url}: {answer}" + _if_refused(
                         answer, " — check slack.app_token (xapp-..., with the "
                         "connections:write scope)"))
    return Check("slack", "app token", "ok", "Socket Mode connections can be opened",
                 round(time.monotonic() - started, 3))


def _if_refused(answer: str, hint: str) -> str:
    """The token hint, only when Slack answered and refused the token (a network failure
    already says what to check)."""
    return hint if answer.startswith("refused") else ""


async def _slack_call(http: Any, url: str, method: str, token: str) -> dict[str, Any] | str:
    """The Web API's answer when ok, else what went wrong (never the token)."""
    import httpx

    try:
        resp = await http.post(url + method, headers={"Authorization": f"Bearer {token}"})
    except httpx.TimeoutException:
        return f"no answer within {SLACK_TIMEOUT:g} s (check slack.api_url and the network)"
    except httpx.HTTPError as e:
        return (f"cannot reach Slack's Web API ({str(e) or type(e).__name__}); check "
                "slack.api_url and the network")
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"HTTP {resp.status_code}, not a Web API answer (is slack.api_url right?)"
    if not body.get("ok"):
        return f"refused ({str(body.get('error') or 'no reason given')[:100]})"
    return body


async def registry_check(reg: Any, users: list[str]) -> list[Check]:
    from kafkaops.core.schema.client import RegistryClient

    client = RegistryClient(reg, where=f"clusters.{users[0]}.schema_registry")
    started = time.monotonic()
    try:
        level = (await client.compatibility()).level
    except KafkaOpsError as e:
        return [Check("registry", client.url, "fail", str(e))]
    finally:
        await client.aclose()
    return [Check("registry", client.url, "ok",
                  f"answers; compatibility {level}; used by {', '.join(users)}",
                  round(time.monotonic() - started, 3))]


async def connect_check(config: Config, cluster: str, index: int,
                        cluster_id: str | None) -> Check:
    from kafkaops.core.connect.client import ConnectClient
    from kafkaops.core.connect.rules import parse_worker

    cc = config.clusters[cluster]
    entry = cc.connect[index]
    target = f"{cluster}/{entry.name}"
    started = time.monotonic()
    try:
        async with ConnectClient(cluster, entry, index=index,
                                 timeout=float(cc.request_timeout)) as client:
            body = await client.get("/")
        info = parse_worker(client.url, body)
    except KafkaOpsError as e:
        return Check("connect", target, "fail", str(e))
    except ValueError as e:
        return Check("connect", target, "fail",
                     f"{entry.url} answered GET / in a shape Kafka Connect's REST API does not "
                     f"use ({e}) — check clusters.{cluster}.connect[{index}].url")
    if cluster_id and info.kafka_cluster_id and info.kafka_cluster_id != cluster_id:
        return Check("connect", target, "fail",
                     f"{entry.url} runs on Kafka cluster id {info.kafka_cluster_id}, but "
                     f"cluster {cluster} has id {cluster_id} — list it under the cluster its "
                     "workers use")
    return Check("connect", target, "ok",
                 f"Kafka Connect {info.version} at {entry.url}",
                 round(time.monotonic() - started, 3))
