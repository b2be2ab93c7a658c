"""The kafkaops console: a Textual app over core's services.

Wiring: the entry point (`kafkaops console`, `kafkaops demo`) builds `Services` and hands
them in; the app never builds Kafka clients itself and owns no connection, so the caller
closes the services after the app exits:

    async with Services(config, cluster) as services:
        await KafkaOpsApp(services).run_async()

Screens are Textual modes, one per entry of `NAV` below, each with its own screen stack (so
the topic list keeps its detail view while you look at the overview). Screen modules are
imported the first time their screen is opened: console start time counts (docs/benchmarks.md,
"console start"), so this module imports only Textual's app machinery, and the first screen
pulls in nothing of the bot, alerts, DR or flag writing (tests/test_console_start.py).

How to add a screen
-------------------
1. Write `console/<module>.py` with a class derived from `kafkaops.console.base.DataScreen`:
   - `compose_body()` yields the screen's widgets (the header, the status line and the
     footer are added by the base class);
   - `async def load(self)` fetches the data by calling core through `self.services`
     (the same object as `self.app.services`); it runs in a worker, never on the UI loop;
   - `def show(self, data)` puts the result into the widgets (no I/O here);
   - optional `REFRESH_EVERY` (seconds between polls), `BINDINGS` for the screen's own keys.
   The base class polls (the next poll is scheduled when the last one finished, and only
   while the screen is visible), shows "loading" / "updated at" / errors in the status
   line, reports the connection state to the header, and backs off and reconnects when
   the cluster is unreachable. `r` refreshes now.
2. Give its capability in core/capabilities.py a console key and a `screen` (title and
   one line), and add `_screen(capability, target)` to `NAV`: its key switches to the
   screen from anywhere, and it appears in the footer, the help screen (`?`) and the
   command palette (ctrl+p).
3. Test it with Pilot against the embedded broker (see tests/test_console_shell.py).
A screen that needs no polling can derive from `textual.screen.Screen` instead; it still
reaches core through `self.app.services`.
"""

from __future__ import annotations

import gc
import importlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from kafkaops.core.capabilities import BY_KEY

if TYPE_CHECKING:
    from textual.screen import Screen

    from kafkaops.core.services import Services


@dataclass(frozen=True)
class NavEntry:
    """A top-level screen of the console."""

    key: str
    """Key that opens the screen from anywhere (a Textual key name: "t", "D", ...)."""
    title: str
    """Short title: footer, header, help screen and command palette."""
    target: str
    """Where the screen class lives: "kafkaops.console.<module>:<ScreenClass>"."""
    description: str
    """One line for the help screen and the command palette."""

    @property
    def mode(self) -> str:
        """Name of the Textual mode holding this screen's stack: the module's last part."""
        return self.target.partition(":")[0].rsplit(".", 1)[-1]


def _screen(capability: str, target: str) -> NavEntry:
    """The entry of a screen: its key, title and line read from the one table of
    capabilities (core/capabilities.py), so the console names it as the CLI and Slack do."""
    cap = BY_KEY[capability]
    if cap.console is None or cap.screen is None:
        raise ValueError(f"capability {capability!r} has no console screen in the table")
    title, line = cap.screen
    return NavEntry(cap.console, title, target, line)


#: Every top-level screen of the console, in footer order. Add yours here (see the module
#: docstring). Keys used by screens for their own actions (s, S, i, /, r, q, ?) are taken.
NAV: list[NavEntry] = [
    _screen("status", "kafkaops.console.overview:OverviewScreen"),
    _screen("topics", "kafkaops.console.topics:TopicsScreen"),
    _screen("lag", "kafkaops.console.lag:LagScreen"),
    _screen("flags", "kafkaops.console.flags:FlagsScreen"),
    _screen("dlq.list", "kafkaops.console.dlq:DlqScreen"),
    _screen("dr", "kafkaops.console.dr:DrScreen"),
    _screen("audit", "kafkaops.console.audit:AuditScreen"),
    _screen("alerts", "kafkaops.console.alerts:AlertsScreen"),
    _screen("schemas", "kafkaops.console.schemas:SchemasScreen"),
    _screen("connect", "kafkaops.console.connect:ConnectScreen"),
    _screen("usage", "kafkaops.console.usage:UsageScreen"),
    _screen("policy", "kafkaops.console.compliance:ComplianceScreen"),
]

