"""MirrorMaker 2's record layouts, replication policies and offset translation: pure tables.

The byte strings are the worked examples of docs/mm2-formats.md (cross-checked against a
Java program); the translation numbers are MM2's own (OffsetSyncStoreTest).
"""

from __future__ import annotations

import random
import struct

import pytest

from kafkaops.core.dr.mm2_formats import (
    Checkpoint,
    Heartbeat,
    Mm2FormatError,
    OffsetSync,
    decode_checkpoint,
    decode_heartbeat,
    decode_offset_sync,
    encode_checkpoint,
    encode_heartbeat,
    encode_offset_sync,
)
from kafkaops.core.dr.mm2_offsets import (
    SYNCS_PER_PARTITION,
    OffsetSyncStore,
    OffsetSyncWriter,
    checkpoint_is_newer,
    group_matches,
    remote_consumer_offsets,
    translate_upstream,
)
from kafkaops.core.dr.mm2_policy import (
    DefaultReplicationPolicy,
    IdentityReplicationPolicy,
    replication_policy,
)
from kafkaops.core.errors import ConfigError
from kafkaops.core.records import TopicPartition

# ---------------------------------------------------------------- byte layouts

HEARTBEATS = [
    # (source, target, timestamp, key hex, value hex)
    ("us-east", "us-west", 1700000000000,
     "000775732d65617374000775732d77657374", "00000000018bcfe56800"),
    ("source-1", "target-2", 1234567890,
     "0008736f757263652d3100087461726765742d32", "000000000000499602d2"),
]

CHECKPOINTS = [
    # (group, topic, partition, upstream, downstream, metadata, key hex, value hex)
    ("orders-app", "us-east.orders", 0, 1500, 1201, "",
     "000a6f72646572732d617070000e75732d656173742e6f726465727300000000",
     "000000000000000005dc00000000000004b10000"),
    ("group-1", "topic-2", 3, 4, 5, "metadata-6",
     "000767726f75702d310007746f7069632d3200000003",
     "000000000000000000040000000000000005000a6d657461646174612d36"),
]

OFFSET_SYNCS = [
    # (topic, partition, upstream, downstream, key hex, value hex)
    ("orders", 0, 1499, 1200, "00066f726465727300000000", "00000000000005db00000000000004b0"),
    ("topic-1", 2, 3, 4, "0007746f7069632d3100000002", "00000000000000030000000000000004"),
]


@pytest.mark.parametrize(("source", "target", "ts", "key", "value"), HEARTBEATS)
def test_heartbeat_bytes(source: str, target: str, ts: int, key: str, value: str) -> None:
    hb = Heartbeat(source, target, ts)
    k, v = encode_heartbeat(hb)
    assert (k.hex(), v.hex()) == (key, value)
    assert len(v) == 10
    assert decode_heartbeat(bytes.fromhex(key), bytes.fromhex(value)) == hb


@pytest.mark.parametrize(
    ("group", "topic", "partition", "up", "down", "meta", "key", "value"), CHECKPOINTS
)
def test_checkpoint_bytes(
    group: str, topic: str, partition: int, up: int, down: int, meta: str, key: str, value: str
) -> None:
    cp = Checkpoint(group, topic, partition, up, down, meta)
    k, v = encode_checkpoint(cp)
    assert (k.hex(), v.hex()) == (key, value)
    assert len(v) == 2 + 8 + 8 + 2 + len(meta.encode())
    assert decode_checkpoint(bytes.fromhex(key), bytes.fromhex(value)) == cp


@pytest.mark.parametrize(("topic", "partition", "up", "down", "key", "value"), OFFSET_SYNCS)
def test_offset_sync_bytes(
    topic: str, partition: int, up: int, down: int, key: str, value: str
) -> None:
    k, v = encode_offset_sync(OffsetSync(topic, partition, up, down))
    assert (k.hex(), v.hex()) == (key, value)
    assert len(v) == 16  # no version header
    got = decode_offset_sync(bytes.fromhex(key), bytes.fromhex(value))
    assert got.same(OffsetSync(topic, partition, up, down))


