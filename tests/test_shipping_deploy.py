"""The container image and the Kubernetes example agree with the bot they run: the
Dockerfile (slim Python, non-root, health check, SIGTERM, the wheel) and deploy/ (two
replicas, probes on the paths and port the bot serves, the Dockerfile's command, a Secret
holding exactly the ${VARS} its config names, a config kafkaops accepts).

Docker cannot build here (no engine, no registry): what the image runs is tested from the
wheel in tests/test_shipping.py; this file checks the files themselves."""

from __future__ import annotations

import inspect
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from kafkaops.core.config import parse_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


@dataclass
class Dockerfile:
    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    healthcheck_options: dict[str, str] = field(default_factory=dict)
    stopsignal: str = ""
    copies: list[list[str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> list[str]:
        """What the container runs: ENTRYPOINT then CMD (both exec form)."""
        return [*self.entrypoint, *self.cmd]


def dockerfile(path: Path = ROOT / "Dockerfile") -> Dockerfile:
    """The instructions this project's Dockerfile uses, read as Docker reads them
    (comments dropped, `\\` continuations joined, ARG defaults substituted in FROM)."""
    d = Dockerfile()
    text = re.sub(r"\\\n", " ", "\n".join(
        ln for ln in path.read_text().splitlines() if not ln.lstrip().startswith("#")))
    for raw in text.splitlines():
        if not raw.strip():
            continue
        word, _, rest = raw.strip().partition(" ")
        rest = rest.strip()
        match word.upper():
            case "ARG":
                name, _, default = rest.partition("=")
                d.args[name] = default
            case "FROM":
                d.base = re.sub(r"\$\{(\w+)\}", lambda m: d.args[m.group(1)], rest)
            case "ENV":
                d.env.update(dict(p.split("=", 1) for p in shlex.split(rest)))
            case "USER":
                d.user = rest
            case "ENTRYPOINT":
                d.entrypoint = json.loads(rest)
            case "CMD":
                d.cmd = json.loads(rest)
            case "HEALTHCHECK":
                opts, _, cmd = rest.partition(" CMD ")
                d.healthcheck_options = dict(o.lstrip("-").split("=", 1) for o in opts.split())
                d.healthcheck = json.loads(cmd)
            case "STOPSIGNAL":
                d.stopsignal = rest
            case "COPY":
                d.copies.append(rest.split())
            case "RUN":
                d.runs.append(rest)
    return d


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the one object of that kind in deploy/."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert doc["kind"] not in out, f"two {doc['kind']}s"
            out[doc["kind"]] = doc
    return out


def bot_container(objs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = objs["Deployment"]["spec"]["template"]["spec"]["containers"]
    return container


def bot_config_text(objs: dict[str, dict[str, Any]]) -> str:
    return str(objs["ConfigMap"]["data"]["config.yaml"])


def test_the_image_is_slim_python_in_the_supported_range_running_as_a_non_root_user() -> None:
    d = dockerfile()
    m = re.fullmatch(r"python:3\.(\d+)-slim", d.base)
    assert m and 11 <= int(m.group(1)) <= 13, d.base
    uid, _, gid = d.user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and gid.isdigit(), d.user  # numeric: checkable
    assert d.stopsignal == "SIGTERM"
    assert d.command == ["kafkaops", "bot"]


def test_the_image_installs_the_wheel_over_the_locked_hashed_requirements() -> None:
    d = dockerfile()
    (copy,) = d.copies
    assert copy[:-1] == ["dist/requirements-bot.txt", "dist/kafkaops-*-py3-none-any.whl"]
    install = " ".join(d.runs)
    assert "pip install --require-hashes --only-binary=:all: -r /tmp/dist/requirements-bot.txt" \
        in install
    assert "pip install --no-deps /tmp/dist/kafkaops-*-py3-none-any.whl" in install
    # ./dev build writes both files; .dockerignore sends nothing else to the builder
    dev = (ROOT / "dev").read_text()
    assert "--extra bot \\\n      --extra schema --output-file dist/requirements-bot.txt" in dev
    assert "--no-dev" in dev
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*"):] == ["*", "!dist/requirements-bot.txt",
                                            "!dist/kafkaops-*-py3-none-any.whl"]


def test_healthcheck_asks_the_health_port_the_config_serves() -> None:
    d = dockerfile()
    assert d.healthcheck[:2] == ["python", "-c"]
    assert "os.environ['KAFKAOPS_HEALTH_URL']" in d.healthcheck[2]
    url = urlsplit(d.env["KAFKAOPS_HEALTH_URL"])
    assert (url.hostname, url.path) == ("127.0.0.1", "/healthz")
    config = yaml.safe_load(bot_config_text(manifests()))
    assert url.port == config["slack"]["health_port"]
    assert set(d.healthcheck_options) == {"interval", "timeout", "start-period", "retries"}


def test_deploy_holds_the_objects_kustomize_applies() -> None:
    objs = manifests()
    kustomization = objs.pop("Kustomization")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")
    assert {k: o["apiVersion"] for k, o in objs.items()} == {
        "ConfigMap": "v1", "Secret": "v1", "Deployment": "apps/v1",
        "PodDisruptionBudget": "policy/v1"}


def test_the_deployment_runs_two_replicas_of_the_dockerfiles_command_as_its_user() -> None:
    objs = manifests()
    dep = objs["Deployment"]
    spec = dep["spec"]
    assert spec["replicas"] == 2
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    assert objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() \
        <= labels.items()
    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    container = bot_container(objs)
    d = dockerfile()
    assert container["command"] + container.get("args", []) == d.command
    pod_security = spec["template"]["spec"]["securityContext"]
    uid, _, gid = d.user.partition(":")
    assert pod_security["runAsNonRoot"] is True
    assert (pod_security["runAsUser"], pod_security["runAsGroup"]) == (int(uid), int(gid))
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]


def test_the_grace_period_outlasts_the_drain() -> None:
    from kafkaops.bot.app import Bot

    drain = inspect.signature(Bot.drain).parameters["within"].default
    grace = manifests()["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > drain


def test_probes_ask_the_bots_paths_on_its_health_port() -> None:
    from kafkaops.bot.transports import HEALTH_PATH

    objs = manifests()
    container = bot_container(objs)
    config = yaml.safe_load(bot_config_text(objs))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
    assert (live["path"], ready["path"]) == (HEALTH_PATH, "/readyz")
    assert ports[live["port"]] == ports[ready["port"]] == config["slack"]["health_port"]
    # served in Socket Mode only when health_port is set: the config must set it
    assert config["slack"]["mode"] == "socket"


def test_the_config_file_is_mounted_where_the_image_looks_and_kafkaops_accepts_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    objs = manifests()
    container = bot_container(objs)
    env = {e["name"]: e["value"] for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "config"]
    (volume,) = [v for v in objs["Deployment"]["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == "config"]
    assert volume["configMap"]["name"] == objs["ConfigMap"]["metadata"]["name"]
    assert mount["readOnly"] is True
    path = f"{mount['mountPath']}/config.yaml"
    assert env["KAFKAOPS_CONFIG"] == dockerfile().env["KAFKAOPS_CONFIG"] == path
    for key in objs["Secret"]["stringData"]:
        monkeypatch.setenv(key, "from-the-secret")
    config = parse_config(yaml.safe_load(bot_config_text(objs)), path)
    assert config.slack.bot_token.reveal() == "from-the-secret"
    assert config.audit.signing_key.reveal() == "from-the-secret"


def test_the_secret_holds_exactly_the_variables_the_config_names() -> None:
    objs = manifests()
    named = set(VAR.findall(bot_config_text(objs)))
    secret = objs["Secret"]
    assert set(secret["stringData"]) == named
    (ref,) = bot_container(objs)["envFrom"]
    assert ref["secretRef"]["name"] == secret["metadata"]["name"]
    # the same names config.example.yaml documents, so the docs and the example agree
    assert named <= set(VAR.findall((ROOT / "config.example.yaml").read_text()))
