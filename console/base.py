"""What every console screen shares: the header, the status line, the footer, and loading
data from core in a worker on a poll that never overlaps itself.

See the module docstring of console/app.py for how to write a screen on top of `DataScreen`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.cells import cell_len
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from kafkaops.core.capabilities import in_console_words
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError
from kafkaops.core.kafka.reach import answering
from kafkaops.core.untrusted import printable

if TYPE_CHECKING:
    from kafkaops.console.app import KafkaOpsApp
    from kafkaops.core.alerts.book import AlertBook
    from kafkaops.core.services import Services


def backoff(failures: int, *, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds to wait before attempt number `failures + 1`: 1, 2, 4, 8, 16, 30, 30, ..."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * 2 ** (failures - 1)))


def clock(wall: float) -> str:
    """A wall-clock time as the status line shows it: 14:03:22."""
    return time.strftime("%H:%M:%S", time.localtime(wall))


# ---------------------------------------------------------------- firing alerts in the header

#: severities from worst to mildest (core/alerts/model.py SEVERITIES: critical | warning | info)
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class FiringAlerts:
    """What the header says about alerts: the alerts topic as last read."""

    firing: int | None = None
    """Alerts firing (None: the topic has not been read yet)."""
    worst: str | None = None
    """Severity of the worst firing alert (None when none fires)."""
    read_at: float | None = None
    """Wall clock of the last read that succeeded."""
    error: str = ""
    """Why the latest read failed ("" when it did not)."""


def firing_alerts(severities: Iterable[str], read_at: float) -> FiringAlerts:
    """The header's state from the severities of the alerts firing now."""
    seen = list(severities)
    ranked = [s for s in SEVERITIES if s in seen]
    worst = ranked[0] if ranked else (seen[0] if seen else None)
    return FiringAlerts(len(seen), worst, read_at)


def alerts_badge(state: FiringAlerts) -> tuple[str, str]:
    """The header's words and style class: ("▲ 2 firing", "-critical"). A failed read keeps
    the last count and says how old it is; with no count yet it says the state is unknown."""
    if state.firing is None:
        return ("alerts unknown", "-unknown") if state.error else ("alerts …", "-none")
    words = f"▲ {state.firing} firing" if state.firing else "0 firing"
    kind = f"-{state.worst}" if state.firing and state.worst in SEVERITIES else (
        "-critical" if state.firing else "-none")
    if state.error and state.read_at is not None:
        return f"{words} (as of {clock(state.read_at)})", f"{kind} -stale"
    return words, kind


def alert_rules_configured(services: Services) -> bool:
    """The config has a metric rule (`when:`): only those make alerts that fire."""
    return any(rule.when is not None for rule in services.config.alerts.rules)


class AlertWatch:
    """Reads the alerts topic (`AlertLog.read_book`) for the headers of every screen: one
    worker per app, the next read scheduled when the last one finished, every
    `alerts.interval` (longer, backing off, while the alerts cluster does not answer).

    A missing alerts topic reads as nothing firing; an unreachable cluster or a read that
    takes too long leaves the last count on show with its age. A screen that reads the
    topic itself hands the book over with `accept()`, so the header and it agree."""

    TIMEOUT = 30.0
    """Longest a read may take before it counts as failed."""

    def __init__(self, app: KafkaOpsApp) -> None:
        self._app = weakref.ref(app)
        self.services = app.services
        self.interval = max(0.2, float(self.services.config.alerts.interval))
        self.state = FiringAlerts()
        self.changed: Signal[FiringAlerts] = Signal(app, "alerts-firing")
        self._failures = 0

    def start(self) -> None:
        app = self._app()
        if app is not None:
            app.run_worker(self._run(), name="alerts in the header", group="alerts-header",
                           exclusive=True, exit_on_error=False)

    def accept(self, book: AlertBook) -> None:
        """A fresh read of the alerts topic (by this watch or by a screen)."""
        self._failures = 0
        self._set(firing_alerts((v.event.severity for v in book.firing()), time.time()))

    def failed(self, error: str) -> None:
        old = self.state
        self._set(FiringAlerts(old.firing, old.worst, old.read_at, error or "read failed"))

    def _set(self, state: FiringAlerts) -> None:
        self.state = state
        self.changed.publish(state)

    async def _run(self) -> None:
        from kafkaops.core.alerts.log import AlertLog
        from kafkaops.core.errors import ClusterUnreachable

        log = AlertLog(self.services, by="console")
        while True:
            try:
                async with asyncio.timeout(self.TIMEOUT):
                    book = await log.read_book()
            except TimeoutError:
                self._failures += 1
                self.failed(f"the alerts topic did not answer within {self.TIMEOUT:g} s")
            except Exception as e:  # never the UI's problem: say it in the header's tooltip
                self._failures += 1
                self.failed(str(e) if isinstance(e, KafkaOpsError)
                            else f"{type(e).__name__}: {e}")
                if isinstance(e, ClusterUnreachable) and log.cluster != self.services.cluster_name:
                    # reconnect next time; the screens look after the console's own cluster
                    await self.services.drop(log.cluster)
            else:
                self.accept(book)
            await asyncio.sleep(max(self.interval, backoff(self._failures)))


