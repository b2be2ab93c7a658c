""""Did you mean": a name that is not on the cluster (a consumer group, a topic, a flag)
answered with the names that are, each as a button running the same command with it.

Subcommands say which argument names what (`bot.command(..., names=("group", "group"))`);
when core answers NotFound for it, the bot lists that kind of name on the cluster and
offers the closest (difflib's ratio, then names containing what was typed).
"""

from __future__ import annotations

import difflib
import logging
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from kafkaops.bot.render.common import Message, clause, context, esc, run_button, section
from kafkaops.core.errors import KafkaOpsError

if TYPE_CHECKING:
    from kafkaops.bot.router import Invocation

log = logging.getLogger("kafkaops.bot")

Kind = Literal["group", "topic", "flag"]
#: how many names are offered
SUGGESTIONS = 3


def closest(name: str, names: Sequence[str], n: int = SUGGESTIONS) -> list[str]:
    """The names most like `name`: close spellings first, then names containing it."""
    close = difflib.get_close_matches(name, list(names), n=n, cutoff=0.6)
    low = name.lower()
    contains = sorted((x for x in names if low and low in x.lower() and x not in close),
                      key=len)
    return (close + contains)[:n]


async def names_of(inv: Invocation, kind: Kind) -> list[str]:
    """Every name of that kind on the invocation's cluster."""
    if kind == "group":
        return await (await inv.services.lag(inv.cluster)).list_groups()
    if kind == "topic":
        return [t.name for t in await (await inv.topics()).list_topics(offsets=False)]
    return [f.key for f in await (await inv.services.flags(inv.cluster)).list_flags()]


async def not_found(inv: Invocation, kind: Kind, name: str, problem: str) -> Message:
    """The reply to a name core did not find: what is wrong, and the closest names as
    buttons that run the same command with them."""
    try:
        offer = closest(name, await names_of(inv, kind))
    except KafkaOpsError as e:  # the listing failed: say what was wrong, without offers
        log.info("no suggestions for %s %r: %s", kind, name, e)
        offer = []
    command = inv.bot.command_name
    said = clause(problem)
    if not offer:
        return Message(f"{said}.", (section(f":grey_question: {esc(said)}."),))
    words = list(inv.words)
    buttons = []
    for i, other in enumerate(offer):
        if other.startswith("-"):  # a name that reads as an option: said, not a button
            continue
        swapped = [other if w == name else w for w in words]
        if inv.cluster_given:
            swapped += ["--cluster", inv.cluster]
        b = run_button(other, shlex.join(swapped), i)
        if b is not None:
            buttons.append(b)
    listed = ", ".join(f"`{esc(o)}`" for o in offer)
    blocks = [section(f":grey_question: {esc(said)}.\nDid you mean {listed}?")]
    if buttons:
        blocks.append({"type": "actions", "block_id": "kafkaops.suggest", "elements": buttons})
    blocks.append(context(f"A button runs `{esc(command)} {esc(' '.join(words[:2]))}` "
                          "with that name, for you alone."))
    return Message(f"{said}. Did you mean {', '.join(offer)}?", tuple(blocks))
