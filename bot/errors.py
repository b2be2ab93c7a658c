"""What Slack is told when something fails, and what only the log is told.

Anyone in the workspace can run `/kafka`, so an error reply carries a short reason and an
error id, never the config file's path, a broker's or a server's address, or a Python
exception's name: core's messages are written for the operator at a terminal and name all
three ("cluster 'dr' unreachable at 10.0.0.5:9092: KafkaConnectionError ... — check
clusters.dr.bootstrap_servers"). The log gets the whole message under the same id, so
whoever runs the bot finds it from the id the user quotes.

`public(problem)` does both: logs the detail once and returns the text for Slack.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable

from kafkaops.core.config import Config
from kafkaops.core.errors import KafkaOpsError

log = logging.getLogger("kafkaops.bot")

HIDDEN = "…"
#: what is taken out of a message before Slack sees it, in this order
_SCRUB = [
    re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.I),  # URLs (Web API, REST admin APIs)
    # host:port, [v6]:port, Python's ('host', port, ...) and bare IPv4 addresses
    re.compile(r"\(\s*'[^']*'\s*,\s*\d+[^()]*\)"),
    re.compile(r"\[[0-9a-f:.]+\](?::\d+)?", re.I),
    re.compile(r"\b(?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*:\d{2,5}\b", re.I),
    re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b"),
    # file paths: absolute or home-relative with two parts or more, and config-like files
    re.compile(r"(?<![\w/])~?/(?:[\w.-]+/)+[\w.-]*"),
    re.compile(r"(?<![\w/])[\w.-]+\.(?:ya?ml|pem|crt|cer|key|jks|p12|json|conf|cfg|ini)\b",
               re.I),
    # Python's names for what went wrong, and the repr noise around them
    re.compile(r"<[\w.]+(?::\s*-?\d+)?>"),
    re.compile(r"\[Errno -?\d+\]\s*"),
    re.compile(r"\b(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Timeout|Warning|Exit)\b"
               r"(?:\(\))?:?\s*"),
]
_COLLAPSE = re.compile(rf"(?:{re.escape(HIDDEN)}[\s,;:'\"()\[\]]*)+{re.escape(HIDDEN)}")
MAX_REASON = 500


def hidden_values(config: Config) -> list[str]:
    """What config names that must not reach Slack even where no pattern finds it: the
    config file itself, every cluster's bootstrap list, the Web API's URL."""
    out = [config.source] if config.source and not config.source.startswith("<") else []
    out += [c.bootstrap_servers for c in config.clusters.values()]
    out.append(config.slack.api_url)
    return [v for v in out if v]


def scrub(text: str, hidden: Iterable[str] = ()) -> str:
    """`text` with paths, addresses, URLs and exception names replaced by an ellipsis."""
    for value in sorted(set(hidden), key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    for pattern in _SCRUB:
        text = pattern.sub(HIDDEN + " ", text)
    text = _COLLAPSE.sub(HIDDEN, text)
    text = re.sub(r"\s+([,;:)\]])", r"\1", text)
    text = re.sub(r"[(\[]\s*(?:…\s*)?[)\]]", HIDDEN, text)
    text = re.sub(r"\s{2,}", " ", text).strip(" :;,")
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + HIDDEN


def new_error_id() -> str:
    return "E" + secrets.token_hex(4)


def public(problem: BaseException | str, *, config: Config | None = None,
           what: str = "") -> str:
    """Log the whole problem under a new error id; return the short reason for Slack, with
    the id. An exception that is not one of core's own is an internal error: Slack gets
    no more than that, the log its traceback."""
    eid = new_error_id()
    where = f" ({what})" if what else ""
    hidden = hidden_values(config) if config is not None else []
    if isinstance(problem, BaseException) and not isinstance(problem, KafkaOpsError):
        log.error("error %s%s: internal error: %r", eid, where, problem, exc_info=problem)
        return f"internal error (error id {eid}; the bot's log has the details)"
    detail = str(problem)
    log.warning("error %s%s: %s", eid, where, detail)
    reason = scrub(detail, hidden) or "failed"
    return f"{reason} (error id {eid})"