#: the screen the console opens on unless told otherwise
DEFAULT_SCREEN = "topics"

GC_AFTER_MOUNT = 1.5
"""Seconds after the console is mounted that Python's garbage collector is turned on again,
when it started off (kafkaops/cli/__init__.py): its first screen is up well before."""


def _resume_gc() -> None:
    # what start-up made is collected once and then kept out of later collections' walks
    # (gc.freeze, as the bot does once it is ready)
    gc.collect()
    gc.freeze()
    gc.enable()


def nav_entry(mode: str) -> NavEntry:
    for entry in NAV:
        if entry.mode == mode:
            return entry
    known = ", ".join(e.mode for e in NAV)
    raise KeyError(f"no console screen named {mode!r} (known: {known})")


def load_screen_class(target: str) -> type[Screen[Any]]:
    """Import "package.module:Class" and return the class."""
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


ConnectionStatus = Literal["connecting", "connected", "unreachable"]


@dataclass(frozen=True)
class ConnectionState:
    """What the header says about the cluster. Set by screens as their loads finish."""

    status: ConnectionStatus = "connecting"
    """connecting (no answer yet), connected (the last request succeeded), unreachable."""
    detail: str = ""
    """For unreachable: the error core reported, written for a person."""
    retry_at: float | None = None
    """For unreachable: `time.monotonic()` of the next attempt."""
    since: float = 0.0
    """`time.monotonic()` when this status began."""

    def label(self, now: float | None = None) -> str:
        """The header's words: "connected", "unreachable, retrying in 4s", ..."""
        if self.status != "unreachable":
            return self.status
        left = 0.0
        if self.retry_at is not None:
            left = self.retry_at - (time.monotonic() if now is None else now)
        return f"unreachable, retrying in {math.ceil(left)}s" if left > 0 else \
            "unreachable, retrying now"


#: the footer shows the screen keys together, keys only ("c t l f d D a ! … screens"), so
#: they fit a 100-column terminal; each key's name is its tooltip, and `?` lists them all
NAV_GROUP = Binding.Group("screens")


def _nav_bindings() -> list[BindingType]:
    return [Binding(e.key, f"goto({e.mode!r})", e.title, tooltip=f"{e.title}: {e.description}",
                    group=NAV_GROUP) for e in NAV]


def _find_provider() -> Any:
    """The palette's topic and group finder, imported when the palette first opens."""
    from kafkaops.console.palette import FindProvider

    return FindProvider


