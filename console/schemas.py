"""The Schema Registry screen: subjects with their latest version, type and id; the
highlighted subject's versions and compatibility level; the highlighted version's schema,
or its diff against a version marked with space.

Data: `SchemaBrowser` from core (the cluster's `schema_registry` in config). The subject
list polls; a subject's versions and a version's schema load in workers when highlighted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from kafkaops.console.base import DataScreen
from kafkaops.core.errors import KafkaOpsError
from kafkaops.core.schema.browse import SchemaBrowser, SubjectDetail, SubjectSummary, diff, pretty
from kafkaops.core.schema.records import CompatibilityLevel, RegisteredSchema
from kafkaops.core.textfmt import plural
from kafkaops.core.untrusted import printable


def right(value: object) -> Text:
    return Text("-" if value is None else str(value), justify="right")


def render_diff(lines: list[str]) -> Text:
    out = Text()
    for line in lines:
        style = ("green" if line.startswith("+") and not line.startswith("+++") else
                 "red" if line.startswith("-") and not line.startswith("---") else
                 "cyan" if line.startswith("@@") else "")
        out.append(printable(line) + "\n", style=style)
    return out


class SchemasScreen(DataScreen):
    """Subjects, versions, a schema or a diff, compatibility levels."""

    CSS_PATH = "schemas.tcss"
    AUTO_FOCUS = "#schema-subjects"
    REFRESH_EVERY = 30.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark for diff"),
        Binding("tab", "focus_next", "Subjects/versions", show=False),
    ]
    HELP_KEYS = (("↑↓ on subjects", "show the subject's versions and level"),
                 ("↑↓ on versions", "show that version's schema (or the diff with the marked "
                  "one)"))

    def __init__(self) -> None:
        super().__init__()
        self.title = "Schemas"
        self._subjects: dict[str, SubjectSummary] = {}
        self._global: CompatibilityLevel | None = None
        self._subject: str | None = None
        self._detail: SubjectDetail | None = None
        self._drawn_subject: str | None = None  # the subject the versions table holds
        self._versions: dict[int, RegisteredSchema] = {}
        self.marked: int | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="schema-summary")
        with Horizontal(id="schema-body"):
            with Vertical(id="schema-left"):
                yield DataTable(id="schema-subjects", cursor_type="row", zebra_stripes=True)
                yield Static(id="schema-subject-info")
                yield DataTable(id="schema-versions", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="schema-detail-pane"):
                yield Static("select a subject", id="schema-detail")

    def on_mount(self) -> None:
        t: DataTable[Any] = self.query_one("#schema-subjects", DataTable)
        for label in ("Subject", "Versions", "Latest", "Type", "Id"):
            t.add_column(label, key=label)
        v: DataTable[Any] = self.query_one("#schema-versions", DataTable)
        for label in ("", "Version", "Id", "Type", "Refs"):
            v.add_column(label, key=label or "mark")

    # ------------------------------------------------------------ the subject list

    async def load(self) -> tuple[list[SubjectSummary], CompatibilityLevel]:
        browser = SchemaBrowser(self.services)
        return await browser.subjects(), await browser.client.compatibility()

    def show(self, data: tuple[list[SubjectSummary], CompatibilityLevel]) -> None:
        subjects, self._global = data
        self._subjects = {s.subject: s for s in subjects}
        table: DataTable[Any] = self.query_one("#schema-subjects", DataTable)
        cursor = table.cursor_row
        table.clear()
        for s in subjects:
            latest = s.latest
            table.add_row(Text(printable(s.subject)), right(s.versions),
                          right(latest.version if latest else None),
                          latest.type if latest else "?", right(latest.id if latest else None),
                          key=s.subject)
        client = SchemaBrowser(self.services).client
        self.query_one("#schema-summary", Static).update(Text(printable(
            f"{plural(len(subjects), 'subject')} at {client.url} · global compatibility "
            f"{self._global.level} · space marks a version, then ↑↓ shows the diff")))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
            current = self._current_subject()
            if current is not None and current != self._subject:
                self._open_subject(current)

    def _current_subject(self) -> str | None:
        table: DataTable[Any] = self.query_one("#schema-subjects", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowHighlighted, "#schema-subjects")
    def _subject_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and str(event.row_key.value) != self._subject:
            self._open_subject(str(event.row_key.value))

    def _open_subject(self, subject: str) -> None:
        self._subject = subject
        self.marked = None
        self._versions = {}
        self._load_subject(subject)

    @work(exclusive=True, group="schema-subject", exit_on_error=False)
    async def _load_subject(self, subject: str) -> None:
        try:
            detail = await SchemaBrowser(self.services).detail(subject)
        except KafkaOpsError as e:
            self.set_status(f"error: {e}", "error", hold=10)
            return
        if subject != self._subject:
            return
        self._detail = detail
        if detail.schema.version is not None:
            self._versions[detail.schema.version] = detail.schema
        self._draw_versions()
        self._show_version(detail.schema.version)

    # ------------------------------------------------------------ versions

    def _draw_versions(self) -> None:
        d = self._detail
        if d is None:
            return
        lvl = d.level
        info = Text()
        info.append(printable(d.subject), style="bold")
        where = "set on the subject" if lvl.source == "subject" else "global"
        info.append(printable(f" · {plural(len(d.versions), 'version')} · compatibility "
                              f"{lvl.level} ({where})"))
        if d.referenced_by:
            info.append(" · referenced by ids " + ", ".join(map(str, d.referenced_by)))
        self.query_one("#schema-subject-info", Static).update(info)
        table: DataTable[Any] = self.query_one("#schema-versions", DataTable)
        # the same subject drawn again keeps its cursor; another opens on its latest version
        # (keeping the row of the subject before highlighted that row's version instead)
        same = self._drawn_subject == d.subject
        cursor = table.cursor_row if same and table.row_count else len(d.versions) - 1
        self._drawn_subject = d.subject
        table.clear()
        for n in d.versions:
            s = self._versions.get(n)
            table.add_row("◆" if n == self.marked else "", right(n),
                          right(s.id if s else None), s.type if s else "",
                          right(len(s.references) if s else None), key=str(n))
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1), animate=False)

    def _current_version(self) -> int | None:
        table: DataTable[Any] = self.query_one("#schema-versions", DataTable)
        if not table.row_count:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or 0)

    @on(DataTable.RowHighlighted, "#schema-versions")
    def _version_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None:
            self._show_version(int(str(event.row_key.value)))

    def _show_version(self, version: int | None) -> None:
        if version is None or self._subject is None:
            return
        self._load_version(self._subject, version, self.marked)

    @work(exclusive=True, group="schema-version", exit_on_error=False)
    async def _load_version(self, subject: str, version: int, marked: int | None) -> None:
        browser = SchemaBrowser(self.services)
        cache = self._versions  # this subject's: another subject opened meanwhile gets its own
        try:
            for n in {version, marked} - {None}:
                assert n is not None
                if n not in cache:
                    got = await browser.version(subject, n)
                    if subject != self._subject:
                        # the person moved on while this was read: never file this
                        # subject's schema under the one now open (it showed another
                        # subject's schema under that one's name)
                        return
                    cache[n] = got
        except KafkaOpsError as e:
            self.set_status(f"error: {e}", "error", hold=10)
            return
        if subject != self._subject:
            return
        s = cache[version]
        out = Text()
        try:
            if marked is not None and marked != version:
                lines = diff(self._versions[marked], s)
                out.append(f"diff v{marked} → v{version}\n", style="bold")
                out.append_text(render_diff(lines) if lines else Text("the same schema\n"))
            else:
                out.append(printable(f"{subject} v{s.version} · id {s.id} · {s.type}") + "\n",
                           style="bold")
                for r in s.references:
                    out.append(printable(f"references {r.name} → {r.subject} v{r.version}")
                               + "\n")
                out.append("\n" + printable(pretty(s), multiline=True))
        except KafkaOpsError as e:  # a schema text too deep to read (UnusableSchema)
            out.append("\n" + printable(str(e), multiline=True))
            self.set_status(f"error: {e}", "error", hold=10)
        self.query_one("#schema-detail", Static).update(out)
        self._draw_versions()

    def action_mark(self) -> None:
        version = self._current_version()
        if version is None:
            return
        self.marked = None if self.marked == version else version
        self.set_status(f"marked v{version}: move to another version to see the diff"
                        if self.marked else "diff mark cleared", hold=5)
        self._draw_versions()
        self._show_version(version)
