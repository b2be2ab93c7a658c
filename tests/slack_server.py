"""A local Slack for tests: answers as Slack's Web API does and records every call.

One aiohttp server on 127.0.0.1 (a free port), in the test's own event loop:
- `POST|GET /api/<method>`: the Web API methods the bot uses (auth.test, chat.postMessage,
  chat.postEphemeral, chat.update, usergroups.users.list, apps.connections.open,
  views.open, views.update, views.publish), with Slack's `{"ok": false, "error": ...}`
  answers for a bad token, an unknown group, a view without blocks or over 100 of them;
- `POST /response/<id>`: response_url endpoints (make one with `response_url()`; make
  them answer 404 `expired_url` with `expire_response_urls = True`);
- `GET /link`: a Socket Mode WebSocket. apps.connections.open returns its ws:// URL; the
  server sends `hello` on connect, and `await send_envelope(type, payload)` delivers an
  envelope and returns the app's acknowledgement.

Plus what a test needs to act as Slack towards the bot's HTTP endpoint: request signing
(v0 HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret) and the payloads of a
slash command and a button click. Reused by every bot test and by bench/slack_ack.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

BOT_TOKEN = "xoxb-kafkaops-test"
APP_TOKEN = "xapp-1-kafkaops-test"
SIGNING_SECRET = "kafkaops-test-signing-secret"
TEAM_ID = "T0KAFKAOPS"
APP_ID = "A0KAFKAOPS"
BOT_USER_ID = "U0KAFKABOT"


@dataclass
class Call:
    """One request the local Slack received."""

    method: str
    """Web API method (chat.postMessage, ...) or "response_url"."""
    params: dict[str, Any]
    """Arguments: JSON body, form fields and query string merged."""
    token: str | None = None
    """Bearer token it carried."""
    path: str = ""
    """Request path (for response_url calls: which URL)."""
    at: float = field(default_factory=time.monotonic)
    """When it arrived."""

    @property
    def text(self) -> str:
        """The `text` plus every text inside the blocks, for assertions on what a user reads."""
        parts = [str(self.params.get("text", ""))]
        blocks = self.params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        parts += list(_texts(blocks))
        return "\n".join(p for p in parts if p)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @property
    def action_values(self) -> dict[str, str]:
        """action_id -> value of every button in the blocks."""
        out = {}
        for b in self.blocks:
            for e in b.get("elements", []) if b.get("type") == "actions" else []:
                out[e["action_id"]] = e.get("value", "")
        return out

    @property
    def accessories(self) -> dict[str, str]:
        """action_id -> value of every section's button (an overflow menu: its options'
        values, one per line)."""
        out = {}
        for b in self.blocks:
            acc = b.get("accessory") or {}
            if "action_id" in acc:
                out[acc["action_id"]] = acc.get("value") or "\n".join(
                    o.get("value", "") for o in acc.get("options", []))
        return out


#: the widest line a code block of the bot's may have (bot/render/common.py CODE_WIDTH)
CODE_WIDTH = 60
_CODE = re.compile(r"```(.*?)```", re.S)


def wide_code_lines(params: Any, width: int = CODE_WIDTH) -> list[str]:
    """Lines of ``` code blocks anywhere in a message wider than `width` (as Slack shows
    them: &lt; &gt; &amp; are one character)."""
    out = []
    for text in _texts(params):
        for block in _CODE.findall(text):
            for line in block.split("\n"):
                shown = line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                if len(shown) > width:
                    out.append(shown)
    return out


def _texts(node: Any) -> Any:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "text" and isinstance(v, str):
                yield v
            else:
                yield from _texts(v)
    elif isinstance(node, list):
        for v in node:
            yield from _texts(v)


class SlackServer:
    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        #: user group ID -> member user IDs, as usergroups.users.list answers
        self.usergroups: dict[str, list[str]] = dict(usergroups or {})
        self.calls: list[Call] = []
        #: (method, lines) of every message whose code blocks have a line wider than a
        #: phone shows (CODE_WIDTH): bot tests assert there is none
        self.wide_code: list[tuple[str, list[str]]] = []
        self.expire_response_urls = False
        self.received_ws: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._ws: web.WebSocketResponse | None = None
        self._ws_connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._ts = 1700000000
        self._views = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> SlackServer:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> SlackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        return f"{self.url}api/"

    def response_url(self) -> str:
        """A fresh response_url, as Slack puts in every slash command and interaction."""
        return f"{self.url}response/{uuid.uuid4().hex}"

    # ------------------------------------------------------------ what was received

    def calls_to(self, method: str, path: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (path is None or c.path == path)]

    async def wait_for(
        self,
        method: str,
        where: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        within: float = 20.0,
    ) -> list[Call]:
        """The first `count` calls to `method` matching `where`, waiting for them to arrive."""

        def matching() -> list[Call]:
            return [c for c in self.calls if c.method == method and (where is None or where(c))]

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()[:count]

    async def wait_for_response(self, response_url: str, count: int = 1) -> list[Call]:
        path = response_url[len(self.url) - 1 :]
        return await self.wait_for("response_url", lambda c: c.path == path, count=count)

    async def _record(self, call: Call) -> None:
        wide = wide_code_lines(call.params)
        if wide:
            self.wide_code.append((call.method, wide))
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    # ------------------------------------------------------------ Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        body = await request.read()
        ctype = request.headers.get("Content-Type", "")
        if body:
            if ctype.startswith("application/json"):
                params.update(json.loads(body))
            else:
                params.update(dict(parse_qsl(body.decode())))
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else params.get("token")
        await self._record(Call(method, params, token, request.path))
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = _API.get(method)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response(handler(self, params))

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts}.000100"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://kafkaops-test.slack.com/",
            "team": "kafkaops test",
            "user": "kafkaops",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": "B0KAFKABOT",
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "message": {"text": params.get("text", ""), "ts": ts, "user": BOT_USER_ID},
        }

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": params.get("channel"), "ts": params["ts"],
                "text": params.get("text", "")}

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not isinstance(view, dict) or not view.get("blocks") or len(view["blocks"]) > 100:
            return {"ok": False, "error": "invalid_arguments"}
        self._views += 1
        vid = params.get("view_id") or f"V{self._views:08d}"
        return {"ok": True, "view": {**view, "id": vid}}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return self._view(params)

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("view_id"):
            return {"ok": False, "error": "not_found"}
        return self._view(params)

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        return self._view(params)

    def _usergroup_users(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("usergroup")
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?ticket={uuid.uuid4().hex}"}

    # ------------------------------------------------------------ response_url

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self._record(Call("response_url", body, None, request.path))
        if self.expire_response_urls:
            return web.Response(status=404, text="expired_url")
        return web.Response(text="ok")

    # ------------------------------------------------------------ Socket Mode

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "applink-local", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": "A0KAFKAOPS"},
                }
            )
        )
        self._ws_connected.set()
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            self.received_ws.append(data)
            fut = self._acks.pop(data.get("envelope_id", ""), None)
            if fut is not None and not fut.done():
                fut.set_result(data)
        if self._ws is ws:
            self._ws = None
            self._ws_connected.clear()
        return ws

    async def drop_connection(self) -> None:
        """Close the Socket Mode WebSocket from the server side, as Slack does on a refresh."""
        ws = self._ws
        if ws is not None:
            self._ws = None
            self._ws_connected.clear()
            await ws.close()

    async def wait_connected(self, within: float = 20.0) -> None:
        async with asyncio.timeout(within):
            await self._ws_connected.wait()

    async def send_envelope(
        self, type_: str, payload: dict[str, Any], *, within: float = 20.0
    ) -> dict[str, Any]:
        """Deliver an envelope over the Socket Mode connection; return the app's ack message
        (`{"envelope_id": ..., "payload": {...}}` when it answered with a body)."""
        await self.wait_connected(within)
        assert self._ws is not None
        envelope_id = str(uuid.uuid4())
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = fut
        await self._ws.send_str(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": type_,
                    "payload": payload,
                    "accepts_response_payload": type_ != "events_api",
                }
            )
        )
        async with asyncio.timeout(within):
            return await fut


_API: dict[str, Callable[[SlackServer, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": SlackServer._auth_test,
    "chat.postMessage": SlackServer._post_message,
    "chat.postEphemeral": SlackServer._post_ephemeral,
    "chat.update": SlackServer._update,
    "usergroups.users.list": SlackServer._usergroup_users,
    "views.open": SlackServer._views_open,
    "views.update": SlackServer._views_update,
    "views.publish": SlackServer._views_publish,
    "apps.connections.open": SlackServer._connections_open,
}


# ---------------------------------------------------------------- acting as Slack


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command(
    text: str,
    *,
    response_url: str,
    user: str = "U0ALICE",
    user_name: str = "alice",
    channel: str = "C0INCIDENT",
    command: str = "/kafka",
    team: str = TEAM_ID,
    app: str = APP_ID,
) -> dict[str, str]:
    """A slash command payload: the form fields over HTTP, the payload in Socket Mode."""
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "kafkaops-test",
        "channel_id": channel,
        "channel_name": "incident",
        "user_id": user,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": app,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{team}",
    }


def button_click(
    action_id: str,
    value: str,
    *,
    response_url: str,
    user: str = "U0ALICE",
    channel: str = "C0INCIDENT",
    message_ts: str = "1700000001.000100",
    is_ephemeral: bool = True,
    team: str = TEAM_ID,
    app: str = APP_ID,
) -> dict[str, Any]:
    """A block_actions payload: a click on a button in a message the bot sent."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": app,
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{team}",
        "team": {"id": team, "domain": "kafkaops-test"},
        "channel": {"id": channel, "name": "incident"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "kafkaops.confirm",
                "text": {"type": "plain_text", "text": "Confirm"},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def event_body(event: dict[str, Any], *, team: str = TEAM_ID, app: str = APP_ID) -> bytes:
    """An Events API request (JSON): an app_home_opened, an app_mention, ..."""
    return json.dumps({
        "token": "legacy-verification-token", "team_id": team, "api_app_id": app,
        "event": event, "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()), "authorizations": [
            {"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
    }).encode()


def message_shortcut(callback_id: str, text: str, *, response_url: str, user: str = "U0ALICE",
                     channel: str = "C0INCIDENT", team: str = TEAM_ID, app: str = APP_ID
                     ) -> dict[str, Any]:
    """A message_action payload: a message shortcut used on someone's message."""
    return {
        "type": "message_action", "callback_id": callback_id, "api_app_id": app,
        "token": "legacy-verification-token",
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{team}",
        "team": {"id": team, "domain": "kafkaops-test"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "channel": {"id": channel, "name": "incident"},
        "message": {"type": "message", "user": "U0CAROL", "ts": "1700000099.000100",
                    "text": text},
        "message_ts": "1700000099.000100", "response_url": response_url,
    }


def view_submission(view: dict[str, Any], values: dict[str, dict[str, Any]], *,
                    user: str = "U0ALICE", team: str = TEAM_ID, app: str = APP_ID
                    ) -> dict[str, Any]:
    """A view_submission payload: `view` as the bot opened it, `values` by block id (the
    element's state, e.g. {"type": "static_select", "selected_option": {"value": "g"}})."""
    return {
        "type": "view_submission", "api_app_id": app, "token": "legacy-verification-token",
        "team": {"id": team, "domain": "kafkaops-test"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.{team}",
        "view": {**view, "state": {"values": {b: {"value": v} for b, v in values.items()}}},
    }


def form_body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def post_signed(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """POST as Slack does: signed body; returns (status, response text)."""
    h = signed_headers(body, secret=secret, timestamp=timestamp)
    if headers:
        h.update(headers)
    async with session.post(url, data=body, headers=h) as resp:
        return resp.status, await resp.text()
