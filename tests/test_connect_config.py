"""`clusters.<name>.connect`: read as documented, `${VAR}` for the password, redacted when
shown, and every bad value an error naming the file and the key (nothing runs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import load_config, parse_config
from kafkaops.core.connect.settings import pick
from kafkaops.core.errors import ConfigError

from .conftest import KAFKAOPS, cli_env

ROOT = Path(__file__).resolve().parent.parent


def config_with(connect: object) -> dict:
    return {"clusters": {"primary": {"bootstrap_servers": "k:9092", "connect": connect}}}


def test_example_config_documents_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_PASSWORD", "pw-from-env")
    monkeypatch.setenv("KAFKA_PASSWORD", "x")
    (entry,) = load_config(ROOT / "config.example.yaml").clusters["primary"].connect
    assert (entry.name, entry.url) == ("ingest", "https://connect-1:8083")
    assert entry.basic_auth is not None and entry.basic_auth.username == "ops"
    assert entry.basic_auth.password.reveal() == "pw-from-env"
    assert entry.tls is not None and entry.tls.ca_file == "/etc/kafka/connect-ca.pem"


def test_several_connect_clusters_and_picking_one() -> None:
    cfg = parse_config(config_with([{"name": "ingest", "url": "http://c1:8083"},
                                    {"name": "sinks", "url": "http://c2:8083/"}]), "c.yaml")
    assert pick(cfg, "primary", None).name == "ingest"  # the first when none is named
    assert pick(cfg, "primary", "sinks").url == "http://c2:8083/"
    with pytest.raises(ConfigError, match=r"no Connect cluster named 'nope' \(configured: "
                                          r"ingest, sinks\)"):
        pick(cfg, "primary", "nope")
    bare = parse_config({"clusters": {"dr": {"bootstrap_servers": "k:1"}}}, "c.yaml")
    with pytest.raises(ConfigError, match=r"cluster 'dr' has no Kafka Connect configured; add "
                                          r"clusters.dr.connect"):
        pick(bare, "dr", None)


@pytest.mark.parametrize(("connect", "message"), [
    ("http://c:8083", "clusters.primary.connect: expected a list, got 'http://c:8083'"),
    ([{"url": "http://c:8083"}], "clusters.primary.connect[0].name: required key is missing"),
    ([{"name": "x"}], "clusters.primary.connect[0].url: required key is missing"),
    ([{"name": "x", "url": "http://c", "uri": "y"}],
     "clusters.primary.connect[0].uri: unknown key; did you mean 'url'?"),
    ([{"name": "x", "url": "c:8083"}], "connect[0].url: 'c:8083': expected an http:// or "
                                       "https:// URL"),
    ([{"name": "x", "url": "ftp://c"}], "expected an http:// or https:// URL"),
    ([{"name": "x", "url": "http://"}], "connect[0].url: 'http://': the URL names no host"),
    ([{"name": "x", "url": "http://ops:hunter2@c:8083"}],
     "put credentials under basic_auth (with ${ENV_VAR}), not in the URL"),
    ([{"name": "x", "url": "http://c:99999"}], "connect[0].url: 'http://c:99999': not a URL"),
    ([{"name": "x", "url": "http://c/?a=1"}], "must not carry a query or fragment"),
    ([{"name": "bad name", "url": "http://c"}], "connect[0].name: 'bad name': use letters"),
    ([{"name": "a", "url": "http://c"}, {"name": "a", "url": "http://d"}],
     "connect[1].name: 'a' is used twice"),
    ([{"name": "x", "url": "http://c", "tls": {"ca_file": "/ca.pem"}}],
     "connect[0].tls: applies to https:// URLs"),
    ([{"name": "x", "url": "https://c", "tls": {"ca_file": "/a", "cert_file": "/b"}}],
     "connect[0].tls.cert_file: unknown key"),
    ([{"name": "x", "url": "http://c", "basic_auth": {"password": "p"}}],
     "connect[0].basic_auth.username: required key is missing"),
    ([{"name": "x", "url": "http://c", "basic_auth": {"username": ""}}],
     "connect[0].basic_auth.username: give the user name"),
    ([{"name": "x", "url": "http://c", "basic_auth": "ops:pw"}],
     "connect[0].basic_auth: expected a mapping, got 'ops:pw'"),
    ([{"name": "x", "url": "http://c", "basic_auth": {"username": "u", "password": 5}}],
     "connect[0].basic_auth.password: expected a string"),
])
def test_bad_connect_config_names_the_key(connect: object, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(config_with(connect), "c.yaml")
    assert str(e.value).startswith("c.yaml: "), str(e.value)
    assert message in str(e.value)


def test_password_comes_from_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_with([{
        "name": "ingest", "url": "https://c:8083",
        "basic_auth": {"username": "ops", "password": "${CONNECT_PW}"}}])))
    env = cli_env() | {"CONNECT_PW": "s3cret-from-env"}
    shown = subprocess.run([KAFKAOPS, "--config", str(path), "config", "show", "--json"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "s3cret-from-env" not in shown.stdout
    data = json.loads(shown.stdout)
    auth = data["config"]["clusters"]["primary"]["connect"][0]["basic_auth"]
    assert auth == {"username": "ops", "password": "***"}
    # unset: the config still loads (other commands work); using the secret says which var
    cfg = parse_config(yaml.safe_load(path.read_text()), str(path))
    (entry,) = cfg.clusters["primary"].connect
    assert entry.basic_auth is not None
    with pytest.raises(ConfigError, match="environment variable CONNECT_PW is not set"):
        entry.basic_auth.password.reveal()
