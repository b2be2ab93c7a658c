"""MirrorMaker 2's replication policies, as pure functions: how a topic is named on the
other cluster, and which topics are MM2's own (docs/mm2-formats.md).

The default policy (`<source><sep><topic>`) and the identity policy, with a custom
separator and the internal-topic separator switch (`internal.topic.separator.enabled`).
"""

from __future__ import annotations

from typing import Literal

from kafkaops.core.dr.mm2_formats import HEARTBEATS_TOPIC
from kafkaops.core.errors import ConfigError


class DefaultReplicationPolicy:
    """`DefaultReplicationPolicy`: remote topics are `<source><separator><topic>`."""

    name: Literal["default", "identity"] = "default"

    def __init__(self, separator: str = ".", *, internal_topic_separator: bool = True) -> None:
        if not separator:
            raise ConfigError("replication policy separator must not be empty")
        self.separator = separator
        #: separator of the internal topics' names (`internal.topic.separator.enabled`)
        self.internal_separator = separator if internal_topic_separator else "."

    def __repr__(self) -> str:
        return f"{type(self).__name__}(separator={self.separator!r})"

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        return source_alias + self.separator + topic

    def topic_source(self, topic: str) -> str | None:
        """The alias a remote topic came from, None for a local topic.

        Java splits with `Pattern.split`, which drops trailing empty strings."""
        parts = topic.split(self.separator)
        while parts and parts[-1] == "":
            parts.pop()
        return parts[0] if len(parts) >= 2 else None

    def upstream_topic(self, topic: str) -> str | None:
        source = self.topic_source(topic)
        if source is None:
            return None
        return topic[len(source) + len(self.separator) :]

    def original_topic(self, topic: str) -> str:
        """The name at the first hop: `upstream_topic` applied until it stops changing."""
        while True:
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic:
                return topic
            topic = upstream

    def heartbeats_topic(self) -> str:
        return HEARTBEATS_TOPIC

    def offset_syncs_topic(self, alias: str) -> str:
        sep = self.internal_separator
        return f"mm2-offset-syncs{sep}{alias}{sep}internal"

    def checkpoints_topic(self, alias: str) -> str:
        sep = self.internal_separator
        return f"{alias}{sep}checkpoints{sep}internal"

    def is_heartbeats_topic(self, topic: str) -> bool:
        return self.original_topic(topic) == HEARTBEATS_TOPIC

    def is_checkpoints_topic(self, topic: str) -> bool:
        sep = self.internal_separator
        return topic.endswith(f"{sep}checkpoints{sep}internal")

    def is_mm2_internal_topic(self, topic: str) -> bool:
        return topic.endswith(f"{self.internal_separator}internal")

    def is_internal_topic(self, topic: str) -> bool:
        return (
            self.is_mm2_internal_topic(topic)
            or topic.startswith(("__", "."))
            or topic.endswith(("-internal", ".internal"))
        )

    def is_cycle(self, topic: str, target_alias: str) -> bool:
        """True when replicating `topic` to `target_alias` would send it back where it came
        from (MirrorSourceConnector.isCycle)."""
        seen = 0
        while True:
            source = self.topic_source(topic)
            if source is None:
                return False
            if source == target_alias:
                return True
            upstream = self.upstream_topic(topic)
            if upstream is None or upstream == topic or seen > 1000:
                return False
            topic, seen = upstream, seen + 1

    def checkpoint_topic_name(self, source_alias: str, target_alias: str, topic: str) -> str:
        """The target-side name a checkpoint carries for upstream `topic`
        (MirrorCheckpointTask.renameTopicPartition)."""
        if self.topic_source(topic) == target_alias:
            return self.original_topic(topic)
        return self.format_remote_topic(source_alias, topic)


class IdentityReplicationPolicy(DefaultReplicationPolicy):
    """`IdentityReplicationPolicy`: remote topics keep their names, except heartbeat-like
    topics (names ending in `heartbeats`), which follow the default policy."""

    name: Literal["default", "identity"] = "identity"

    def __init__(
        self,
        separator: str = ".",
        *,
        internal_topic_separator: bool = True,
        source_alias: str | None = None,
    ) -> None:
        super().__init__(separator, internal_topic_separator=internal_topic_separator)
        #: `source.cluster.alias`: what topic_source answers for any non-heartbeat topic
        self.source_alias = source_alias

    def _looks_like_heartbeat(self, topic: str) -> bool:
        return topic.endswith(HEARTBEATS_TOPIC)

    def format_remote_topic(self, source_alias: str, topic: str) -> str:
        if self._looks_like_heartbeat(topic):
            return super().format_remote_topic(source_alias, topic)
        return topic

    def topic_source(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().topic_source(topic)
        return self.source_alias

    def upstream_topic(self, topic: str) -> str | None:
        if self._looks_like_heartbeat(topic):
            return super().upstream_topic(topic)
        return topic


ReplicationPolicy = DefaultReplicationPolicy


def replication_policy(
    kind: str,
    separator: str = ".",
    *,
    internal_topic_separator: bool = True,
    source_alias: str | None = None,
) -> DefaultReplicationPolicy:
    """The policy named in config (`default` or `identity`)."""
    if kind == "default":
        return DefaultReplicationPolicy(
            separator, internal_topic_separator=internal_topic_separator
        )
    if kind == "identity":
        return IdentityReplicationPolicy(
            separator, internal_topic_separator=internal_topic_separator, source_alias=source_alias
        )
    raise ConfigError(f"replication_policy: expected default or identity, got {kind!r}")