def test_decoding_is_as_lenient_as_java() -> None:
    key = bytes.fromhex(HEARTBEATS[0][3])
    # any version is read with the V0 layout; trailing bytes are ignored
    value = struct.pack(">hq", 7, 42) + b"trailing"
    assert decode_heartbeat(key, value) == Heartbeat("us-east", "us-west", 42)
    # malformed UTF-8 becomes U+FFFD, as new String(bytes, UTF_8) does
    bad = struct.pack(">h", 2) + b"\xff\xfe" + struct.pack(">h", 1) + b"b"
    assert decode_heartbeat(bad, struct.pack(">hq", 0, 1)).source == "\ufffd\ufffd"
    # a non-ASCII group survives the round trip, length counted in bytes
    cp = Checkpoint("gröup-✓", "t", 0, 1, 1, "métadata")
    assert decode_checkpoint(*encode_checkpoint(cp)) == cp


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (None, b"\x00" * 10, "null"),
        (bytes.fromhex(HEARTBEATS[0][3]), None, "tombstone"),
        (bytes.fromhex(HEARTBEATS[0][3]), b"\x00\x00\x00", "timestamp"),
        (b"\x00\x05ab", b"\x00" * 10, "sourceClusterAlias"),
        (b"\xff\xff", b"\x00" * 10, "negative length"),
    ],
)
def test_malformed_heartbeats_raise(key: bytes | None, value: bytes | None, message: str) -> None:
    with pytest.raises(Mm2FormatError, match=message):
        decode_heartbeat(key, value)


def test_malformed_checkpoint_and_sync_raise() -> None:
    with pytest.raises(Mm2FormatError, match="partition"):
        decode_checkpoint(b"\x00\x01g\x00\x01t\x00", b"\x00" * 20)
    with pytest.raises(Mm2FormatError, match="offset"):
        decode_offset_sync(bytes.fromhex(OFFSET_SYNCS[0][4]), b"\x00" * 12)


def test_strings_longer_than_java_allows_are_refused() -> None:
    with pytest.raises(Mm2FormatError, match="32767"):
        encode_heartbeat(Heartbeat("a" * 40000, "b", 0))


# ---------------------------------------------------------------- replication policies


@pytest.mark.parametrize(
    ("topic", "source"),
    [
        ("us-west.topic1", "us-west"),
        ("topic1", None),
        ("a.", None),
        ("..", None),
        (".hidden", ""),
        ("a..b", "a"),
        ("B.A.heartbeats", "B"),
        ("", None),
    ],
)
def test_default_topic_source(topic: str, source: str | None) -> None:
    assert DefaultReplicationPolicy().topic_source(topic) == source


def test_default_policy_names() -> None:
    p = DefaultReplicationPolicy()
    assert p.format_remote_topic("us-east", "orders") == "us-east.orders"
    assert p.format_remote_topic("us-west", "us-east.orders") == "us-west.us-east.orders"
    assert p.upstream_topic("a..b") == ".b"
    assert p.upstream_topic("topic1") is None
    assert p.original_topic("us-west.us-east.orders") == "orders"
    assert p.original_topic("orders") == "orders"
    assert p.heartbeats_topic() == "heartbeats"
    assert p.checkpoints_topic("us-east") == "us-east.checkpoints.internal"
    assert p.offset_syncs_topic("us-west") == "mm2-offset-syncs.us-west.internal"
    assert p.is_heartbeats_topic("B.A.heartbeats")
    assert not p.is_heartbeats_topic("heartbeats-x")
    assert p.is_checkpoints_topic("us-east.checkpoints.internal")
    for internal in ("__consumer_offsets", ".x", "connect-offsets-internal", "x.internal"):
        assert p.is_internal_topic(internal)
    assert not p.is_internal_topic("orders")
    assert p.is_cycle("us-west.orders", "us-west")
    assert p.is_cycle("us-east.us-west.orders", "us-west")
    assert not p.is_cycle("us-east.orders", "us-west")


