"""One Kafka Connect cluster's REST API over httpx: timeouts, basic auth, TLS, and every
failure turned into one of core's Connect errors at one boundary (`_send`).

    async with ConnectClient("primary", entry) as client:
        body = await client.get("/connectors", params=[("expand", "status")])

The REST API's own error bodies ({"error_code": 404, "message": "Unknown connector: x"})
become the message people see. A 409 means the Connect cluster is rebalancing or its
config changed under the request: it is retried with a growing delay (each retry is told to
`on_retry` so a face can say so), then raised as ConnectRebalancing. Nothing here knows
connectors; service.py does.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from kafkaops.core.config import ConnectConfig
from kafkaops.core.connect.errors import (
    ConnectAuthError,
    ConnectError,
    ConnectorNotFound,
    ConnectRebalancing,
    ConnectUnreachable,
    NotConnect,
)
from kafkaops.core.errors import ConfigError

#: seconds to wait before each retry of a 409 (rebalance): about 7 s in all
REBALANCE_RETRIES = (0.5, 1.0, 2.0, 3.5)
#: the longest response body read (a connector list with configs is a few hundred KB)
MAX_BODY = 32 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0

Params = Sequence[tuple[str, str]] | None
OnRetry = Callable[[str], Awaitable[None] | None]


class ConnectClient:
    """The REST API of one Connect cluster (one worker's URL from config)."""

    def __init__(self, cluster: str, entry: ConnectConfig, *, index: int = 0,
                 timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.AsyncBaseTransport | None = None,
                 retries: Sequence[float] = REBALANCE_RETRIES) -> None:
        self.cluster = cluster
        self.entry = entry
        self.url = entry.url.rstrip("/")
        self.key = f"clusters.{cluster}.connect[{index}]"
        self.retries = tuple(retries)
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def label(self) -> str:
        """How messages name it: Connect 'ingest' (cluster primary) at http://..."""
        return f"Connect {self.entry.name!r} (cluster {self.cluster}) at {self.url}"

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            auth = None
            ba = self.entry.basic_auth
            if ba is not None:
                auth = httpx.BasicAuth(ba.username, ba.password.reveal())
            self._http = httpx.AsyncClient(
                base_url=self.url, auth=auth, verify=self._verify(),
                timeout=httpx.Timeout(self._timeout, connect=min(5.0, self._timeout)),
                transport=self._transport, follow_redirects=False,
                headers={"Accept": "application/json", "User-Agent": "kafkaops"})
        return self._http

    def _verify(self) -> ssl.SSLContext | bool:
        tls = self.entry.tls
        if tls is None or not tls.ca_file:
            return True
        try:
            return ssl.create_default_context(cafile=tls.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"{self.key}.tls.ca_file: cannot load {tls.ca_file}: {e}"
                              ) from None

    async def aclose(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def __aenter__(self) -> ConnectClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ requests

    async def get(self, path: str, *, params: Params = None) -> Any:
        """GET path; the JSON body."""
        _, body, _ = await self.request("GET", path, params=params)
        return body

    async def request(self, method: str, path: str, *, params: Params = None,
                      json_body: Any = None, on_retry: OnRetry | None = None,
                      ) -> tuple[int, Any, tuple[str, ...]]:
        """(status, JSON body or None, the 409 messages retried). Raises a ConnectError."""
        retried: list[str] = []
        for delay in (*self.retries, None):
            status, body = await self._send(method, path, params, json_body)
            if status != 409:
                return status, body, tuple(retried)
            message = _message(body) or "conflict"
            if delay is None:
                raise ConnectRebalancing(
                    f"{self.label} is rebalancing or its config changed during the request "
                    f"(409: {message}); tried {len(retried) + 1} times over about "
                    f"{sum(self.retries):g} s; nothing was changed by the last try; "
                    "try again in a moment")
            retried.append(message)
            if on_retry is not None:
                note = on_retry(f"Connect is rebalancing (409: {message}); trying again in "
                                f"{delay:g} s")
                if note is not None:
                    await note
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(self, method: str, path: str, params: Params,
                    json_body: Any) -> tuple[int, Any]:
        """One request; httpx's errors and the REST API's error answers mapped here."""
        try:
            http = self._client()
            req = http.build_request(method, path, params=list(params) if params else None,
                                     json=json_body)
            resp = await http.send(req, stream=True)
            try:
                raw = await _read(resp)
            finally:
                await resp.aclose()
        except httpx.TimeoutException:
            raise ConnectUnreachable(
                f"{self.label} did not answer {method} {path} within {self._timeout:g} s; "
                f"check that a worker runs there ({self.key}.url)") from None
        except httpx.ConnectError as e:
            cause = _cause(e)
            if "SSL" in cause or "certificate" in cause.lower():
                raise ConnectError(
                    f"{self.label}: TLS handshake failed ({cause}); check {self.key}.tls.ca_file "
                    "and the worker's certificate") from None
            raise ConnectUnreachable(
                f"{self.label} is unreachable ({cause}); check {self.key}.url and that a "
                "worker runs there") from None
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError) as e:
            raise NotConnect(
                f"{self.label} does not speak HTTP like Kafka Connect's REST API "
                f"({_cause(e)}); check {self.key}.url (a Kafka broker's port?)") from None
        except httpx.TransportError as e:
            raise ConnectUnreachable(f"{self.label}: {_cause(e)}; check {self.key}.url"
                                     ) from None
        except _TooLarge:
            raise NotConnect(f"{self.label} answered {method} {path} with more than "
                             f"{MAX_BODY // 1024 // 1024} MB; not a Connect REST API?") from None
        return self._check(method, path, resp, raw)

    def _check(self, method: str, path: str, resp: httpx.Response, raw: bytes) -> tuple[int, Any]:
        status = resp.status_code
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = _NOT_JSON
        if 200 <= status < 300:
            if body is _NOT_JSON:
                kind = resp.headers.get("content-type", "no content type")
                raise NotConnect(
                    f"{self.label} answered {method} {path} with {kind}, not JSON: is "
                    f"{self.key}.url the REST API of a Connect worker?")
            return status, body
        message = _message(body)
        if status in (401, 403):
            how = ("no basic_auth is configured" if self.entry.basic_auth is None
                   else f"user {self.entry.basic_auth.username!r} was refused")
            raise ConnectAuthError(
                f"{self.label} refused the request ({status} "
                f"{'Unauthorized' if status == 401 else 'Forbidden'}: {how}); check "
                f"{self.key}.basic_auth" + (f" ({message})" if message else ""))
        if status == 409:
            return status, body
        if status == 404:
            if message is None:
                raise NotConnect(
                    f"{self.label} answered 404 to {method} {path} without Kafka Connect's "
                    f"error body: is {self.key}.url the root of a Connect REST API?")
            raise ConnectorNotFound(f"{self.label}: {message}")
        if message is None:
            raise NotConnect(f"{self.label} answered {method} {path} with HTTP {status} and "
                             f"no Kafka Connect error body; check {self.key}.url")
        raise ConnectError(f"{self.label}: {message} (HTTP {status})",
                           retriable=status >= 500)


class _NotJson:
    """Marks a body that did not parse as JSON."""


_NOT_JSON = _NotJson()


class _TooLarge(Exception):
    pass


async def _read(resp: httpx.Response) -> bytes:
    """The body, refusing one above MAX_BODY (a hostile server must not fill memory)."""
    size = resp.headers.get("content-length")
    if size is not None and size.isdigit() and int(size) > MAX_BODY:
        raise _TooLarge
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.aiter_bytes():
        total += len(chunk)
        if total > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _message(body: Any) -> str | None:
    """The REST API's error message: {"error_code": 404, "message": "..."}; None otherwise."""
    if isinstance(body, dict) and isinstance(body.get("message"), str) \
            and "error_code" in body:
        return str(body["message"])[:1000]
    return None


def _cause(e: BaseException) -> str:
    """The innermost reason of an httpx error, for people: "connection refused"."""
    text = str(e) or type(e).__name__
    inner: BaseException | None = e
    while inner is not None:
        if str(inner):
            text = str(inner)
        inner = inner.__cause__ or inner.__context__
    for pattern, words in (("Connection refused", "connection refused"),
                           ("Connect call failed", "connection refused"),
                           ("Name or service not known", "unknown host"),
                           ("nodename nor servname", "unknown host"),
                           ("No route to host", "no route to host")):
        if pattern in text:
            return words
    return text[:300]
