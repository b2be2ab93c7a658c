"""Every reference to a document points at a file in the repository.

- A `.md` path named anywhere in the repository (`docs/broker-notes.md` in a docstring, a
  markdown link, `../Dockerfile` from docs/) must exist: relative to the file that names it
  when it starts with `./` or `../` or is a markdown link, else relative to the repository
  root (or the naming file's folder).
- Nothing points at the team's notes kept outside the repository (the design, broker,
  benchmark, MM2 and real-server notes, `../shared/`): what a reader needs is in docs/.
- README.md's Documentation list links every page in docs/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: folders that are not the repository's own files (environments, caches, build output)
SKIP_DIRS = {".git", "dist", "build", "node_modules", "__pycache__", ".pytest_cache",
             ".mypy_cache", ".ruff_cache", ".hypothesis"}
MAX_BYTES = 2_000_000

#: the notes outside the repository, by name or by path
OUTSIDE = re.compile(
    r"\b(?:DESIGN|BENCHMARKS|BROKER_NOTES|MM2_FORMATS|REAL_SERVERS|STYLE)\.md\b"
    r"|\bBROKER_NOTES\b|\bMM2_FORMATS\b|\bREAL_SERVERS\b"
    r"|\.\./shared\b|/work/shared\b"
)
#: a path ending in .md that is not part of a URL or of a longer name
MD_PATH = re.compile(r"(?<![\w/.:@~-])((?:\.{1,2}/)*[\w][\w.-]*(?:/[\w.-]+)*\.md)(?![\w/-])")
#: a markdown link's target: [text](target) or [text](target "title")
MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def repo_files() -> Iterator[Path]:
    """The repository's text files, without virtualenvs, caches and build output."""
    stack = [ROOT]
    while stack:
        folder = stack.pop()
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                if (path.name in SKIP_DIRS or path.name.startswith(".venv")
                        or path.name.endswith(".egg-info")):
                    continue
                stack.append(path)
            elif path.is_file() and path.stat().st_size <= MAX_BYTES:
                yield path


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _exists(target: str, where: Path, root: Path) -> bool:
    target = target.split("#", 1)[0]
    if not target:
        return True  # an anchor in the same page
    if target.startswith(("./", "../")):
        return (where.parent / target).exists()
    return (root / target).exists() or (where.parent / target).exists()


def broken_references(text: str, where: Path, root: Path = ROOT) -> list[str]:
    """What `text` (the content of the file `where`) names that does not exist under `root`,
    or that points outside the repository: one line per problem."""
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in OUTSIDE.finditer(line):
            problems.append(f"{n}: names {m.group(0)!r}, which is outside the repository")
        for m in MD_PATH.finditer(line):
            if not _exists(m.group(1), where, root):
                problems.append(f"{n}: {m.group(1)!r} does not exist")
        if where.suffix == ".md":
            for m in MD_LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.endswith(".md"):
                    continue  # a URL (http:, mailto:); .md paths were checked above
                if not (where.parent / target.split("#", 1)[0]).exists():
                    problems.append(f"{n}: link to {target!r}, which does not exist")
    return problems


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "real.md").write_text("# real\n")
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    page = tmp_path / "docs" / "page.md"
    # the outside names are built here, so that this file does not itself name them
    notes, design = "BROKER_NOTES" + ".md", "DESIGN" + ".md"
    text = ("see docs/real.md and [the image](../Dockerfile), [real](real.md#top)\n"
            "see docs/missing.md and [gone](../nothing.txt) and [rel](./gone.md)\n"
            f"as {notes} says; ../shared/{design}; MM2_FORMATS section 7\n"
            "https://example.com/README.md and user@host/notes.md are not paths here\n")
    assert broken_references(text, page, tmp_path) == [
        "2: 'docs/missing.md' does not exist",
        "2: './gone.md' does not exist",
        "2: link to '../nothing.txt', which does not exist",
        f"3: names '{notes}', which is outside the repository",
        "3: names '../shared', which is outside the repository",
        f"3: names '{design}', which is outside the repository",
        "3: names 'MM2_FORMATS', which is outside the repository",
        f"3: '{notes}' does not exist",
        f"3: '../shared/{design}' does not exist",
    ]
    code = tmp_path / "core" / "x.py"
    assert broken_references('"""Layout: docs/real.md."""\n', code, tmp_path) == []
    assert broken_references("# see docs/real.md#anchor\n", code, tmp_path) == []


def test_every_reference_points_at_a_file_in_the_repository() -> None:
    found = {}
    checked = 0
    for path in repo_files():
        text = read_text(path)
        if text is None:
            continue
        checked += 1
        if path == Path(__file__).resolve():
            continue  # this file names the outside notes on purpose
        problems = broken_references(text, path)
        if problems:
            found[path.relative_to(ROOT).as_posix()] = problems
    assert checked > 100  # the walk really saw the repository
    assert found == {}


def test_the_readme_lists_every_page_in_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)
    assert len(section) == 2, "README.md has no '## Documentation' section"
    listed = set(re.findall(r"\]\((docs/[\w.-]+\.md)\)", section[1].split("\n## ", 1)[0]))
    pages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")}
    assert pages, "docs/ has no pages"
    assert listed == pages