def test_custom_separator_and_internal_switch() -> None:
    p = DefaultReplicationPolicy("__")
    assert p.format_remote_topic("us-east", "orders") == "us-east__orders"
    assert p.topic_source("__consumer_offsets") == ""
    assert p.topic_source("us-east__orders") == "us-east"
    assert p.upstream_topic("us-east__orders") == "orders"
    assert p.checkpoints_topic("us-east") == "us-east__checkpoints__internal"
    assert p.offset_syncs_topic("us-west") == "mm2-offset-syncs__us-west__internal"
    assert p.heartbeats_topic() == "heartbeats"  # never affected by the separator
    assert p.is_checkpoints_topic("us-east__checkpoints__internal")
    q = DefaultReplicationPolicy("__", internal_topic_separator=False)
    assert q.checkpoints_topic("us-east") == "us-east.checkpoints.internal"
    assert q.offset_syncs_topic("us-west") == "mm2-offset-syncs.us-west.internal"
    assert q.format_remote_topic("us-east", "orders") == "us-east__orders"


def test_identity_policy() -> None:
    p = IdentityReplicationPolicy(source_alias="us-east")
    assert p.format_remote_topic("us-east", "orders") == "orders"
    assert p.format_remote_topic("us-east", "heartbeats") == "us-east.heartbeats"
    assert p.format_remote_topic("us-east", "myheartbeats") == "us-east.myheartbeats"
    assert p.topic_source("orders") == "us-east"
    assert p.topic_source("us-east.heartbeats") == "us-east"
    assert p.upstream_topic("orders") == "orders"
    assert p.original_topic("orders") == "orders"
    assert p.checkpoints_topic("us-east") == "us-east.checkpoints.internal"
    assert p.offset_syncs_topic("us-west") == "mm2-offset-syncs.us-west.internal"
    assert IdentityReplicationPolicy().topic_source("orders") is None
    # checkpoints keep the source topic name under identity
    assert p.checkpoint_topic_name("us-east", "us-west", "orders") == "orders"


def test_checkpoint_topic_renaming() -> None:
    p = DefaultReplicationPolicy()
    assert p.checkpoint_topic_name("us-east", "us-west", "orders") == "us-east.orders"
    # a topic that came from the target goes back to its original name
    assert p.checkpoint_topic_name("us-east", "us-west", "us-west.topic1") == "topic1"


def test_policy_from_config_names() -> None:
    assert isinstance(replication_policy("identity"), IdentityReplicationPolicy)
    assert replication_policy("default", "_").format_remote_topic("a", "t") == "a_t"
    with pytest.raises(ConfigError, match="separator"):
        replication_policy("default", "")
    with pytest.raises(ConfigError, match="default or identity"):
        replication_policy("mirror")


# ---------------------------------------------------------------- translation

TP = TopicPartition("topic1", 2)


def started(*syncs: tuple[int, int]) -> OffsetSyncStore:
    store = OffsetSyncStore().load([])
    for up, down in syncs:
        store.add(OffsetSync(TP.topic, TP.partition, up, down))
    return store


@pytest.mark.parametrize(
    ("syncs", "group_offset", "translated"),
    [
        ([(100, 200)], 150, 201),  # past a sync: at most 1 past its downstream offset
        ([(100, 200)], 100, 200),  # exactly at a sync
        ([(100, 200), (150, 251)], 150, 251),
        ([(100, 200), (150, 251)], 5, -1),  # behind every sync: MM2 drops the checkpoint
        ([(100, 200), (150, 251), (200, 10)], 200, 10),  # downstream reset
        ([(100, 200), (150, 251), (200, 10), (20, 20)], 20, 20),  # upstream rewind
        ([(100, 200), (150, 251), (200, 10), (20, 20)], 150, 21),  # rewind cleared history
        ([(1499, 1200)], 1500, 1201),  # docs/mm2-formats.md's worked example
        ([(1499, 1200)], 1499, 1200),
        ([(1499, 1200)], 1400, -1),
        ([], 10, None),  # no syncs for the partition: no translation
    ],
)
def test_translate_downstream(
    syncs: list[tuple[int, int]], group_offset: int, translated: int | None
) -> None:
    assert started(*syncs).translate_downstream(TP, group_offset) == translated


