"""clusters.<name>.schema_registry in config: what is accepted, and every bad value an error
naming the key (nothing runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaops.core.config import load_config, parse_config
from kafkaops.core.errors import ConfigError
from kafkaops.core.services import Services

ROOT = Path(__file__).resolve().parent.parent


def cfg(registry: object, **more: object) -> dict:
    return {"clusters": {"primary": {"bootstrap_servers": "k:9092",
                                     "schema_registry": registry},
                         "dr": {"bootstrap_servers": "d:9092", **more}}}


def test_the_example_config_names_a_shared_registry() -> None:
    c = load_config(ROOT / "config.example.yaml")
    primary = c.clusters["primary"].schema_registry
    assert primary is not None and primary.url == "https://schemas.example.com:8081"
    assert primary.basic_auth is not None and primary.basic_auth.username == "kafkaops"
    assert primary.tls is not None and primary.tls.ca_file == "/etc/kafka/ca.pem"
    assert c.clusters["dr"].schema_registry.url == primary.url


async def test_clusters_naming_one_registry_share_its_client() -> None:
    reg = {"url": "http://schemas:8081"}
    c = parse_config(cfg(reg, schema_registry=reg), "<t>")
    async with Services(c) as s:
        assert s.schema_registry("primary") is s.schema_registry("dr")
        assert s.schema_decoder("primary") is s.schema_decoder("dr")
    plain = parse_config(cfg({"url": "http://schemas:8081"}), "<t>")
    async with Services(plain) as s:
        assert s.schema_registry("dr") is None and s.schema_decoder("dr") is None


@pytest.mark.parametrize(("registry", "message"), [
    ({"url": "ftp://schemas:8081"}, "clusters.primary.schema_registry.url: expected an "
     "http:// or https:// URL such as http://schemas:8081, got 'ftp://schemas:8081'"),
    ({"url": "schemas:8081"}, "clusters.primary.schema_registry.url: expected an http://"),
    ({"url": "http://schemas:80x1"}, "clusters.primary.schema_registry.url: not a URL"),
    ({"url": "http://ops:pw@schemas:8081"}, "clusters.primary.schema_registry.url: put "
     "credentials under basic_auth"),
    ({"url": "http://schemas:8081", "tls": {"ca_file": "/ca.pem"}},
     "clusters.primary.schema_registry.tls: the url is not https://"),
    ({"url": "https://schemas:8081", "tls": {"cert_file": "/c.pem"}},
     "clusters.primary.schema_registry.tls: give both cert_file and key_file"),
    ({"url": "http://schemas:8081", "timeout": "0s"},
     "clusters.primary.schema_registry.timeout: give a duration above 0"),
    ({"url": "http://schemas:8081", "timout": "5s"},
     "clusters.primary.schema_registry.timout: unknown key; did you mean 'timeout'?"),
    ({"basic_auth": {"username": "x"}}, "clusters.primary.schema_registry.url: required key "
     "is missing"),
    ({"url": "http://schemas:8081", "basic_auth": {"password": "x"}},
     "clusters.primary.schema_registry.basic_auth.username: required key is missing"),
    ("http://schemas:8081", "clusters.primary.schema_registry: expected a mapping"),
])
def test_bad_values_name_the_key(registry: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(cfg(registry), "<t>")
    assert message in str(e.value)


async def test_a_ca_file_that_cannot_be_read_names_the_key(tmp_path: Path) -> None:
    c = parse_config(cfg({"url": "https://schemas:8081",
                          "tls": {"ca_file": str(tmp_path / "missing.pem")}}), "<t>")
    async with Services(c) as s:
        client = s.schema_registry()
        assert client is not None
        with pytest.raises(ConfigError) as e:
            await client.subjects()
    assert "clusters.primary.schema_registry.tls: cannot load TLS files" in str(e.value)
