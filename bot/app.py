"""The Slack bot's one wiring point: `build_bolt_app(services)`.

`Bot` owns the slack-bolt AsyncApp, the subcommand router, permissions and pending
confirmations; each capability adds itself from bot/commands/<name>.py through
`register(bot, services)`. Nothing here reads the environment or opens a connection at
import time: `kafkaops bot` (cli/bot.py) builds the services and the transport, and tests
build the same app against a local Slack server.

One slash command (config `slack.command`, default /kafka). Bolt acks within Slack's 3 s:
a malformed command or `help` is answered in the ack itself (no I/O), anything else acks
with "Working on …" and runs as a lazy listener that answers through the response_url.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from kafkaops.bot import audit, errors
from kafkaops.bot.confirm import DEFAULT_TTL, Confirmations, Decision, Executor
from kafkaops.bot.guard import Refusal, WorkspaceCheck, count_refusal, request_key
from kafkaops.bot.permissions import Permissions
from kafkaops.bot.render.common import PAGE_ACTION, RUN_ACTION, Message
from kafkaops.bot.render.confirm import CANCEL_ACTION_ID, CONFIRM_ACTION_ID
from kafkaops.bot.render.replies import (
    render_denied,
    render_error,
    render_usage,
    render_working,
    with_requester,
)
from kafkaops.bot.respond import Responder
from kafkaops.bot.router import (
    ArgSpec,
    Handler,
    Immediate,
    Invocation,
    Parsed,
    Router,
    tokenize,
)
from kafkaops.core.audit.trails import refusal_trails
from kafkaops.core.capabilities import in_slack_words
from kafkaops.core.confirmations import RequestLedger
from kafkaops.core.errors import (
    ClusterUnreachable,
    ConfigError,
    KafkaOpsError,
    NotFound,
    Refused,
    UsageError,
)
from kafkaops.core.services import Services

if TYPE_CHECKING:
    from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger("kafkaops.bot")

#: work spawned after an ack starts once no request was acknowledged for this long (s)
ACK_LULL = 0.02
#: set in a bolt request's context when the HTTP transport has already answered it
ACKED_EARLY = "kafkaops_acked_early"
#: a read that takes longer than this is abandoned with a message (changes are never cut short)
HANDLER_TIMEOUT = 90.0


class Bot:
    """The bot: `bot.app` is the AsyncApp a transport serves."""

    def __init__(
        self,
        services: Services,
        *,
        client: AsyncWebClient | None = None,
        clock: Callable[[], float] = time.time,
        confirm_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.services = services
        self.config = services.config
        slack = self.config.slack
        self.command_name = slack.command
        self.client = client if client is not None else web_client(services)
        if slack.signing_secret.is_set:
            signing_secret = slack.signing_secret.reveal()
        else:
            # Without a secret nothing may verify: an empty one would accept requests
            # signed with an empty key. Socket Mode does not use it at all.
            signing_secret = secrets.token_hex(32)
        self.app = AsyncApp(
            name="kafkaops",
            client=self.client,
            signing_secret=signing_secret,
            logger=logging.getLogger("kafkaops.bot.bolt"),
            # Our ack functions do no I/O, so bolt may await them and answer at once; by
            # default it runs them in a task and polls for the ack every 10 ms, which a
            # burst of commands pays on every request (bench/slack_ack.py). Lazy listeners
            # still run after the ack, in tasks, either way.
            process_before_response=True,
        )
        self.router = Router(slack.command, clusters=tuple(self.config.clusters))
        self.permissions = Permissions(self.config, self.client)
        self.confirmations = Confirmations(ttl=confirm_ttl, clock=clock, services=services)
        self.workspace = WorkspaceCheck(slack, self.client)
        self.app.use(self.workspace.middleware(self.refused))
        self.ledger = _ledger(services)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._timers: set[asyncio.Task[None]] = set()
        #: subcommand -> (prefill(words) -> dict or None, opener(trigger_id, prefill,
        #: channel, request)): typed without what the command needs, it opens a form
        self.forms: dict[str, tuple[Callable[[list[str]], dict[str, str] | None],
                                    Callable[..., Awaitable[None]]]] = {}
        # requests being acknowledged now; work spawned after an ack waits until there are
        # none, so a burst of commands is acked before any of their work takes the loop
        self._acking = 0
        self._acked = asyncio.Event()
        self._acked.set()
        self._last_ack = 0.0  # loop time the last ack ended
        #: work spawned after an ack waiting to start (`after_acks`): (until when at the
        #: most, its future), and the task letting it go
        self._waiting: collections.deque[tuple[float, asyncio.Future[None]]] = (
            collections.deque())
        self._gate_opener: asyncio.Task[None] | None = None
        #: (command text, has a trigger_id) -> its ack when that is the fixed "Working on …"
        self._working_texts: dict[tuple[str, bool], dict[str, Any] | None] = {}
        self._hooks: aiohttp.ClientSession | None = None
        self.app.use(self._count_ack)
        self.started_at = time.time()
        self._listen()

    # ------------------------------------------------------------ requests

    def public(self, problem: BaseException | str, what: str = "") -> str:
        """A problem as Slack may see it (short reason, error id, commands in Slack's
        words); the log gets the rest."""
        return in_slack_words(errors.public(problem, config=self.config, what=what),
                              self.command_name)

    def plain(self, problem: BaseException | str) -> str:
        """A mistake of the person's own (a name not found) as Slack may see it: short, in
        Slack's words, no error id (there is nothing for the operator to look up)."""
        return in_slack_words(errors.scrub(str(problem), errors.hidden_values(self.config)),
                              self.command_name)

    def refused(self, r: Refusal, remote: str) -> None:
        """A request refused before any action: logged once and counted in /metrics."""
        count_refusal(self.services.metrics, r, remote)

    def hook_session(self) -> aiohttp.ClientSession:
        """One HTTP session for the commands' posts to their response_url, its connections
        kept alive: slack_sdk's webhook client otherwise opens a session and a connection
        per post, a third of a command's CPU after its ack (docs/benchmarks.md). Closed
        with the services; a post after that opens its own again."""
        if self._hooks is None or self._hooks.closed:
            # slack_sdk's webhook defaults: 30 s, no proxy from the environment
            self._hooks = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self.services.on_close(self._hooks.close)
        return self._hooks

    async def first_time(self, request: AsyncBoltRequest) -> bool:
        """True unless another replica already received this signed request (a replay sent
        to several replicas): the shared half of the replay check (bot/guard.py). Socket
        Mode requests carry no signature and are not checked here. When the ledger's
        cluster does not answer, the request runs: this process's own check still holds,
        and an incident is no time to stop the bot over a bookkeeping topic."""
        ts = (request.headers.get("x-slack-request-timestamp") or [""])[0]
        sig = (request.headers.get("x-slack-signature") or [""])[0]
        if self.ledger is None or not ts or not sig:
            return True
        try:
            first = await self.ledger.claim(request_key(ts, sig))
        except KafkaOpsError as e:
            log.warning("could not check %s for replays across replicas (%s); running the "
                        "request", self.ledger.cluster, e)
            return True
        if not first:
            self.refused(Refusal("replay", "another replica received this signed request"),
                         "")
        return first

    def once(self, fn: Callable[[dict[str, Any]], Awaitable[None]], *,
             acts: Callable[[dict[str, Any]], bool] | None = None
             ) -> Callable[..., Awaitable[None]]:
        """A lazy listener that runs only for the first replica to receive its request,
        tracked so that `drain()` can let it finish before the bot stops. `acts(body)`
        False: nothing to do (answered in the ack), so nothing is claimed either."""

        async def run(body: dict[str, Any], request: AsyncBoltRequest) -> None:
            if acts is not None and not acts(body):
                return
            async with self.tracked():
                if await self.first_time(request):
                    await fn(body)

        return run

    async def _count_ack(self, context: Mapping[str, Any],
                         next_: Callable[[], Awaitable[Any]]) -> Any:
        """Bolt middleware around every request: counts the acks under way (not bolt's
        dispatch of a request the HTTP transport already answered: that is work after an
        ack, and counting it would hold back the others')."""
        if context.get(ACKED_EARLY):
            return await next_()
        with self.acking():
            return await next_()

    @contextlib.contextmanager
    def acking(self) -> Iterator[None]:
        """A request being acknowledged (bolt's dispatch, or the HTTP transport's own
        handler): work spawned meanwhile waits for it."""
        self._acking += 1
        self._acked.clear()
        try:
            yield
        finally:
            self._acking -= 1
            self._last_ack = asyncio.get_running_loop().time()
            if not self._acking:
                self._acked.set()

    def spawn(self, work: Awaitable[None], what: str) -> None:
        """Run `work` after the ack, in a task of its own: tracked so that `drain()` waits
        for it, its errors logged (as bolt does for lazy listeners). It starts once no
        other request is being acknowledged (or after a second at most)."""

        async def run() -> None:
            try:
                await self.after_acks()
                await work
            except Exception:
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def after_acks(self) -> None:
        """Return once no request is being acknowledged and none was for ACK_LULL, or a
        second after this began to wait (a steady stream of requests must not starve the
        work). One task lets the waiting work go, one piece of work per turn of the loop
        and stopping again as soon as a new request is being acknowledged: an ack that
        ends wakes that task only (not every command waiting behind the burst), and an
        ack that arrives while the work is let go waits for one piece of work's first
        step (bolt's dispatch of an early-acked command), not fifty."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append((loop.time() + 1.0, waiter))
        if self._gate_opener is None or self._gate_opener.done():
            self._gate_opener = loop.create_task(self._let_work_go())
        await waiter

    def _busy(self, now: float) -> bool:
        return bool(self._acking) or now < self._last_ack + ACK_LULL

    async def _let_work_go(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            deadline, waiter = self._waiting[0]
            now = loop.time()
            if self._busy(now) and now < deadline:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(deadline):
                        while True:
                            while self._acking:
                                await self._acked.wait()
                            # a request that arrived but whose handler has not started
                            # yet is not counted: wait for a short lull after the last
                            # ack too, else the work waiting runs before the rest of a
                            # burst is read
                            lull = self._last_ack + ACK_LULL - loop.time()
                            if lull <= 0:
                                break
                            await asyncio.sleep(lull)
                continue
            self._waiting.popleft()
            if not waiter.done():  # (a waiter cancelled by drain is skipped)
                waiter.set_result(None)
                await asyncio.sleep(0)  # its first step runs; requests come in meanwhile

    @contextlib.asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        """Work running after its ack (bolt's lazy listeners): `drain()` waits for it."""
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        finally:
            self._inflight.discard(task)  # type: ignore[arg-type]

    def reply_sent(self, msg: Message, responder: Responder) -> None:
        """After a slash command's reply went out: a confirmation prompt is replaced by
        "expired" through the command's response_url when its time is up and nobody used it
        (its buttons would look live otherwise). Only this replica knows where the prompt
        went; a restart forgets it, and a click on it then still says it expired. (A prompt
        a button posted as a new message can only be replaced by a click on it.)"""
        pid = prompt_id(msg)
        if pid is None:
            return
        delay = max(0.0, self.confirmations.ttl) + 1.0

        async def later() -> None:
            await asyncio.sleep(delay)
            try:
                await self.confirmations.expire(self, pid, responder)
            except Exception as e:  # the prompt keeps its buttons; a click still expires it
                log.warning("could not mark confirmation %s expired: %s", pid, e)

        task = asyncio.create_task(later(), name="confirmation-expiry")
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def drain(self, within: float = 30.0) -> None:
        """Let work acknowledged to Slack finish (a confirmed change is not cut short);
        what is still running after `within` seconds is cancelled. Prompts waiting to be
        marked expired are left as they are (a click on one still says it expired)."""
        for timer in list(self._timers):
            timer.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        told = False
        # work may spawn more work (bolt's dispatch after an early ack starts the
        # command's): wait until none is left
        while tasks := [t for t in self._inflight if t is not asyncio.current_task()]:
            if not told:
                log.info("stopping: waiting up to %g s for %d request(s) acknowledged to "
                         "Slack", within, len(tasks))
                told = True
            _, late = await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            for t in late:
                t.cancel()
            if late:
                await asyncio.wait(late)
                return

    # ------------------------------------------------------------ extension points

    def command(
        self,
        name: str,
        *,
        summary: str,
        arguments: ArgSpec | None = None,
        action: str | None = None,
        examples: Sequence[str] = (),
        names: tuple[str, str] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Decorator adding a subcommand: `@bot.command("topic", summary=..., arguments=...)`.

        `arguments(parser)` declares its argparse arguments; `action` names the permission
        needed to run it at all (risky commands), checked before the handler runs; `names`
        = (kind, argument): that argument names a group, topic or flag, and a name that is
        not found is answered with the closest ones (bot/suggest.py).
        """

        def deco(fn: Handler) -> Handler:
            self.router.add(
                name, fn, summary=summary, arguments=arguments, action=action,
                examples=examples, names=names,
            )
            return fn

        return deco

    def confirmable(
        self, kind: str, run: Executor | None = None, *, permission: str | None = ""
    ) -> Any:
        """Register the executor of a risky action (also usable as a decorator).

        Handlers then call `await inv.confirm(kind, target=..., summary=..., params=...)`.
        `permission` (default: the kind) is what a confirmer other than the requester needs.
        """
        if run is not None:
            self.confirmations.register(kind, run, permission=permission)
            return run

        def deco(fn: Executor) -> Executor:
            self.confirmations.register(kind, fn, permission=permission)
            return fn

        return deco

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        params: Mapping[str, Any],
        result: str,
        error: str | None = None,
        cluster: str | None = None,
        context: Mapping[str, str | None] | None = None,
    ) -> None:
        """Record what only the bot knows (refusals, cancels, expiries) on the audit trail
        (bot/audit.py says which); `context`: requested_by, confirmed_by, reason, channel."""
        await audit.record(
            self.services,
            actor=actor,
            action=action,
            target=target,
            params=params,
            result=result,
            error=error,
            cluster=cluster,
            context=context,
        )

    async def verify_token(self) -> str:
        """auth.test: the bot's user ID; a ConfigError a person can act on when refused."""
        try:
            resp = await self.client.auth_test()
        except SlackApiError as e:
            raise ConfigError(
                f"slack.bot_token was refused by {self.client.base_url} "
                f"({e.response.get('error')}); check the token (xoxb-...) in config"
            ) from None
        except Exception as e:
            raise ConfigError(
                f"cannot reach Slack's Web API at {self.client.base_url} ({e}); "
                "check slack.api_url and the network"
            ) from None
        return str(resp.get("user_id", ""))

    # ------------------------------------------------------------ running a command

    async def execute(
        self, parsed: Parsed, *, user: str, user_name: str, channel: str, text: str
    ) -> tuple[Message, bool]:
        """Run a parsed subcommand: the reply, and whether it goes to the channel."""
        cmd = parsed.command
        cluster = parsed.cluster or self.services.cluster_name
        command_text = f"{self.command_name} {text}".strip()
        reason = getattr(parsed.args, "reason", None) or None
        context = {"channel": channel, "reason": reason}
        refused = {"actor": user, "action": cmd.action or cmd.name.replace(" ", "."),
                   "target": _target(cmd.name, parsed.args), "context": context,
                   "params": {"command": command_text, "slack_user_name": user_name}}
        if cmd.action is not None:
            decision = await self.permissions.check(user, cmd.action)
            if not decision.allowed:
                await self.audit(
                    **refused, result="refused", cluster=cluster,
                    error=f"permission denied: {audit.plain(decision.reason)}",
                )
                return render_denied(cmd.action, decision.reason), False
        inv = Invocation(
            cmd, parsed.args, text, user, user_name, channel, parsed.public, cluster,
            parsed.cluster is not None, self.services, self, parsed.page, parsed.words,
        )
        try:
            async with asyncio.timeout(HANDLER_TIMEOUT):
                msg = await cmd.handler(inv)
        except UsageError as e:
            return render_usage(str(e), [cmd.usage]), False
        except NotFound as e:
            named = getattr(parsed.args, cmd.names[1], None) if cmd.names else None
            if cmd.names and isinstance(named, str) and named:
                from kafkaops.bot.suggest import not_found

                return await not_found(inv, cmd.names[0], named, self.plain(e)), False  # type: ignore[arg-type]
            return render_error(self.public(e, command_text)), False
        except Refused as e:  # a guardrail before any change (read-only cluster): audited
            if not e.audited:
                await self.audit(**refused, result="refused", error=str(e),
                                 cluster=e.cluster or cluster)
            return render_error(self.public(e, command_text)), False
        except ClusterUnreachable as e:
            await self.services.drop(cluster)  # reconnect on the next command
            return render_error(self.public(e, command_text), retriable=True), False
        except KafkaOpsError as e:
            return render_error(self.public(e, command_text), retriable=e.retriable), False
        except TimeoutError:
            return render_error(
                f"`{command_text}` took longer than {HANDLER_TIMEOUT:.0f} s and was abandoned",
                retriable=True,
            ), False
        except Exception as e:
            return render_error(self.public(e, command_text)), False
        if parsed.public:
            msg = with_requester(msg, user, command_text)
        return msg, parsed.public

    # ------------------------------------------------------------ bolt listeners

    def _listen(self) -> None:
        app = self.app
        router = self.router

        async def ack_command(ack: Any, command: dict[str, Any],
                              request: AsyncBoltRequest) -> None:
            if await self._open_form(ack, command, request):
                return
            parsed = router.parse(command.get("text", ""))
            if isinstance(parsed, Immediate):
                await ack(response_type="ephemeral", **parsed.message.to_slack())
            else:
                # (when the HTTP transport already answered this, bolt's answer is dropped)
                await ack(**self._working(command))
                # the work, after the ack: started here rather than as a bolt lazy
                # listener, which deep-copies the whole request first (half the CPU of an
                # ack; a burst of commands waits for it: bench/slack_ack.py)
                self.spawn(run_once(command, request), f"{self.command_name} command")

        def acts(command: dict[str, Any]) -> bool:
            return not isinstance(router.parse(command.get("text", "")), Immediate)

        async def run_command(command: dict[str, Any]) -> None:
            text = command.get("text", "")
            parsed = router.parse(text)
            if isinstance(parsed, Immediate):
                return  # answered in the ack
            responder = Responder(
                self.client,
                response_url=command.get("response_url"),
                channel=command.get("channel_id"),
                user=command.get("user_id", ""),
                session=self.hook_session(),
            )
            try:
                msg, public = await self.execute(
                    parsed,
                    user=command.get("user_id", ""),
                    user_name=command.get("user_name", ""),
                    channel=command.get("channel_id", ""),
                    text=text,
                )
            except Exception as e:  # the permission check itself failed unexpectedly
                msg, public = render_error(self.public(e, text)), False
            await responder.reply(msg, public=public)
            self.reply_sent(msg, responder)

        run_once = self.once(run_command, acts=acts)
        app.command(self.command_name)(ack_command)

        async def ack_click(ack: Any) -> None:
            await ack()

        def click(decision: Decision) -> Callable[[dict[str, Any]], Any]:
            async def on_click(body: dict[str, Any]) -> None:
                action = (body.get("actions") or [{}])[0]
                container = body.get("container") or {}
                user = (body.get("user") or {}).get("id", "")
                responder = Responder(
                    self.client,
                    response_url=body.get("response_url"),
                    channel=(body.get("channel") or {}).get("id"),
                    user=user,
                    message_ts=container.get("message_ts"),
                    original_ephemeral=bool(container.get("is_ephemeral", True)),
                )
                await self.confirmations.handle_click(
                    self, pid=str(action.get("value", "")), user=user, decision=decision,
                    responder=responder,
                )

            return on_click

        app.action(CONFIRM_ACTION_ID)(ack=ack_click, lazy=[self.once(click("confirm"))])
        app.action(CANCEL_ACTION_ID)(ack=ack_click, lazy=[self.once(click("cancel"))])

        async def on_run(body: dict[str, Any]) -> None:
            await self.run_click(body, page=False)

        async def on_page(body: dict[str, Any]) -> None:
            await self.run_click(body, page=True)

        app.action(re.compile(rf"^{re.escape(RUN_ACTION)}\.(menu\.)?\d+$"))(
            ack=ack_click, lazy=[self.once(on_run)])
        app.action(re.compile(rf"^{re.escape(PAGE_ACTION)}\.(next|prev)$"))(
            ack=ack_click, lazy=[self.once(on_page)])

    def _working(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """The fixed ack of a command whose work runs after it: "Working on …"."""
        text = f"{self.command_name} {command.get('text', '')}".strip()
        return {"response_type": "ephemeral", **render_working(text).to_slack()}

    def working_ack(self, command: Mapping[str, Any]) -> dict[str, Any] | None:
        """What bolt's ack of this slash command will answer when that is the fixed
        "Working on …" (the work runs after the ack), so that the HTTP transport may answer
        it before bolt's dispatch; None when the ack depends on more (help and usage
        errors are answered in the ack, a form opens instead) or it is not our command.
        The same decision as `ack_command`'s, from the same functions. Not to be changed
        by the caller: the same answer is given for the same text."""
        text = command.get("text", "")
        if command.get("command") != self.command_name or not isinstance(text, str):
            return None
        # the same text decides the same (the router and the forms are fixed once the bot
        # is built); remembered, since parsing it is a good part of an early ack's CPU
        key = (text, bool(command.get("trigger_id")))
        if key not in self._working_texts:
            working = (self._form_for(command) is None
                       and not isinstance(self.router.parse(text), Immediate))
            if len(self._working_texts) >= 512:
                self._working_texts.clear()
            self._working_texts[key] = self._working(command) if working else None
        return self._working_texts[key]

    def _form_for(self, command: Mapping[str, Any]
                  ) -> tuple[Callable[..., Awaitable[None]], dict[str, str]] | None:
        """The form a subcommand typed without what it needs opens (`offsets reset`),
        with what it is pre-filled with; None when there is none."""
        if not self.forms or not command.get("trigger_id"):
            return None
        try:
            words = tokenize(command.get("text", ""))
        except UsageError:
            return None
        for prefill, opener in self.forms.values():
            found = prefill(words)
            if found is not None:
                return opener, found
        return None

    async def _open_form(self, ack: Any, command: dict[str, Any],
                         request: AsyncBoltRequest) -> bool:
        """A subcommand typed without what it needs, that has a form (`offsets reset`):
        the form opens instead of a usage error."""
        form = self._form_for(command)
        if form is None:
            return False
        opener, found = form
        await ack()
        await opener(str(command.get("trigger_id")), found, str(command.get("channel_id", "")),
                     request)
        return True

    async def run_click(self, body: dict[str, Any], *, page: bool) -> None:
        """A button (or menu item) that runs a command: for whoever clicked, exactly as if
        they had typed it (their permissions; a change asks for Confirm), answered to them
        alone. Next / Previous replace the listing when it was theirs alone."""
        action = (body.get("actions") or [{}])[0]
        text = str(action.get("value") or (action.get("selected_option") or {}).get("value")
                   or "")
        user_obj = body.get("user") or {}
        user = str(user_obj.get("id", ""))
        container = body.get("container") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id")
                      or "")
        responder = Responder(
            self.client, response_url=body.get("response_url"), channel=channel, user=user,
            message_ts=container.get("message_ts"),
            original_ephemeral=bool(container.get("is_ephemeral", False)))
        msg = await self.answer(text, user=user, user_name=str(user_obj.get("username", "")),
                                channel=channel)
        if page and container.get("is_ephemeral"):
            await responder.replace(msg)
        else:
            await responder.ephemeral(msg)

    async def answer(self, text: str, *, user: str, user_name: str, channel: str,
                     public: bool = False) -> Message:
        """What `/kafka TEXT` answers this user (help and usage errors included); `public`:
        as a reply others see (it says who asked)."""
        parsed = self.router.parse(text)
        if isinstance(parsed, Immediate):
            return parsed.message
        try:
            msg, _ = await self.execute(dataclasses.replace(parsed, public=public), user=user,
                                        user_name=user_name, channel=channel, text=text)
        except Exception as e:  # the permission check itself failed unexpectedly
            msg = render_error(self.public(e, text))
        return msg


def prompt_id(msg: Message) -> str | None:
    """The confirmation a reply asks for (the value of its Confirm button), if any."""
    for b in msg.blocks:
        if b.get("type") == "actions" and str(b.get("block_id", "")).startswith(
                "kafkaops.confirm."):
            for e in b.get("elements", []):
                if e.get("action_id") == CONFIRM_ACTION_ID:
                    return str(e.get("value", "")) or None
    return None


def _target(name: str, args: Any) -> str:
    """What a refused command was aimed at: its first positional argument, else its name."""
    for value in vars(args).values():
        if isinstance(value, str) and value:
            return value
    return name


def _ledger(services: Services) -> RequestLedger | None:
    """Where replicas share the requests they received: the default cluster, else the
    first writable one (as refusals are kept); None (this process only) when every
    cluster is read-only."""
    writable = refusal_trails(services, services.cluster_name)
    return RequestLedger(services, writable[0]) if writable else None


def web_client(services: Services) -> AsyncWebClient:
    """The Web API client from config (token from slack.bot_token, base URL slack.api_url)."""
    slack = services.config.slack
    token = slack.bot_token.reveal()
    if not token:
        raise ConfigError(
            f"{services.config.source}: slack.bot_token is empty; set it (xoxb-...), "
            "usually as ${SLACK_BOT_TOKEN}"
        )
    base = slack.api_url if slack.api_url.endswith("/") else slack.api_url + "/"
    return AsyncWebClient(token=token, base_url=base)


def build_bot(
    services: Services,
    *,
    client: AsyncWebClient | None = None,
    clock: Callable[[], float] = time.time,
    confirm_ttl: float = DEFAULT_TTL,
) -> Bot:
    """The bot with every capability in bot/commands registered."""
    from kafkaops.bot.commands import register_all

    bot = Bot(services, client=client, clock=clock, confirm_ttl=confirm_ttl)
    register_all(bot, services)
    return bot


def build_bolt_app(services: Services, *, client: AsyncWebClient | None = None) -> AsyncApp:
    return build_bot(services, client=client).app