def test_no_translation_before_the_initial_read_finishes() -> None:
    store = OffsetSyncStore()
    store._handle(OffsetSync(TP.topic, TP.partition, 100, 200))
    assert store.translate_downstream(TP, 100) is None
    store.read_to_end = True
    assert [store.translate_downstream(TP, o) for o in (0, 100, 200)] == [-1, 200, 201]


def test_sparse_history_matches_mm2() -> None:
    """OffsetSyncStoreTest.testPastOffsetTranslation: syncs every 10 offsets; those read
    during start-up collapse to the last one; later ones are kept at exponential spacing."""
    store = OffsetSyncStore(clear_during_initial_read=True)
    store.load(OffsetSync(TP.topic, TP.partition, o, o) for o in range(0, 1001, 10))
    for o in range(1010, 10001, 10):
        store.add(OffsetSync(TP.topic, TP.partition, o, o))
        assert_sparse_invariants(store)

    def check(sync_offset: int, previous: int) -> None:
        t = store.translate_downstream
        assert t(TP, sync_offset - 1) == (-1 if previous == -1 else previous + 1)
        assert t(TP, sync_offset) == sync_offset
        assert t(TP, sync_offset + 1) == sync_offset + 1
        assert t(TP, sync_offset + 2) == sync_offset + 1

    check(1000, -1)
    for sync_offset, previous in [
        (4840, 1000), (6760, 4840), (8680, 6760), (9160, 8680), (9640, 9160),
        (9880, 9640), (9940, 9880), (9970, 9940), (9990, 9970), (10000, 9990),
    ]:
        check(sync_offset, previous)
    # an upstream rewind clears every older sync
    store.add(OffsetSync(TP.topic, TP.partition, 1500, 11000))
    assert store.translate_downstream(TP, 1499) == -1
    assert store.translate_downstream(TP, 1500) == 11000
    assert store.translate_downstream(TP, 2000) == 11001


def assert_sparse_invariants(store: OffsetSyncStore) -> None:
    slots = store.slots(TP)
    for j in range(SYNCS_PER_PARTITION):
        for i in range(j + 1):
            ju, iu = slots[j].upstream_offset, slots[i].upstream_offset
            if ju == iu:
                continue
            low = ju + (1 << max(i - 2, 0))
            assert low <= iu, f"invariant C({i},{j})"
            high = ju + (1 << j) - (1 << i)
            assert iu <= high, f"invariant B({i},{j})"


@pytest.mark.parametrize("step", [1, 3, 7, 100, 12345])
def test_store_keeps_latest_and_earliest_and_expires_slowly(step: int) -> None:
    store = started()
    last = 1
    for offset in range(0, step * 3000 + 1, step):
        store.add(OffsetSync(TP.topic, TP.partition, offset, offset))
        slots = store.slots(TP)
        assert slots[0].upstream_offset == offset  # invariant A
        assert slots[-1].upstream_offset == 0  # the earliest sync stays
        count = len(store.distinct(TP))
        assert count - last >= -1, "a new sync expired more than one other"
        last = count


def test_random_syncs_keep_invariants_and_never_overshoot() -> None:
    rng = random.Random(7)
    store, offset, down = started(), 0, 0
    truth: dict[int, int] = {}
    for _ in range(2000):
        offset += rng.randint(1, 50)
        down += rng.randint(1, 50)
        truth[offset] = down
        store.add(OffsetSync(TP.topic, TP.partition, offset, down))
    assert_sparse_invariants(store)
    # translation never goes past the true position of the group's next record
    ups = sorted(truth)
    for probe in rng.sample(range(ups[0], ups[-1]), 300):
        got = store.translate_downstream(TP, probe)
        assert got is not None and got >= 0
        exact = max(u for u in ups if u <= probe)
        assert got <= truth[exact] + (0 if probe == exact else 1)