_WATCHES: weakref.WeakKeyDictionary[Any, AlertWatch] = weakref.WeakKeyDictionary()


def alert_watch(app: KafkaOpsApp) -> AlertWatch | None:
    """The app's alert watch, started on first use; None when no metric rule is configured
    (the header then says nothing about alerts)."""
    watch = _WATCHES.get(app)
    if watch is None:
        if not alert_rules_configured(app.services):
            return None
        watch = _WATCHES[app] = AlertWatch(app)
        watch.start()
    return watch


class AlertsBadge(Static):
    """The header's count of firing alerts ("▲ 2 firing"), coloured by the worst severity;
    hidden when the config has no metric alert rule."""

    DEFAULT_CSS = """
    AlertsBadge {
        width: auto;
        padding: 0 1;
        text-style: bold;
    }
    AlertsBadge.-critical {
        background: $error;
        color: $text;
    }
    AlertsBadge.-warning {
        color: $warning;
    }
    AlertsBadge.-info {
        color: $accent;
    }
    AlertsBadge.-none {
        color: $text-muted;
        text-style: none;
    }
    AlertsBadge.-unknown, AlertsBadge.-stale {
        text-style: italic;
    }
    AlertsBadge.-unknown {
        color: $warning;
    }
    """

    def on_mount(self) -> None:
        watch = alert_watch(cast("KafkaOpsApp", self.app))
        if watch is None:
            self.display = False
            return
        watch.changed.subscribe(self, self.show_state)
        self.show_state(watch.state)

    def show_state(self, state: FiringAlerts) -> None:
        words, kind = alerts_badge(state)
        self.update(Text(words))
        self.set_classes(kind)
        self.tooltip = (f"alerts topic not read: {state.error}" if state.error
                        else "firing alerts (! opens the alerts screen)")


@dataclass(frozen=True)
class _FooterKey:
    """Where a key sits on the footer's line."""

    key: str
    """The key a click presses (a Textual key name)."""
    start: int
    end: int
    """Cells of the line the key and its description take."""
    tooltip: str
    enabled: bool


