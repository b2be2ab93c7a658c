"""The demo/test registry speaks the Confluent REST contract: checked with confluent-kafka's
own SchemaRegistryClient (a real client), not with our client alone. Restarts and two
registry processes agree through the `_schemas` topic, as real registries do."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaReference
from confluent_kafka.schema_registry.error import SchemaRegistryError

from .conftest import unique
from .schema_support import (
    ADDRESS,
    proto_classes,
    registry_client,
    registry_process,
    registry_url,  # noqa: F401 - a fixture
)

V1 = '{"type":"record","name":"Ev","fields":[{"name":"a","type":"string"}]}'
V2_OK = ('{"type":"record","name":"Ev","fields":[{"name":"a","type":"string"},'
         '{"name":"b","type":"int","default":1}]}')
V2_BAD = ('{"type":"record","name":"Ev","fields":[{"name":"a","type":"string"},'
          '{"name":"b","type":"int"}]}')


def code(e: pytest.ExceptionInfo[SchemaRegistryError]) -> tuple[int, int]:
    return e.value.http_status_code, e.value.error_code


def test_register_lookup_and_ids(registry_url):  # noqa: F811
    s1, s2 = unique("a") + "-value", unique("b") + "-value"
    with registry_client(registry_url) as sr:
        id1 = sr.register_schema(s1, Schema(V1, "AVRO"))
        # whitespace does not make another schema; another subject reuses the id
        assert sr.register_schema(s1, Schema(V1.replace(",", ", "), "AVRO")) == id1
        assert sr.register_schema(s2, Schema(V1, "AVRO")) == id1
        assert sr.get_versions(s2) == [1]
        found = sr.lookup_schema(s1, Schema(V1, "AVRO"))
        assert (found.schema_id, found.version, found.subject) == (id1, 1, s1)
        assert sr.get_schema(id1).schema_str == V1
        assert sorted(sr.get_subjects_by_schema_id(id1)) == sorted([s1, s2])
        with pytest.raises(SchemaRegistryError) as e:
            sr.lookup_schema(s1, Schema(V2_OK, "AVRO"))
        assert code(e) == (404, 40403)
        with pytest.raises(SchemaRegistryError) as e:
            sr.get_latest_version(unique("none"))
        assert code(e) == (404, 40401)
        with pytest.raises(SchemaRegistryError) as e:
            sr.get_version(s1, 9)
        assert code(e) == (404, 40402)
        with pytest.raises(SchemaRegistryError) as e:
            sr.get_schema(98_765_432)
        assert code(e) == (404, 40403)
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(s1, Schema('{"type": "recrd"}', "AVRO"))
        assert code(e) == (422, 42201)


def test_compatibility_levels(registry_url):  # noqa: F811
    subject = unique("c") + "-value"
    with registry_client(registry_url) as sr:
        sr.register_schema(subject, Schema(V1, "AVRO"))
        assert sr.test_compatibility(subject, Schema(V2_OK, "AVRO")) is True
        assert sr.test_compatibility(subject, Schema(V2_BAD, "AVRO")) is False
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(subject, Schema(V2_BAD, "AVRO"))
        assert code(e) == (409, 409)
        # FORWARD: the old schema must read the new one's data: a new field without a
        # default is fine, dropping a field without a default is not
        sr.set_compatibility(subject, "FORWARD")
        assert sr.test_compatibility(subject, Schema(V2_BAD, "AVRO")) is True
        dropped = '{"type":"record","name":"Ev","fields":[{"name":"z","type":"int","default":0}]}'
        assert sr.test_compatibility(subject, Schema(dropped, "AVRO")) is False
        sr.set_compatibility(subject, "FULL")
        assert sr.test_compatibility(subject, Schema(V2_BAD, "AVRO")) is False
        assert sr.test_compatibility(subject, Schema(V2_OK, "AVRO")) is True
        sr.set_compatibility(subject, "NONE")
        assert sr.register_schema(subject, Schema(dropped, "AVRO")) > 0
        assert sr.get_versions(subject) == [1, 2]
        with pytest.raises(SchemaRegistryError) as e:
            sr.set_compatibility(subject, "SIDEWAYS")
        assert code(e) == (422, 42203)
        # JSON Schema: a property the new one requires that the old one may leave out
        j = unique("j") + "-value"
        sr.register_schema(j, Schema('{"type":"object","properties":{"a":{"type":"string"}}}',
                                     "JSON"))
        assert sr.test_compatibility(j, Schema(
            '{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},'
            '"required":["b"]}', "JSON")) is False
        assert sr.test_compatibility(j, Schema(
            '{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}}}',
            "JSON")) is True


def test_protobuf_text_and_serialized(registry_url):  # noqa: F811
    shipment, _ = proto_classes()
    subject = unique("p") + "-value"
    serialized = base64.b64encode(shipment.DESCRIPTOR.file.serialized_pb).decode()
    with registry_client(registry_url) as sr:
        sid = sr.register_schema(subject, Schema(serialized, "PROTOBUF"))
        text = sr.get_schema(sid).schema_str
        assert "message Shipment {" in text and "repeated Parcel parcels = 3;" in text
        with registry_client(registry_url) as fresh:  # the client caches by id, not format
            assert fresh.get_schema(sid, fmt="serialized").schema_str == serialized
        # a field that changes type is incompatible
        changed = shipment.DESCRIPTOR.file
        from google.protobuf import descriptor_pb2

        fdp = descriptor_pb2.FileDescriptorProto.FromString(changed.serialized_pb)
        fdp.message_type[0].field[1].type = 5  # carrier: string -> int32
        bad = base64.b64encode(fdp.SerializeToString()).decode()
        assert sr.test_compatibility(subject, Schema(bad, "PROTOBUF")) is False
        with pytest.raises(SchemaRegistryError) as e:
            sr.register_schema(unique("t"), Schema("syntax = 'proto3';", "PROTOBUF"))
        assert code(e) == (422, 42201)


def test_soft_and_permanent_delete_and_references(registry_url):  # noqa: F811
    addr, user = unique("addr"), unique("user") + "-value"
    with_ref = ('{"type":"record","name":"U","fields":[{"name":"a",'
                '"type":"com.acme.Address"}]}')
    with registry_client(registry_url) as sr:
        sr.register_schema(addr, Schema(ADDRESS, "AVRO"))
        uid = sr.register_schema(user, Schema(with_ref, "AVRO",
                                              [SchemaReference("com.acme.Address", addr, 1)]))
        assert sr.get_latest_version(user).schema.references[0].subject == addr
        with pytest.raises(SchemaRegistryError) as e:
            sr.delete_subject(addr)  # still referenced
        assert code(e) == (422, 42206)
        with pytest.raises(SchemaRegistryError) as e:
            sr.delete_subject(user, permanent=True)  # not soft-deleted first
        assert code(e) == (404, 40405)
        assert sr.delete_subject(user) == [1]
        assert user not in sr.get_subjects()
        assert user in sr.get_subjects(deleted=True)
        assert sr.get_schema(uid).schema_str  # the id still decodes old records
        with pytest.raises(SchemaRegistryError) as e:
            sr.delete_subject(user)
        assert code(e) == (404, 40404)
        assert sr.delete_subject(user, permanent=True) == [1]
        assert user not in sr.get_subjects(deleted=True)
        assert sr.delete_subject(addr) == [1]  # nothing refers to it any more


async def test_associations_and_modes(registry_url):  # noqa: F811
    async with httpx.AsyncClient(base_url=registry_url) as http:
        # confluent-kafka 2.16 asks this first and needs a 404 to use the topic's subject
        r = await http.get("/associations/resources/-/orders",
                           params={"resourceType": "topic", "associationType": "value"})
        assert r.status_code == 404 and r.json()["error_code"] == 404
        subject = unique("m") + "-value"
        assert (await http.put(f"/mode/{subject}", json={"mode": "READONLY"})).status_code == 200
        r = await http.post(f"/subjects/{subject}/versions", json={"schema": V1})
        assert (r.status_code, r.json()["error_code"]) == (422, 42205)
        r = await http.put("/mode", json={"mode": "SIDEWAYS"})
        assert r.json()["error_code"] == 42204
        assert (await http.get("/mode")).json() == {"mode": "READWRITE"}


async def test_a_restart_and_two_processes_agree(bootstrap):
    topic = unique("_schemas")
    subject = unique("r") + "-value"
    async with registry_process(bootstrap, topic=topic) as url:
        with registry_client(url) as sr:
            id1 = sr.register_schema(subject, Schema(V1, "AVRO"))
            sr.set_compatibility(subject, "FULL")
    async with registry_process(bootstrap, topic=topic) as a, \
            registry_process(bootstrap, topic=topic) as b:
        with registry_client(a) as ra, registry_client(b) as rb:
            # the restarted registry read its schemas back from the topic
            assert ra.get_schema(id1).schema_str == V1
            assert ra.get_compatibility(subject) == "FULL"
            # written on a, read on b
            id2 = ra.register_schema(subject, Schema(V2_OK, "AVRO"))
            assert rb.get_latest_version(subject).schema_id == id2
            # both write at once: each gets its own version, and both registries agree
            s2 = unique("both") + "-value"
            one = ('{"type":"record","name":"X","fields":[{"name":"a","type":"int",'
                   '"default":0}]}')
            two = ('{"type":"record","name":"X","fields":[{"name":"b","type":"int",'
                   '"default":0}]}')
            rb.set_compatibility(s2, "NONE")
            ids = await asyncio.gather(
                asyncio.to_thread(ra.register_schema, s2, Schema(one, "AVRO")),
                asyncio.to_thread(rb.register_schema, s2, Schema(two, "AVRO")))
            assert ids[0] != ids[1]
            va = [ra.get_version(s2, v).schema_id for v in ra.get_versions(s2)]
            vb = [rb.get_version(s2, v).schema_id for v in rb.get_versions(s2)]
            assert va == vb and sorted(va) == sorted(ids)


def test_the_log_order_decides_between_concurrent_writers():
    from kafkaops.demo.registry_store import RegistryState, schema_key

    def record(version: int, sid: int, text: str) -> dict:
        return {"subject": "s", "version": version, "id": sid, "schema": text}

    state = RegistryState()
    state.apply(schema_key("s", 1), record(1, 3, '"int"'))
    state.apply(schema_key("s", 1), record(1, 3, '"long"'))  # lost: version and id taken
    state.apply(schema_key("s", 2), record(2, 3, '"long"'))  # lost: id 3 is another schema
    state.apply(schema_key("s", 2), record(2, 4, '"long"'))  # the retry
    state.apply(schema_key("s", 1), None)  # permanent delete of version 1
    state.apply({"keytype": "SCHEMA"}, {"junk": True})  # malformed: skipped
    assert state.versions("s") == [2]
    assert {i: s.text for i, s in state.schemas.items()} == {3: '"int"', 4: '"long"'}
