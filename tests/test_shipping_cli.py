"""What an installed `kafkaops` offers around its commands: --version, and completion
scripts for bash, zsh and fish generated from the argparse tree, checked by the shells
themselves (bash always; zsh and fish where they are installed)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import KAFKAOPS, cli_env

ROOT = Path(__file__).resolve().parent.parent


def kafkaops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KAFKAOPS, *args], capture_output=True, text=True, env=cli_env(),
                          timeout=60)


def test_version_is_the_installed_distributions() -> None:
    done = kafkaops("--version")
    assert done.returncode == 0 and done.stderr == ""
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert done.stdout == f"kafkaops {expected}\n"
    assert version("kafkaops") == expected


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    done = kafkaops("completion", "bash")
    assert done.returncode == 0, done.stderr
    path = tmp_path_factory.mktemp("completion") / "kafkaops.bash"
    path.write_text(done.stdout)
    return path


def bash_complete(script: Path, line: str) -> list[str]:
    """What bash offers for Tab at the end of `line`, through the function the script
    registered with `complete` (found with `complete -p`, as bash itself would)."""
    program = f"""
source {script}
spec=$(complete -p kafkaops) || exit 3
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_LINE={_quote(line)}; COMP_POINT=${{#COMP_LINE}}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
"$fn" kafkaops "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True,
                          text=True, timeout=30, cwd=script.parent)
    assert done.returncode == 0, done.stderr
    return sorted(w for w in done.stdout.splitlines() if w)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.mark.parametrize(("line", "offered"), [
    ("kafkaops top", ["topic", "topics"]),
    ("kafkaops doc", ["doctor"]),
    ("kafkaops flags to", ["toggle"]),  # a subcommand's own subcommands
    ("kafkaops topics --j", ["--json"]),  # a subcommand's options
    ("kafkaops --config x.yaml -c primary l", ["lag"]),  # after global options with values
    ("kafkaops completion ", ["bash", "fish", "zsh"]),  # choices
    ("kafkaops --vers", ["--version"]),
])
def test_bash_completes_commands_options_and_choices(bash_script: Path, line: str,
                                                      offered: list[str]) -> None:
    assert bash_complete(bash_script, line) == offered


def test_bash_completes_file_names_for_config(bash_script: Path) -> None:
    (bash_script.parent / "prod.yaml").write_text("clusters: {}\n")
    assert bash_complete(bash_script, "kafkaops --config pro") == ["prod.yaml"]


def test_a_shell_we_do_not_generate_for_is_a_usage_error() -> None:
    done = kafkaops("completion", "powershell")
    assert done.returncode == 2 and done.stdout == ""
    assert "argument SHELL: invalid choice: 'powershell'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed here")
def test_fish_completes_a_subcommand_with_its_help(tmp_path: Path) -> None:
    script = tmp_path / "kafkaops.fish"
    script.write_text(kafkaops("completion", "fish").stdout)
    done = subprocess.run(["fish", "--no-config", "-c",
                           f"source {script}; complete -C 'kafkaops top'"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "topic\tone topic: partitions, leaders, ISR, offsets, configs; or create, delete, "
        "alter-config, add-partitions",
        "topics\tlist topics with partitions, configs and end offsets"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed here")
def test_zsh_script_loads_and_lists_the_commands(tmp_path: Path) -> None:
    fpath = tmp_path / "zfunc"
    fpath.mkdir()
    (fpath / "_kafkaops").write_text(kafkaops("completion", "zsh").stdout)
    # compinit finds _kafkaops by its #compdef line; _describe (zsh's, used inside a
    # completion widget) is replaced by a printer of what it would offer
    program = f"""
fpath=({fpath} $fpath); autoload -Uz compinit; compinit -u -D
[[ $_comps[kafkaops] == _kafkaops ]] || exit 3
autoload -Uz _kafkaops; source {fpath}/_kafkaops 2>/dev/null
_describe() {{ print -l ${{(P)2}} }}
_shtab_kafkaops_commands
"""
    done = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True,
                          timeout=30, env={**cli_env(), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    commands = {ln.split(":", 1)[0] for ln in done.stdout.splitlines()}
    assert {"topics", "doctor", "completion", "bot", "lag"} <= commands


def test_tests_run_the_command_of_the_venv_running_them() -> None:
    """`./dev test --python 3.13` runs the suite in .venv-3.13/: a test that starts
    .venv/bin/kafkaops would test another Python's install (use tests.conftest.KAFKAOPS)."""
    venv_bin = '".venv" / "bin"'  # as written in a test that pins .venv
    pinned = [p.name for p in sorted((ROOT / "tests").glob("*.py"))
              if p.name != Path(__file__).name and venv_bin in p.read_text()]
    assert pinned == []


@pytest.mark.parametrize(("args", "said"), [
    (["--python", "3.99"], "dev: no Python 3.99 installed here (looked on PATH and under "),
    (["--python", "latest"], "dev: --python takes a version such as 3.13 or an interpreter's path"),
    (["--python"], "dev: --python needs a version, e.g. --python 3.13"),
    (["--python", "/nonexistent/python3.13"],
     "dev: /nonexistent/python3.13 is not a Python interpreter that runs"),
])
def test_dev_test_python_refuses_what_is_not_installed_and_downloads_nothing(
        args: list[str], said: str) -> None:
    done = subprocess.run(["bash", str(ROOT / "dev"), "test", *args], capture_output=True,
                          text=True, timeout=60, env=cli_env())
    assert done.returncode == 2
    assert done.stderr.startswith(said), done.stderr
    assert not list(ROOT.glob(".venv-3.99"))
