"""A subject of the Schema Registry in Slack (`/kafka schema SUBJECT`). Pure functions of
core's schema records."""

from __future__ import annotations

from kafkaops.bot.render.common import (
    Block,
    Message,
    code_sections,
    context,
    esc,
    header,
    run_button,
    run_words,
    section,
)
from kafkaops.core.schema.browse import SubjectDetail, pretty

#: schema lines shown; the rest is cut with a note (`kafkaops schemas show` prints it all)
MAX_LINES = 60


def render_schema(cluster: str, registry: str, d: SubjectDetail) -> Message:
    s = d.schema
    level = d.level
    lines = [
        f"*{esc(d.subject)}* version *{s.version}* of {len(d.versions)} · id {s.id} · "
        f"{s.type}",
        f"compatibility *{level.level}* "
        + ("(set on the subject)" if level.source == "subject" else "(the global level)"),
    ]
    lines += [f"references `{esc(r.name)}` → {esc(r.subject)} v{r.version}"
              for r in s.references]
    if d.referenced_by:
        lines.append("referenced by ids " + ", ".join(str(i) for i in d.referenced_by))
    text = pretty(s).splitlines()
    more = (f"… {len(text) - MAX_LINES} more lines: `kafkaops schemas show {d.subject}` in a "
            "terminal shows all of it" if len(text) > MAX_LINES else "")
    others = [v for v in d.versions if v != s.version][-3:]
    buttons = [b for i, v in enumerate(reversed(others)) if (b := run_button(
        f"Version {v}", run_words(["schema", "--version", str(v), "--cluster", cluster],
                                d.subject), i))]
    blocks: list[Block] = [
        header(f"Schema {d.subject}"),
        section("\n".join(lines)),
        *code_sections(text[:MAX_LINES], more=more, max_blocks=4),
        *([{"type": "actions", "block_id": "kafkaops.schema.versions", "elements": buttons}]
          if buttons else []),
        context(f"versions {', '.join(str(v) for v in d.versions)} · registry "
                f"{esc(registry)} · cluster {esc(cluster)}"),
    ]
    return Message(f"{d.subject} v{s.version} (id {s.id}, {s.type}, {level.level})",
                   tuple(blocks))