class KafkaOpsApp(App[None]):
    """The console. `KafkaOpsApp(services, banner=..., start="topics")`."""

    CSS_PATH = "app.tcss"
    TITLE = "kafkaops"
    COMMANDS = App.COMMANDS | {_find_provider}
    BINDINGS: ClassVar[list[BindingType]] = [
        *_nav_bindings(),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    connection: reactive[ConnectionState] = reactive(ConnectionState, always_update=True)
    """The cluster's connection state, as the last finished request left it."""

    other_clusters: reactive[dict[str, tuple[str, float]]] = reactive(dict, always_update=True)
    """Other clusters a screen depends on (DR's standby) that did not answer last time:
    name -> (why, `time.monotonic()` of their last answer, or of the first miss). The header
    names them with that age."""

    def __init__(
        self, services: Services, *, banner: str | None = None, start: str = DEFAULT_SCREEN
    ) -> None:
        super().__init__()
        nav_entry(start)  # unknown screen name: fail before the terminal is taken over
        self.services = services
        """Core's services: every screen calls core through `self.app.services`."""
        self.banner = banner
        """One line shown under the header (the demo says where its clusters are)."""
        self.start_screen = start
        cfg = services.cluster_config()
        self.cluster_name: str = services.cluster_name
        self.bootstrap: str = cfg.bootstrap_servers
        self.read_only: bool = cfg.read_only
        self.sub_title = services.cluster_name

    def on_mount(self) -> None:
        self.connection = ConnectionState("connecting", since=time.monotonic())
        if not gc.isenabled():
            # the `kafkaops` executable starts with the collector off (0.035-0.04 s of CPU
            # of the console's start: kafkaops/cli/__init__.py); a collection that runs
            # while the first screen is drawn would delay it, one after would not be seen
            self.set_timer(GC_AFTER_MOUNT, _resume_gc)
        for entry in NAV:
            self.add_mode(entry.mode, self._screen_factory(entry))
        self.switch_mode(self.start_screen)

    def _screen_factory(self, entry: NavEntry) -> Callable[[], Screen[Any]]:
        def make() -> Screen[Any]:
            try:
                screen = load_screen_class(entry.target)()
            except Exception as e:  # a broken screen module must not take the console down
                from kafkaops.console.base import BrokenScreen

                screen = BrokenScreen(entry.title, f"{type(e).__name__}: {e}")
            if not screen.css_path and not screen.CSS:
                # nothing of its own to add to the stylesheet, and its widgets are styled
                # as they mount: without this Textual re-parses and re-applies every rule of
                # the app twice when a mode's screen is made (_init_mode, then switch_mode),
                # about 0.01 s of CPU of the console's start
                screen._css_update_count = self._css_update_count
            return screen

        return make

    # ------------------------------------------------------------ connection state

    def report_connected(self) -> None:
        """A request to the cluster succeeded."""
        if self.connection.status != "connected":
            self.connection = ConnectionState("connected", since=time.monotonic())

    def report_connecting(self) -> None:
        """A new attempt started; after a failure the header says "retrying now"."""
        state = self.connection
        if state.status == "unreachable" and state.retry_at is not None:
            self.connection = ConnectionState("unreachable", state.detail, None, state.since)

    def report_unreachable(self, detail: str, retry_in: float) -> None:
        """No broker answered; the screen will try again in `retry_in` seconds."""
        now = time.monotonic()
        since = self.connection.since if self.connection.status == "unreachable" else now
        self.connection = ConnectionState("unreachable", detail, now + retry_in, since)

    def report_other(self, cluster: str, error: str | None) -> None:
        """Another cluster than the console's answered (error None) or did not."""
        down = dict(self.other_clusters)
        if error is None:
            if down.pop(cluster, None) is None:
                return
        else:
            from kafkaops.core.kafka.reach import last_answers

            last = last_answers(self.services).last(cluster)
            since = (time.monotonic() - max(time.time() - last, 0.0) if last is not None
                     else down[cluster][1] if cluster in down else time.monotonic())
            down[cluster] = (error, since)
        self.other_clusters = down

    # ------------------------------------------------------------ navigation

    def action_goto(self, mode: str) -> None:
        """Open a NAV screen at its top: its list, never the detail last opened there (a key
        pressed on another screen means that screen's main view)."""
        if mode != self.current_mode:
            self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def open_topic(self, topic: str) -> None:
        """The topic list, then the topic's detail (the palette's "Topic NAME")."""
        from kafkaops.console.topic_detail import TopicDetailScreen

        self.action_goto("topics")
        self.push_screen(TopicDetailScreen(topic))

    def open_group(self, group: str) -> None:
        """The lag list, then the group's partitions (the palette's "Group NAME")."""
        from kafkaops.console.lag import GroupLagScreen

        self.action_goto("lag")
        self.push_screen(GroupLagScreen(group))

    def action_help(self) -> None:
        from kafkaops.console.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    def action_refresh_now(self) -> None:
        refresh = getattr(self.screen, "refresh_data", None)
        if refresh is not None:
            refresh()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for entry in NAV:
            yield SystemCommand(
                f"Go to {entry.title}", entry.description,
                lambda mode=entry.mode: self.action_goto(mode),
            )
        if hasattr(screen, "refresh_data"):
            yield SystemCommand(
                "Refresh now", "Fetch this screen's data again", screen.refresh_data
            )
        yield SystemCommand("Help", "Keys and screens", self.action_help)
        yield from super().get_system_commands(screen)
