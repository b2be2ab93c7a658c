# mypy: disallow-subclassing-any=False
# (aiokafka ships no type information: its protocol classes are Any to mypy)
"""IncrementalAlterConfigs (KIP-339, Kafka 2.3+): set topic configs one by one.

aiokafka 0.14 offers only the classic AlterConfigs, which replaces the whole set of a
topic's overrides (every other override must be sent again, and a sensitive one whose value
the broker will not show cannot be), and which the embedded broker (Tansu) does not
implement. IncrementalAlterConfigs changes the configs named and leaves the others alone;
Tansu and every Kafka since 2.3 implement it. Built here from aiokafka's own protocol
building blocks (version 0, the non-flexible layout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

TOPIC_RESOURCE = 2
SET = 0


class IncrementalAlterConfigsResponseV0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(
            ("error_code", Int16),
            ("error_message", String("utf-8")),
            ("resource_type", Int8),
            ("resource_name", String("utf-8")))),
    )


class IncrementalAlterConfigsRequestV0(RequestStruct):
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponseV0
    SCHEMA = Schema(
        ("resources", Array(
            ("resource_type", Int8),
            ("resource_name", String("utf-8")),
            ("configs", Array(
                ("name", String("utf-8")),
                ("config_operation", Int8),
                ("value", String("utf-8")))))),
        ("validate_only", Boolean),
    )


class IncrementalAlterConfigs(Request[IncrementalAlterConfigsRequestV0]):
    """Set configs of topics: {topic: {config: value}}. `conn.send()` raises
    IncompatibleBrokerVersion (before anything is written) where the broker lacks it."""

    API_KEY = 44

    def __init__(self, topics: Mapping[str, Mapping[str, str]], *,
                 validate_only: bool = False) -> None:
        self.topics = topics
        self.validate_only = validate_only

    def build(self, request_struct_class: type[IncrementalAlterConfigsRequestV0]
              ) -> IncrementalAlterConfigsRequestV0:
        resources: list[Any] = [
            (TOPIC_RESOURCE, topic, [(k, SET, v) for k, v in sorted(configs.items())])
            for topic, configs in self.topics.items()]
        return request_struct_class(resources, self.validate_only)


def errors_of(response: Any) -> dict[str, tuple[int, str]]:
    """topic -> (error code, message) for each resource the broker refused."""
    out: dict[str, tuple[int, str]] = {}
    for code, message, _rtype, name in response.responses:
        if code:
            out[name] = (code, message or f"Kafka error code {code}")
    return out
