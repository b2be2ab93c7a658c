"""What the demo's orders-service does with a record it cannot process: `check_order` says
why a Java listener would fail on it, `spring_dlt_headers` the headers Spring Kafka's
DeadLetterPublishingRecoverer adds when it publishes it to the dead-letter topic.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

#: headers Spring Kafka's DeadLetterPublishingRecoverer adds; partition is a 4-byte and offset
#: and timestamp 8-byte big-endian integers, the rest UTF-8 strings
DLT_ORIGINAL_TOPIC = "kafka_dlt-original-topic"
DLT_ORIGINAL_PARTITION = "kafka_dlt-original-partition"
DLT_ORIGINAL_OFFSET = "kafka_dlt-original-offset"
DLT_ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
DLT_ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
DLT_ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
DLT_EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
DLT_EXCEPTION_CAUSE_FQCN = "kafka_dlt-exception-cause-fqcn"
DLT_EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
DLT_EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"


@dataclass(frozen=True)
class ListenerFailure:
    """Why a consumer could not process a record, as a Java listener would report it."""

    cause_fqcn: str
    """Class of the underlying exception."""
    message: str
    """Its message."""


def check_order(value: bytes | None) -> ListenerFailure | None:
    """What the demo's orders-service does with a record: None if fine, else the failure."""
    listener = "com.acme.orders.OrderEventListener.onOrderEvent"
    try:
        event = json.loads(value or b"")
    except ValueError:
        return ListenerFailure(
            "com.fasterxml.jackson.core.io.JsonEOFException",
            f"Listener method '{listener}' threw exception; Unexpected end-of-input: "
            "expected close marker for OBJECT (start marker at [Source: (byte[]); line: 1, "
            "column: 1])",
        )
    if not isinstance(event, dict):
        return ListenerFailure("java.lang.IllegalArgumentException",
                               f"Listener method '{listener}' threw exception; not an object")
    if isinstance(event.get("total"), int | float) and event["total"] < 0:
        return ListenerFailure(
            "jakarta.validation.ConstraintViolationException",
            f"Listener method '{listener}' threw exception; onOrderEvent.event.total: must "
            "be greater than or equal to 0",
        )
    if event.get("currency") not in ("EUR", "USD", "GBP"):
        return ListenerFailure(
            "java.lang.IllegalArgumentException",
            f"Listener method '{listener}' threw exception; Unsupported currency code: "
            f"{event.get('currency')}",
        )
    return None


def spring_dlt_headers(
    topic: str, partition: int, offset: int, timestamp_ms: int, group: str,
    failure: ListenerFailure,
) -> list[tuple[str, bytes]]:
    """The headers Spring Kafka (2.8+) adds to a record it publishes to a dead-letter topic."""
    fqcn = "org.springframework.kafka.listener.ListenerExecutionFailedException"
    trace = (
        f"{fqcn}: {failure.message}\n"
        "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer$"
        "ListenerConsumer.decorateException(KafkaMessageListenerContainer.java:2976)\n"
        "\tat org.springframework.kafka.listener.KafkaMessageListenerContainer$"
        "ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2844)\n"
        f"Caused by: {failure.cause_fqcn}: {failure.message.split('; ', 1)[-1]}\n"
        "\tat com.acme.orders.OrderEventListener.onOrderEvent(OrderEventListener.java:57)\n"
    )
    return [
        (DLT_ORIGINAL_TOPIC, topic.encode()),
        (DLT_ORIGINAL_PARTITION, struct.pack(">i", partition)),
        (DLT_ORIGINAL_OFFSET, struct.pack(">q", offset)),
        (DLT_ORIGINAL_TIMESTAMP, struct.pack(">q", timestamp_ms)),
        (DLT_ORIGINAL_TIMESTAMP_TYPE, b"CreateTime"),
        (DLT_ORIGINAL_CONSUMER_GROUP, group.encode()),
        (DLT_EXCEPTION_FQCN, fqcn.encode()),
        (DLT_EXCEPTION_CAUSE_FQCN, failure.cause_fqcn.encode()),
        (DLT_EXCEPTION_MESSAGE, failure.message.encode()),
        (DLT_EXCEPTION_STACKTRACE, trace.encode()),
    ]
