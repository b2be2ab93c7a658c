"""What every request from Slack must pass before slack-bolt reads it (HTTP mode).

In order, each with the reason it is refused under (logged once, counted in /metrics as
`kafkaops_slack_requests_refused_total{reason}`):

1. `X-Slack-Request-Timestamp` is a whole number (401 `malformed`) within five minutes of
   now (401 `stale`): a signed request captured earlier cannot be sent again later.
2. `X-Slack-Signature` is Slack's v0 HMAC of timestamp and body under the signing secret
   (slack_sdk's SignatureVerifier): 401 `bad_signature`. Nothing else is read from a body
   that is not signed.
3. The body is what Slack sends (UTF-8 form fields, a form `payload` holding a JSON object,
   or a JSON object): 400 `malformed`, never a 500 with a traceback. (A body that is not
   UTF-8 is refused so before its signature is checked: slack_sdk's verifier decodes it.)
4. It comes from the workspace and app the config names (`slack.team_id`, `slack.app_id`;
   learnt from auth.test when not set): 403 `wrong_workspace`, before any command is
   parsed or any user is matched against roles (user IDs are only unique per workspace).
5. It is new: a Slack retry (`X-Slack-Retry-Num`: the first delivery was acknowledged) and
   a signed request this process saw in the last five minutes get 200 and no action
   (`retry`, `replay`). Across replicas, each listener's lazy part claims the request on
   `_kafkaops.requests` before it acts (`Bot.first_time`), so a replay sent to another
   replica does nothing there either.

In Socket Mode there is no HTTP request to check (the WebSocket is opened with the app
token; envelopes are not signed): the workspace check runs there as a bolt middleware
(`WorkspaceCheck.middleware`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from kafkaops.core.errors import KafkaOpsError

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from kafkaops.core.config import SlackConfig
    from kafkaops.core.metrics import MetricsRegistry

log = logging.getLogger("kafkaops.bot")

#: Slack's window: a signature older (or newer) than this is refused
WINDOW = 300.0
REFUSED = "kafkaops_slack_requests_refused_total"
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
#: what each refusal answers: (HTTP status, body). The body says no more than the status.
_ANSWER = {
    "malformed": (400, "malformed request"),
    "stale": (401, "invalid request"),
    "bad_signature": (401, "invalid request"),
    "wrong_workspace": (403, "this app does not serve that workspace"),
    "workspace_unknown": (503, "not ready"),
    "retry": (200, ""),
    "replay": (200, ""),
}


@dataclass(frozen=True)
class Refusal:
    """Why a request is not handed to bolt, and what it is answered."""

    reason: str
    """The metric label: malformed, stale, bad_signature, wrong_workspace, retry, replay."""
    detail: str
    """For the log: what exactly was wrong."""
    status_: int | None = None
    """The HTTP status, when not the reason's usual one."""

    @property
    def status(self) -> int:
        return self.status_ or _ANSWER[self.reason][0]

    @property
    def text(self) -> str:
        return _ANSWER[self.reason][1]


def count_refusal(metrics: MetricsRegistry, r: Refusal, remote: str) -> None:
    """Log a refusal once, with its reason and where it came from, and count it."""
    log.warning("refused a Slack request from %s: %s (%s)", remote or "?", r.reason, r.detail)
    metrics.inc(REFUSED, {"reason": r.reason})


def request_key(timestamp: str, signature: str) -> str:
    """What a request is remembered by: a digest of its timestamp and signature."""
    return hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


