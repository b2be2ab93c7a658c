"""The extras table the CLI checks (kafkaops.cli.common.EXTRAS: which modules a face needs,
by extra) says the same as pyproject's optional-dependencies, so a command's "needs the X
extra" names the extra that brings what is missing; [all] holds every extra."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from kafkaops.cli.common import EXTRAS

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(extra: str) -> set[str]:
    """The distributions `extra` installs (other extras of kafkaops it names included)."""
    out: set[str] = set()
    for req in PROJECT["optional-dependencies"][extra]:
        m = re.match(r"([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?", req)
        assert m, req
        if _norm(m.group(1)) == "kafkaops":
            for inner in (m.group(2) or "").split(","):
                out |= distributions(inner.strip())
        else:
            out.add(_norm(m.group(1)))
    return out


def test_each_extras_modules_come_from_that_extra_and_cover_it() -> None:
    by_module = packages_distributions()
    assert set(EXTRAS) == set(PROJECT["optional-dependencies"]) - {"all"}
    for extra, modules in EXTRAS.items():
        dists = distributions(extra)
        covered: set[str] = set()
        for module in modules:
            found = {_norm(d) for d in by_module.get(module.split(".")[0], [])}
            assert found & dists, f"{module} is not installed by [{extra}] ({sorted(dists)})"
            covered |= found & dists
        assert covered == dists, f"[{extra}] installs {sorted(dists - covered)} unchecked"


def test_all_is_every_extra_and_none_is_in_the_plain_install() -> None:
    everything = set().union(*(distributions(e) for e in EXTRAS))
    assert distributions("all") == everything
    plain = {_norm(re.match(r"[A-Za-z0-9._-]+", r).group(0))  # type: ignore[union-attr]
             for r in PROJECT["dependencies"]}
    assert not plain & everything, sorted(plain & everything)