def test_translate_upstream_for_failback() -> None:
    syncs = [OffsetSync("t", 0, 100, 10), OffsetSync("t", 0, 150, 30)]
    assert translate_upstream(syncs, 10) == 100
    assert translate_upstream(syncs, 20) == 101
    assert translate_upstream(syncs, 30) == 150
    assert translate_upstream(syncs, 99) == 151
    assert translate_upstream(syncs, 9) is None
    assert translate_upstream([], 9) is None


def test_remote_consumer_offsets_last_in_log_order_wins() -> None:
    cps = [
        Checkpoint("g", "a.t", 0, 10, 5),
        Checkpoint("other", "a.t", 0, 99, 99),
        Checkpoint("g", "a.t", 1, 3, 3),
        Checkpoint("g", "a.t", 0, 8, 4),  # a rewind written later wins, not the larger one
    ]
    got = remote_consumer_offsets(cps, "g")
    assert {tp: c.downstream_offset for tp, c in got.items()} == {
        TopicPartition("a.t", 0): 4,
        TopicPartition("a.t", 1): 3,
    }
    assert remote_consumer_offsets(cps, "nobody") == {}


# ---------------------------------------------------------------- writing like MM2


def test_offset_sync_writer_follows_offset_lag_max() -> None:
    w = OffsetSyncWriter(max_offset_lag=10)
    tp = TopicPartition("t", 0)
    sent: list[tuple[int, int]] = []
    for off in range(25):
        w.record_replicated(tp, off, off + 1000)
        sent += [(s.upstream_offset, s.downstream_offset) for s in w.take_pending()]
    # the first record, then each time translation would be >= 10 offsets stale
    assert sent == [(0, 1000), (11, 1011), (22, 1022)]
    w.commit()  # the periodic flush sends the latest delayed sync
    assert [(s.upstream_offset, s.downstream_offset) for s in w.take_pending()] == [(24, 1024)]
    w.commit()
    assert w.take_pending() == []


def test_offset_sync_writer_sends_on_gaps_and_truncation() -> None:
    w = OffsetSyncWriter(max_offset_lag=100)
    tp = TopicPartition("t", 0)
    w.record_replicated(tp, 0, 0)
    w.record_replicated(tp, 1, 1)
    w.record_replicated(tp, 5, 2)  # upstream skipped (compaction, transaction markers)
    w.record_replicated(tp, 6, 0)  # downstream went back (topic recreated)
    got = [(s.upstream_offset, s.downstream_offset) for s in w.take_pending()]
    assert got == [(6, 0)]  # pending keeps the latest per partition
    w.record_replicated(tp, 7, 1)
    assert w.take_pending() == []


@pytest.mark.parametrize(
    ("previous", "new", "emitted"),
    [
        (None, (10, 5), True),
        ((10, 5), (10, 5), False),  # a repeat
        ((10, 5), (12, 6), True),  # downstream went up
        ((10, 5), (12, 5), False),  # upstream moved, translation did not
        ((10, 5), (8, 5), True),  # the group rewound upstream
        ((10, 5), (11, 4), False),  # would rewind downstream
    ],
)
def test_checkpoint_emission_rule(
    previous: tuple[int, int] | None, new: tuple[int, int], emitted: bool
) -> None:
    prev = Checkpoint("g", "t", 0, *previous) if previous else None
    assert checkpoint_is_newer(prev, Checkpoint("g", "t", 0, *new)) is emitted


@pytest.mark.parametrize(
    ("group", "patterns", "matches"),
    [
        ("orders-app", ["orders-*", "billing-*"], True),
        ("billing-x", ["orders-*", "billing-*"], True),
        ("search", ["orders-*"], False),
        ("anything", [], True),
    ],
)
def test_group_patterns(group: str, patterns: list[str], matches: bool) -> None:
    assert group_matches(group, patterns) is matches