def parse_body(text: str, content_type: str) -> dict[str, Any] | None:
    """The body as slack-bolt will read it (same rules: JSON when it says so or starts with
    `{`, else form fields, a `payload` field holding JSON); None when that would fail or
    not give an object."""
    try:
        if content_type.startswith("application/json") or text.startswith("{"):
            data = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            # bolt looks for the word anywhere in the body, then for the field
            data = json.loads(fields["payload"]) if "payload" in fields else fields
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def workspace_of(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(team ID, app ID) a request names: slash commands and Events API carry `team_id`,
    interactions `team.id` (or `user.team_id`); all carry `api_app_id`."""
    team = body.get("team_id")
    if not isinstance(team, str):
        t, u = body.get("team"), body.get("user")
        team = (t.get("id") if isinstance(t, dict) else None) or (
            u.get("team_id") if isinstance(u, dict) else None)
    app = body.get("api_app_id")
    return (team if isinstance(team, str) else None), (app if isinstance(app, str) else None)


def _needs_no_workspace(body: Mapping[str, Any]) -> bool:
    """Slack's own probes, which name no workspace and run nothing: the periodic SSL check
    of a slash command URL and the Events API's URL verification."""
    return body.get("ssl_check") == "1" or body.get("type") == "url_verification"


class WorkspaceCheck:
    """The workspace and app requests must come from: config, else auth.test (once)."""

    def __init__(self, slack: SlackConfig, client: AsyncWebClient) -> None:
        self.team_id = slack.team_id
        self.app_id = slack.app_id
        self._client = client
        self._learnt = self.team_id is not None and self.app_id is not None
        self._lock = asyncio.Lock()

    async def learn(self) -> None:
        """Ask auth.test for what config does not say. Raises KafkaOpsError (retriable)
        when Slack does not answer: then requests are refused until it does."""
        if self._learnt:
            return
        async with self._lock:
            if self._learnt:
                return
            try:
                resp = await self._client.auth_test()
            except Exception as e:  # Slack's refusal, or the network's (aiohttp, OSError)
                why = e.response.get("error") if isinstance(e, SlackApiError) else repr(e)
                raise KafkaOpsError(f"cannot learn the workspace from auth.test: {why}",
                                    retriable=True) from None
            if self.team_id is None:
                self.team_id = str(resp.get("team_id") or "") or None
            if self.app_id is None:
                self.app_id = str(resp.get("app_id") or "") or None
                if self.app_id is None:
                    log.warning("auth.test does not name this app's ID: requests are checked "
                                "for workspace %s only; set slack.app_id (the app's Basic "
                                "Information page) to check the app too", self.team_id)
            if self.team_id is None:
                raise KafkaOpsError("auth.test named no workspace (team_id)", retriable=True)
            self._learnt = True

    def problem(self, body: Mapping[str, Any]) -> str | None:
        """Why `body` is not from our workspace and app; None when it is."""
        if _needs_no_workspace(body):
            return None
        team, app = workspace_of(body)
        if team != self.team_id:
            return f"workspace {team!r} is not {self.team_id!r}"
        if self.app_id is not None and app != self.app_id:
            return f"app {app!r} is not {self.app_id!r}"
        return None

    def middleware(self, refused: Callable[[Refusal, str], None]
                   ) -> Callable[..., Awaitable[BoltResponse]]:
        """A bolt middleware doing the same check (Socket Mode has no HTTP guard). A
        refused envelope is acknowledged empty: Slack would resend one left unanswered."""

        async def check(body: dict[str, Any], next_: Callable[[], Awaitable[BoltResponse]]
                        ) -> BoltResponse:
            try:
                await self.learn()
                why = self.problem(body)
                r = None if why is None else Refusal("wrong_workspace", why)
            except KafkaOpsError as e:
                r = Refusal("workspace_unknown", str(e))
            if r is None:
                return await next_()
            refused(r, "Socket Mode")
            return BoltResponse(status=200, body="")

        return check


class RequestGuard:
    """Checks 1 to 5 of the module docstring on one HTTP request."""

    def __init__(self, signing_secret: str, workspace: WorkspaceCheck,
                 refused: Callable[[Refusal, str], None], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._verifier = SignatureVerifier(signing_secret)
        self.workspace = workspace
        self.refused = refused
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # request key -> seen at

    async def check(self, headers: Mapping[str, str], body: bytes, *, remote: str = ""
                    ) -> tuple[Refusal | None, str]:
        """(why it is refused or None, the body as text). A refusal is logged and counted
        here, once."""
        r, text, _ = await self.inspect(headers, body, remote=remote)
        return r, text

    async def inspect(self, headers: Mapping[str, str], body: bytes, *, remote: str = ""
                      ) -> tuple[Refusal | None, str, dict[str, Any] | None]:
        """`check`, plus the body as parsed for the workspace check (None when it was not
        read that far)."""
        r, text, data = await self._check(headers, body)
        if r is not None:
            self.refused(r, remote)
        return r, text, data

    async def _check(self, headers: Mapping[str, str], body: bytes
                     ) -> tuple[Refusal | None, str, dict[str, Any] | None]:
        ts = headers.get("X-Slack-Request-Timestamp", "")
        sig = headers.get("X-Slack-Signature", "")
        if not ts or not sig:
            return Refusal("bad_signature", "no signature or timestamp headers"), "", None
        if not _TIMESTAMP.match(ts):
            return Refusal("malformed", f"timestamp {ts[:20]!r} is not a number", 401), "", None
        now = self.clock()
        if abs(now - int(ts)) > WINDOW:
            return Refusal("stale", f"timestamp {int(now - int(ts))} s from now"), "", None
        try:  # Slack sends UTF-8 only (and slack_sdk's verifier decodes it so)
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Refusal("malformed", "body is not UTF-8"), "", None
        if not self._verifier.is_valid(text, ts, sig):
            return Refusal("bad_signature", "signature does not match the body"), "", None
        data = parse_body(text, headers.get("Content-Type", ""))
        if data is None:
            return Refusal("malformed", "body is not form fields or a JSON object"), text, None
        try:
            await self.workspace.learn()
        except KafkaOpsError as e:
            return Refusal("workspace_unknown", str(e)), text, data
        why = self.workspace.problem(data)
        if why is not None:
            return Refusal("wrong_workspace", why), text, data
        if headers.get("X-Slack-Retry-Num"):
            reason = headers.get("X-Slack-Retry-Reason", "")[:40]
            return Refusal("retry", f"Slack's retry {headers['X-Slack-Retry-Num'][:4]} "
                                    f"({reason or 'no reason given'})"), text, data
        key = request_key(ts, sig)
        self._forget(now)
        if key in self._seen:
            return Refusal("replay", "this signed request was already received"), text, data
        self._seen[key] = now
        return None, text, data

    def _forget(self, now: float) -> None:
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if now - at <= WINDOW * 2:
                break
            del self._seen[key]
