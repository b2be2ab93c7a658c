"""The config model: the example loads, every kind of mistake names the file and key path,
secrets are interpolated from the environment and never printed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kafkaops.core.config import Duration, adhoc_config, load_config, parse_config, redacted
from kafkaops.core.errors import ConfigError

from .conftest import KAFKAOPS, cli_env

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_loads_with_every_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_PASSWORD", "pw-from-env")
    config = load_config(ROOT / "config.example.yaml")
    assert set(config.clusters) == {"primary", "dr"}
    primary = config.clusters["primary"]
    assert primary.bootstrap_list == ["kafka-1:9092", "kafka-2:9092"]
    assert primary.security_protocol == "SASL_SSL"
    assert primary.sasl is not None and primary.sasl.mechanism == "SCRAM-SHA-512"
    assert primary.sasl.password.reveal() == "pw-from-env"
    assert primary.tls is not None and primary.tls.ca_file == "/etc/kafka/ca.pem"
    assert config.dr.pairs[0].rpo == 60.0 and config.dr.pairs[0].groups == ["orders-*", "billing-*"]
    assert config.slack.mode == "socket" and config.slack.command == "/kafka"
    assert config.roles["oncall"].users == ["U0123ABCD"]
    assert config.permissions["failover"] == ["sre"]
    assert config.alerts.interval == 15.0
    assert config.alerts.rules[0].for_ == 120.0
    assert config.alerts.rules[1].watch == {"cluster": "primary", "topic": "cicd.pipeline-events"}
    assert config.dead_letters.topics == {"payments-errors": "payments"}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"clusters": {"p": {"bootstrap_server": "h:1"}}},
            "clusters.p.bootstrap_server: unknown key; did you mean 'bootstrap_servers'?",
        ),
        ({"clusters": {"p": {}}}, "clusters.p.bootstrap_servers: required key is missing"),
        (
            {"clusters": {"p": {"bootstrap_servers": "h:1", "read_only": "yes"}}},
            "clusters.p.read_only: expected true or false, got 'yes'",
        ),
        (
            {"clusters": {"p": {"bootstrap_servers": "h:1", "security_protocol": "TLS"}}},
            "clusters.p.security_protocol: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
            "SASL_SSL",
        ),
        (
            {"clusters": {"p": {"bootstrap_servers": "h:1"}}, "alerts": {"interval": "soon"}},
            "alerts.interval: expected a duration such as 15s, 2m or 1h, got 'soon'",
        ),
        (
            {"clusters": {"p": {"bootstrap_servers": "h:1"}}, "default_cluster": "q"},
            "default_cluster: no cluster named 'q'",
        ),
        (
            {
                "clusters": {"p": {"bootstrap_servers": "h:1"}},
                "dr": {"pairs": [{"name": "m", "primary": "p", "secondary": "x"}]},
            },
            "dr.pairs[0].secondary: no cluster named 'x'",
        ),
        (
            {"permissions": {"flag.write": ["oncall"]}},
            "permissions.flag.write: no role named 'oncall'",
        ),
        (
            {"alerts": {"rules": [{"name": "r", "channel": "C1"}]}},
            "alerts.rules[0] (r): give either",
        ),
        (
            {"slack": {"http": {"port": "eighty"}}},
            "slack.http.port: expected an integer, got 'eighty'",
        ),
        ({"clusters": ["p"]}, "clusters: expected a mapping, got a list"),
    ],
)
def test_mistakes_name_file_key_and_expectation(
    tmp_path: Path, data: object, expected: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "clusters: [unclosed"))


def test_missing_default_path_is_an_empty_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KAFKAOPS_CONFIG", raising=False)
    config = load_config()
    assert config.clusters == {}
    with pytest.raises(ConfigError, match="no clusters configured; .* -b HOST:PORT"):
        config.cluster()


def test_env_interpolation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKERS", "b1:9092,b2:9092")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    config = parse_config(
        {
            "clusters": {
                "p": {"bootstrap_servers": "${BROKERS}"},
                "q": {"bootstrap_servers": "${QQ:-q:1}"},
            },
            "slack": {"bot_token": "${NOT_SET_ANYWHERE}"},
        }
    )
    assert config.clusters["p"].bootstrap_list == ["b1:9092", "b2:9092"]
    assert config.clusters["q"].bootstrap_servers == "q:1"
    # an unset secret fails only when used, naming the variable
    assert not config.slack.bot_token.is_set
    with pytest.raises(ConfigError, match="slack.bot_token: environment variable NOT_SET_ANYWHERE"):
        config.slack.bot_token.reveal()
    # an unset variable in a non-secret value is an error at once
    with pytest.raises(ConfigError, match="clusters.p.bootstrap_servers: environment variable"):
        parse_config({"clusters": {"p": {"bootstrap_servers": "${NOT_SET_ANYWHERE}"}}})


def test_cluster_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKAOPS_CLUSTER", raising=False)
    config = parse_config(
        {"clusters": {"a": {"bootstrap_servers": "a:1"}, "b": {"bootstrap_servers": "b:1"}}}
    )
    assert config.cluster()[0] == "a"
    assert config.cluster("b")[0] == "b"
    monkeypatch.setenv("KAFKAOPS_CLUSTER", "b")
    assert config.cluster()[0] == "b"
    with pytest.raises(ConfigError, match=r"no cluster named 'zz' \(configured: a, b\)"):
        config.cluster("zz")
    adhoc = adhoc_config("h:9092", config)
    assert adhoc.cluster(None)[1].bootstrap_servers == "h:9092"
    with pytest.raises(ConfigError, match="expected HOST:PORT"):
        adhoc_config("just-a-host")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("1d", 86400), (30, 30), ("7", 7)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert Duration.parse(text) == seconds


def test_secrets_are_redacted_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_PW", "hunter2-very-secret")
    data = {
        "clusters": {
            "p": {
                "bootstrap_servers": "h:1",
                "security_protocol": "SASL_PLAINTEXT",
                "sasl": {"username": "u", "password": "${SECRET_PW}"},
            }
        },
        "audit": {"signing_key": "literal-key-in-file"},
        "slack": {"bot_token": "xoxb-literal"},
    }
    config = parse_config(data)
    assert "hunter2" not in repr(config) and "literal-key" not in repr(config)
    dumped = json.dumps(redacted(config))
    for secret in ("hunter2", "literal-key-in-file", "xoxb-literal"):
        assert secret not in dumped
    assert redacted(config)["clusters"]["p"]["sasl"]["password"] == "***"
    # and through the real command
    path = write(tmp_path, data)
    env = cli_env() | {"SECRET_PW": "hunter2-very-secret"}
    for extra in ([], ["--json"]):
        out = subprocess.run(
            [KAFKAOPS, "--config", str(path), "config", "show", *extra],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert "h:1" in out.stdout
        for secret in ("hunter2", "literal-key-in-file", "xoxb-literal"):
            assert secret not in out.stdout + out.stderr


def test_cli_reports_bad_config_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, {"clusters": {"p": {"bootstrap_servers": "h:1", "raed_only": True}}})
    out = subprocess.run(
        [KAFKAOPS, "--config", str(path), "topics"], capture_output=True, text=True, env=cli_env()
    )
    assert out.returncode == 2
    assert "clusters.p.raed_only: unknown key; did you mean 'read_only'?" in out.stderr
    assert "Traceback" not in out.stderr
    out = subprocess.run(
        [KAFKAOPS, "--config", str(tmp_path / "missing.yaml"), "topics"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert out.returncode == 2 and "missing.yaml: config file not found" in out.stderr