class KeyFooter(Widget, can_focus=False):
    """The key bar: every key the screen shows, drawn as one line by one widget.

    Textual's Footer makes a widget per key (21 on the topic list), each styled, laid out and
    restyled when the footer sets its compact class: a sixth of the console's CPU until the
    topic list is on screen (docs/benchmarks.md, "console start"). This draws the same line
    from the screen's active bindings ("c t l … screens  ? Help  q Quit  / Search …", the
    palette's key at the right end), cut at the right when it does not fit. A click on a key
    presses it; the mouse over a key shows its tooltip.
    """

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--key", "key-footer--description", "key-footer--rule", "key-footer--hover",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-footer--rule {
            color: $foreground 20%;
        }
        .key-footer--hover {
            background: $block-hover-background;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, bool, str], ...] | None = None
        self._keys: list[_FooterKey] = []
        self._hover: _FooterKey | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def _footer_bindings(self) -> list[tuple[Binding, bool, str]]:
        """The keys to show, one per action (Textual's Footer shows the first key too)."""
        by_action: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, enabled, tooltip))
        return list(by_action.values())

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        shown = tuple((b.key, b.description, enabled, tooltip)
                      for b, enabled, tooltip in self._footer_bindings())
        if shown != self._shown:
            self.refresh()

    def render(self) -> Text:
        app = self.app
        bindings = self._footer_bindings()
        self._shown = tuple((b.key, b.description, enabled, tooltip)
                            for b, enabled, tooltip in bindings)
        key_style = self.get_component_rich_style("key-footer--key")
        text_style = self.get_component_rich_style("key-footer--description")
        hover = self.get_component_rich_style("key-footer--hover")
        line = Text(no_wrap=True, overflow="crop", end="")
        keys: list[_FooterKey] = []

        def add_key(binding: Binding, enabled: bool, tooltip: str, description: str,
                    lead: str = " ", tail: str = " ") -> None:
            start = len(line)
            line.append(lead + app.get_key_display(binding) + tail, key_style)
            if description:
                line.append(description + " ", text_style)
            keys.append(_FooterKey(binding.key, start, len(line), tooltip, enabled))

        for group, items in groupby(bindings, lambda item: item[0].group):
            run = list(items)
            if group is not None and len(run) > 1:
                for binding, enabled, tooltip in run:
                    add_key(binding, enabled, tooltip or binding.description, "", tail="")
                line.append(" ")
                line.append(group.description + " ", text_style)
            else:
                for binding, enabled, tooltip in run:
                    add_key(binding, enabled, tooltip, binding.description)
        width = self.size.width
        palette = self.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
        if app.ENABLE_COMMAND_PALETTE and palette is not None:
            _, binding, enabled, _ = palette
            right = width - cell_len(binding.description) - len(app.get_key_display(binding)) - 3
            line.truncate(max(right, 0), pad=True)
            line.append("▏", self.get_component_rich_style("key-footer--rule"))
            add_key(binding, enabled, binding.tooltip or binding.description,
                    binding.description, lead="", tail=" ")
        line.truncate(width)
        self._keys = [k for k in keys if k.start < width]
        for k in self._keys:
            if not k.enabled:
                line.stylize("dim", k.start, k.end)
            if self._hover is not None and k.start == self._hover.start:
                line.stylize(hover, k.start, k.end)
        line.stylize_before(self.rich_style)
        return line

    def _key_at(self, x: int) -> _FooterKey | None:
        return next((k for k in self._keys if k.start <= x < k.end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        found = self._key_at(event.x)
        if found != self._hover:
            self._hover = found
            self.tooltip = found.tooltip if found is not None and found.tooltip else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        found = self._key_at(event.x)
        if found is None:
            return
        if found.enabled:
            self.app.simulate_key(found.key)
        else:
            self.app.bell()


class ClusterHeader(Horizontal):
    """Top bar: cluster name, bootstrap servers, connection state, firing alerts; the
    screen's title."""

    def compose(self) -> ComposeResult:
        yield Static(id="header-cluster")
        yield Static(id="header-state")
        yield Static(id="header-others")
        yield AlertsBadge(id="header-alerts")
        yield Static(id="header-title")

    def on_mount(self) -> None:
        app = cast("KafkaOpsApp", self.app)
        ro = "  [b reverse] READ-ONLY [/]" if app.read_only else ""
        self.query_one("#header-cluster", Static).update(
            f"[b]kafkaops[/]  {escape(app.cluster_name)} [dim]{escape(app.bootstrap)}[/]{ro}"
        )
        self.watch(self.screen, "title", self._show_title)
        self.watch(app, "connection", self._show_state)
        self.watch(app, "other_clusters", self._show_others)
        # the "retrying in Ns" countdown and the ages of unanswered clusters; cheap, and only
        # redraws when something is unreachable
        self.set_interval(1.0, self._tick)

    def _show_title(self, title: str | None) -> None:
        self.query_one("#header-title", Static).update(Text(title or ""))

    def _tick(self) -> None:
        app = cast("KafkaOpsApp", self.app)
        if app.connection.status == "unreachable":
            self._show_state()
        if app.other_clusters:
            self._show_others()

    def _show_others(self, *_: Any) -> None:
        """Other clusters the screen depends on (DR's standby) that do not answer: the
        header names them, so the console's own cluster is never blamed for them."""
        label = self.query_one("#header-others", Static)
        down = cast("KafkaOpsApp", self.app).other_clusters
        now = time.monotonic()
        label.update(Text("  ".join(
            f"● {name} no answer for {int(now - since)}s"
            for name, (_, since) in sorted(down.items())
        )))
        label.display = bool(down)

    def _show_state(self, *_: Any) -> None:
        state = cast("KafkaOpsApp", self.app).connection
        label = self.query_one("#header-state", Static)
        label.update(Text(f"● {state.label()}"))
        label.set_classes(f"state-{state.status}")


class DataScreen(Screen[None]):
    """A screen whose data comes from core: loaded in a worker, refreshed on a poll.

    Subclasses implement `compose_body`, `load` and `show` (see console/app.py).
    """

    REFRESH_EVERY: ClassVar[float] = 5.0
    """Seconds from the end of one load to the start of the next."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # every screen refreshes with r (the help screen and the status line say so); the
        # footer keeps its room for the keys that differ
        Binding("r", "refresh_now", "Refresh", show=False),
    ]

    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """Extra (key, what it does) lines for the help screen, for keys that are not bindings
    of the screen (a widget's Enter, mouse clicks)."""

    class DataLoaded(Message):
        """A load finished; `data` is what `load()` returned."""

        def __init__(self, data: Any) -> None:
            super().__init__()
            self.data = data

    class LoadFailed(Message):
        """A load failed with an error from core (or an unexpected one)."""

        def __init__(self, error: BaseException, *, unreachable: bool) -> None:
            super().__init__()
            self.error = error
            self.unreachable = unreachable

    def __init__(self, name: str | None = None, id: str | None = None) -> None:  # noqa: A002
        super().__init__(name=name, id=id)
        self._timer: Timer | None = None
        self._loading = False
        self._again = False  # `r` pressed while a load was running
        self._failures = 0
        self._loaded_at: float | None = None  # wall clock of the last good load
        self.stale_since: float | None = None
        """Wall clock of the data on screen while its cluster does not answer; None when the
        last load answered. Screens whose rows carry a verdict (ok, OK, RUNNING) then show
        it as UNKNOWN with its age (`SHOWS_STALE`), never as a verdict that is still true."""
        self._last_data: Any = None  # what the last good load gave `show`
        self._next_due = 0.0  # monotonic time the next load is due
        self._status_held_until = 0.0  # see set_status(hold=...)
        self._error_text = ""  # the last failure, shown again while the next try runs
        self._load_queued = False  # a load is due on the next turn of the loop
        self._suspended_once = False  # hidden at least once since it was mounted

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with the app's keys (the screens, help, quit) first: the footer shows
        them in this order and cuts what does not fit at the right, so on a narrow terminal
        it is a screen's own keys that are cut, never the way to the other screens."""
        found = super().active_bindings
        app = self.app
        ordered = {k: v for k, v in found.items() if v.node is app}
        ordered.update((k, v) for k, v in found.items() if v.node is not app)
        return ordered

    @property
    def services(self) -> Services:
        """Core's services, the same object as `self.app.services`."""
        return cast("KafkaOpsApp", self.app).services

    # ------------------------------------------------------------ to implement

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets, between the status line and the footer."""
        yield from ()

    async def load(self) -> Any:
        """Fetch the data through `self.services`. Runs in a worker; may raise core errors."""
        return None

    def show(self, data: Any) -> None:
        """Put the loaded data into the widgets. Runs on the UI loop; no I/O."""

    def depends_on(self) -> list[str]:
        """Clusters `load()` reads: while it runs each is asked a small question every
        second, and one that does not answer within a few seconds makes the load fail as
        unreachable (core/kafka/reach.py), instead of waiting out every request's timeout."""
        return [self.services.cluster_name]

    def reached(self, data: Any) -> dict[str, str | None]:
        """Which clusters answered for this data: {cluster: None, other: "why not"}. A
        screen whose data says some cluster did not answer (DR) overrides it, so the header
        blames that cluster, not the console's."""
        return {self.services.cluster_name: None}

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield ClusterHeader()
        banner = cast("KafkaOpsApp", self.app).banner
        if banner:
            yield Static(banner, id="banner", markup=False)
        yield Static("loading…", id="status")
        yield from self.compose_body()
        yield KeyFooter()

    #: the screen's rows carry verdicts (ok, OK, complies): while its cluster does not answer,
    #: its last data is shown again after each failed try, with `stale_since` set, and
    #: `show` writes each verdict as `unknown_was` says
    SHOWS_STALE: ClassVar[bool] = False

    def stale_age(self) -> str:
        """How old the data on screen is, as people read it ("52s"), while it is stale."""
        from kafkaops.core.lag.status import age  # only once a cluster stops answering

        return age(time.time() - self.stale_since) if self.stale_since is not None else ""

    def unknown_was(self, verdict: str) -> str | None:
        """A verdict cell while the data is stale ("UNKNOWN · was ok 52s ago"); None while
        the data is current."""
        if self.stale_since is None:
            return None
        return f"UNKNOWN · was {verdict} {self.stale_age()} ago"

    def set_status(
        self, text: str, kind: str = "ok", *, hold: float = 0.0, routine: bool = False
    ) -> None:
        """The line under the header: load state, errors, staleness.

        `hold`: seconds during which `routine` messages (the poll's "updated ...") do not
        replace this one: for answers to something the user typed (a bad filter, a bad
        jump) that a 1-second poll would otherwise wipe before it is read.
        """
        if routine and time.monotonic() < self._status_held_until:
            return
        self._status_held_until = time.monotonic() + hold if hold else 0.0
        status = self.query_one("#status", Static)
        # plain: error messages may contain [brackets]; escaped: they quote remote systems;
        # core's hints name CLI commands, given here as the console's keys
        status.update(Text(printable(in_console_words(text), multiline=True)))
        status.set_classes(f"status-{kind}")

    # ------------------------------------------------------------ polling

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._suspended_once:
            # Never hidden yet: every widget was styled as it mounted, and again on every
            # change of class or state since, so Textual's restyle of the whole screen on
            # resume (run after this handler) would change nothing. It comes twice as the
            # console starts (the mode is made, then switched to): about 0.005 s of CPU each
            # (docs/benchmarks.md, "console start").
            event.refresh_styles = False
        # visible again: catch up now if a poll fell due while hidden, else keep the schedule
        if not self._loading:
            self._schedule(max(0.0, self._next_due - time.monotonic()))

    def on_screen_suspend(self) -> None:
        self._suspended_once = True
        # hidden views do not poll
        self._cancel_timer()

    def action_refresh_now(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        """Load now (or right after the load that is running: polls never overlap)."""
        self._cancel_timer()
        if self._loading:
            self._again = True
            return
        self._loading = True
        cast("KafkaOpsApp", self.app).report_connecting()
        if self._error_text:
            # never leave a "next try at" time on screen once that time has come
            self.set_status(f"{self._error_text} Trying again now (since "
                            f"{clock(time.time())}; r tries now).", "error")
        self._load_worker()

    def _schedule(self, delay: float) -> None:
        self._cancel_timer()
        self._next_due = time.monotonic() + delay
        if not self.is_current:
            return  # on_screen_resume picks the schedule up
        if delay <= 0:
            # resumed twice in a row (as at start-up): one load, not one and then another
            if not self._load_queued:
                self._load_queued = True
                self.call_later(self._queued_load)
        else:
            self._timer = self.set_timer(delay, self.refresh_data)

    def _queued_load(self) -> None:
        self._load_queued = False
        self.refresh_data()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    @work(exclusive=True, group="load", exit_on_error=False)
    async def _load_worker(self) -> None:
        try:
            data = await answering(self.services, self.depends_on(), self.load)
        except ClusterUnreachable as e:
            # forget the broken connection so the next attempt reconnects from scratch
            await self.services.drop(e.cluster)
            self.post_message(self.LoadFailed(e, unreachable=True))
        except KafkaOpsError as e:
            self.post_message(self.LoadFailed(e, unreachable=False))
        except Exception as e:  # not core's: maybe a half-broken client; start afresh
            await self.services.drop()
            self.post_message(self.LoadFailed(e, unreachable=False))
        else:
            self.post_message(self.DataLoaded(data))

    @on(DataLoaded)
    def _loaded(self, message: DataLoaded) -> None:
        message.stop()
        self._failures = 0
        self._error_text = ""
        self._loaded_at = time.time()
        self.stale_since = None
        self._last_data = message.data
        app = cast("KafkaOpsApp", self.app)
        try:
            reached = self.reached(message.data)
        except Exception:  # a bug in the override: say nothing about the others
            reached = {self.services.cluster_name: None}
        for cluster, error in reached.items():
            if cluster != app.cluster_name:
                app.report_other(cluster, error)
            elif error is None:
                app.report_connected()
            else:
                app.report_unreachable(error, self.REFRESH_EVERY)
        if app.cluster_name not in reached:
            app.report_connected()
        try:
            self.show(message.data)
        except Exception as e:  # a rendering bug: say so, keep the console up
            self.set_status(f"cannot show this data: {type(e).__name__}: {e}", "error")
        else:
            self.set_status(f"updated {clock(self._loaded_at)} · every {self.REFRESH_EVERY:g}s",
                            routine=True)
        self._finished(self.REFRESH_EVERY)

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        message.stop()
        error = message.error
        app = cast("KafkaOpsApp", self.app)
        if message.unreachable:
            self._failures += 1
            delay = backoff(self._failures)
            cluster = getattr(error, "cluster", None) or app.cluster_name
            if cluster == app.cluster_name:
                app.report_unreachable(str(error), delay)
            else:
                app.report_other(cluster, str(error))
            stale = (
                f" Showing data from {clock(self._loaded_at)}." if self._loaded_at else ""
            )
            self._error_text = f"cluster unreachable: {error}.{stale}"
            if self._loaded_at is not None and self.SHOWS_STALE:
                self.stale_since = self._loaded_at
                try:
                    self.show(self._last_data)
                except Exception as e:  # a rendering bug: the status line still says it all
                    self._error_text += f" (cannot mark the data stale: {type(e).__name__})"
            retry = clock(time.time() + delay)
            self.set_status(f"{self._error_text} Next try at {retry} (r tries now).", "error")
            self._finished(delay)
            return
        text = str(error)
        if not isinstance(error, KafkaOpsError):
            text = f"{type(error).__name__}: {error}"
        self._error_text = f"error: {text}."
        retry = clock(time.time() + self.REFRESH_EVERY)
        self.set_status(f"{self._error_text} Next try at {retry} (r tries now).", "error")
        self._finished(self.REFRESH_EVERY)

    def _finished(self, delay: float) -> None:
        self._loading = False
        if self._again:
            self._again = False
            delay = 0.0
        self._schedule(delay)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # the worker catches everything it expects; this is for what escapes it (a
        # cancellation, an error in the worker itself), so the poll never stops for good
        if event.worker.group != "load":
            return
        if event.state is WorkerState.CANCELLED and self._loading:
            self._loading = False
        elif event.state is WorkerState.ERROR and self._loading:
            self.post_message(self.LoadFailed(event.worker.error or RuntimeError("worker failed"),
                                              unreachable=False))


class BrokenScreen(DataScreen):
    """Stands in for a screen whose module failed to import, so the console stays up."""

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title = title
        self._error = error

    def compose_body(self) -> ComposeResult:
        yield Static(f"This screen could not be opened:\n{self._error}", id="broken", markup=False)

    def on_mount(self) -> None:
        self.set_status(f"{self.title}: screen unavailable", "error")

    def refresh_data(self) -> None:
        pass

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        pass
