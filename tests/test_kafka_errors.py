"""map_kafka_errors: what each aiokafka error (and OSError, TimeoutError) becomes in core.

A table of real aiokafka error instances: the core error type, whether trying again may
help, and the words a person acts on (the cluster, where, what to check)."""

from __future__ import annotations

import asyncio

import aiokafka.errors as ak
import pytest

from kafkaops.core.config import ClusterConfig, SaslConfig, Secret
from kafkaops.core.errors import ClusterUnreachable, KafkaOpsError, NotFound, Refused
from kafkaops.core.kafka.errors import is_kafka_error, kafka_error, map_kafka_errors

CFG = ClusterConfig(bootstrap_servers="10.0.0.5:9092")
SASL = ClusterConfig(bootstrap_servers="10.0.0.6:9093", security_protocol="SASL_PLAINTEXT",
                     sasl=SaslConfig(mechanism="SCRAM-SHA-256", username="ops",
                                     password=Secret("pw")))
CHECK = "— check clusters.dr.bootstrap_servers and that the brokers are up"


@pytest.mark.parametrize(("err", "kind", "retriable", "words"), [
    (ak.KafkaConnectionError("Unable to bootstrap from [('10.0.0.5', 9092)]"),
     ClusterUnreachable, True,
     f"cluster 'dr' unreachable at 10.0.0.5:9092: KafkaConnectionError: Unable to bootstrap "
     f"from [('10.0.0.5', 9092)] {CHECK}"),
    (ak.KafkaTimeoutError(), ClusterUnreachable, True,
     f"cluster 'dr' unreachable at 10.0.0.5:9092: KafkaTimeoutError {CHECK}"),
    (ak.NodeNotReadyError(1), ClusterUnreachable, True, "NodeNotReadyError: 1"),
    (ak.RequestTimedOutError(), ClusterUnreachable, True, "RequestTimedOutError"),
    (ak.NotCoordinatorForGroupError(), ClusterUnreachable, True, "NotCoordinatorForGroupError"),
    (ConnectionRefusedError(111, "Connect call failed"), ClusterUnreachable, True,
     f"unreachable at 10.0.0.5:9092: [Errno 111] Connect call failed {CHECK}"),
    (TimeoutError(), ClusterUnreachable, True, "10.0.0.5:9092: TimeoutError"),
    (TimeoutError(), ClusterUnreachable, True, "10.0.0.5:9092: TimeoutError"),
    (ak.TopicAuthorizationFailedError(), Refused, False,
     "cluster 'dr' refused to answer: not authorized ([Error 29] "
     "TopicAuthorizationFailedError) — the ACLs on cluster 'dr' must allow kafkaops' principal"),
    (ak.GroupAuthorizationFailedError(), Refused, False, "GroupAuthorizationFailedError"),
    (ak.ClusterAuthorizationFailedError(), Refused, False, "ClusterAuthorizationFailedError"),
    (ak.UnknownTopicOrPartitionError(), NotFound, False,
     "cannot do that on cluster 'dr': no such topic or partition"),
    (ak.InvalidTopicError(), KafkaOpsError, False,
     "cluster 'dr' refused to answer: [Error 17] InvalidTopicError"),
    (ak.PolicyViolationError("too many"), KafkaOpsError, False, "PolicyViolationError"),
])
def test_each_error_becomes_cores_own(err, kind, retriable, words) -> None:
    with pytest.raises(KafkaOpsError) as got, map_kafka_errors("dr", CFG):
        raise err
    assert type(got.value) is kind
    assert got.value.retriable is retriable
    assert words in str(got.value)
    if isinstance(got.value, ClusterUnreachable | Refused):
        assert got.value.cluster == "dr"
    assert got.value.__suppress_context__  # aiokafka's error never shows as "during handling"


@pytest.mark.parametrize("err", [
    ak.SaslAuthenticationFailed("Authentication failed"),
    ak.AuthenticationFailedError(),
    ak.UnsupportedSaslMechanismError(),
])
def test_refused_credentials_name_the_user_and_say_waiting_will_not_help(err) -> None:
    mapped = kafka_error(err, "secure", SASL)
    assert isinstance(mapped, ClusterUnreachable) and mapped.retriable is False
    assert str(mapped).startswith(
        "cluster 'secure' at 10.0.0.6:9093 refused the SASL credentials (user 'ops', "
        "SCRAM-SHA-256): ")
    assert str(mapped).endswith("— check clusters.secure.sasl (username, password, mechanism)")
    assert "pw" not in str(mapped)


def test_doing_and_note_word_the_message() -> None:
    mapped = kafka_error(ak.KafkaTimeoutError(), "p", CFG, doing="write flag 'checkout'",
                         note="nothing was changed")
    assert str(mapped) == (
        "cannot write flag 'checkout' on cluster 'p': unreachable at 10.0.0.5:9092: "
        "KafkaTimeoutError — check clusters.p.bootstrap_servers and that the brokers are up; "
        "nothing was changed")
    refused = kafka_error(ak.TopicAuthorizationFailedError(), "p", CFG, doing="read 'audit'")
    assert str(refused).startswith("cluster 'p' refused to read 'audit': not authorized")


def test_a_connection_object_names_its_cluster() -> None:
    class Conn:
        name = "dr"
        config = CFG

    mapped = kafka_error(ak.KafkaConnectionError("down"), Conn())
    assert isinstance(mapped, ClusterUnreachable) and "cluster 'dr' unreachable" in str(mapped)


@pytest.mark.parametrize("err", [
    ValueError("a bug"), KeyError("x"), ClusterUnreachable("already core's"),
    asyncio.CancelledError(), KeyboardInterrupt(),
])
def test_anything_else_passes_through_untouched(err) -> None:
    assert kafka_error(err, "dr", CFG) is None and not is_kafka_error(err)
    with pytest.raises(type(err)) as got, map_kafka_errors("dr", CFG):
        raise err
    assert got.value is err


def test_nothing_raised_nothing_mapped() -> None:
    with map_kafka_errors("dr", CFG):
        pass


def test_a_name_needs_its_config() -> None:
    with pytest.raises(TypeError, match="needs its ClusterConfig"):
        kafka_error(OSError("x"), "dr")
