"""`kafkaops schemas list|show|versions|diff|compat|config`: the cluster's Schema Registry
(clusters.<name>.schema_registry in config)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kafkaops.cli.common import Context, add_json, add_yes, confirm, print_json, table
from kafkaops.core.audit.log import local_actor
from kafkaops.core.errors import UsageError
from kafkaops.core.schema.browse import SchemaBrowser, check_level, check_type, pretty
from kafkaops.core.schema.records import SchemaReference

#: a schema file larger than this is not a schema
MAX_FILE = 4 * 1024 * 1024
_EXTENSIONS = {".avsc": "AVRO", ".json": "JSON", ".proto": "PROTOBUF"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schemas", help="Schema Registry: subjects, versions, compatibility")
    ssub = p.add_subparsers(dest="schemas_command", required=True,
                            metavar="{list,show,versions,diff,compat,config}")

    lp = ssub.add_parser("list", help="subjects with their latest version, type and id")
    lp.add_argument("--deleted", action="store_true", help="also soft-deleted subjects")
    add_json(lp)
    lp.set_defaults(func=list_cmd)

    sp = ssub.add_parser("show", help="a subject's schema (the latest version, or --version)")
    sp.add_argument("subject")
    sp.add_argument("--version", "-V", metavar="N", default="latest",
                    help="version number (default: latest)")
    add_json(sp)
    sp.set_defaults(func=show_cmd)

    vp = ssub.add_parser("versions", help="a subject's versions with their schema ids")
    vp.add_argument("subject")
    vp.add_argument("--deleted", action="store_true", help="also soft-deleted versions")
    add_json(vp)
    vp.set_defaults(func=versions_cmd)

    dp = ssub.add_parser("diff", help="what changed between two versions of a subject")
    dp.add_argument("subject")
    dp.add_argument("old", metavar="VERSION")
    dp.add_argument("new", metavar="VERSION", nargs="?", default="latest")
    dp.set_defaults(func=diff_cmd)

    cp = ssub.add_parser(
        "compat", help="is a schema file compatible with a subject? (the registry decides)",
        description="Ask the registry whether the schema in FILE is compatible with the "
        "subject's latest version (or --version), at the subject's compatibility level. "
        "Exit 0: compatible; 1: not compatible (the registry's reasons are printed).")
    cp.add_argument("subject")
    cp.add_argument("--file", "-f", required=True, metavar="FILE",
                    help="the schema (.avsc, .json, .proto or a base64 descriptor)")
    cp.add_argument("--type", metavar="TYPE",
                    help="AVRO, JSON or PROTOBUF (default: from the file name, else the "
                    "subject's latest version's type)")
    cp.add_argument("--version", "-V", metavar="N", default="latest",
                    help="check against this version; `all`: every version the level asks "
                    "for, as registering would (default: latest)")
    cp.add_argument("--reference", "-r", action="append", metavar="NAME=SUBJECT:VERSION",
                    help="a schema the file refers to (repeat for several; default: the "
                    "references of the subject's latest version)")
    add_json(cp)
    cp.set_defaults(func=compat_cmd)

    gp = ssub.add_parser("config", help="compatibility level, global or of a subject; "
                         "--level changes it (confirmed, audited)")
    gp.add_argument("subject", nargs="?")
    gp.add_argument("--level", metavar="LEVEL",
                    help="set it: BACKWARD, FORWARD, FULL, NONE or a _TRANSITIVE variant")
    add_yes(gp)
    add_json(gp)
    gp.set_defaults(func=config_cmd)


def _version(text: str, *, allow_all: bool = False) -> int | str:
    t = text.strip().lower()
    if t == "latest" or (allow_all and t == "all"):
        return t
    if t.isdigit() and 0 < int(t) < 2**31:
        return int(t)
    extra = ", `all`" if allow_all else ""
    raise UsageError(f"--version {text}: give a version number, `latest`{extra}")


async def list_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        subjects = await SchemaBrowser(services).subjects(deleted=args.deleted)
    if args.json:
        print_json(subjects)
        return 0
    if not subjects:
        print("no subjects in the registry" + (" (deleted ones included)" if args.deleted
                                               else ""))
        return 0
    rows = []
    for s in subjects:
        latest = s.latest
        rows.append((s.subject + (" (deleted)" if s.deleted else ""), s.versions,
                     latest.version if latest else None, latest.type if latest else None,
                     latest.id if latest else None, s.error or ""))
    print(table(["SUBJECT", "VERSIONS", "LATEST", "TYPE", "ID", ""], rows, right=(1, 2, 4)))
    return 0


async def show_cmd(args: argparse.Namespace, ctx: Context) -> int:
    version = _version(args.version)
    async with ctx.services() as services:
        d = await SchemaBrowser(services).detail(args.subject, version)
    if args.json:
        print_json(d)
        return 0
    s = d.schema
    out = [f"{d.subject} version {s.version} of {len(d.versions)} · id {s.id} · {s.type} · "
           f"compatibility {d.level.level} ({d.level.source})"]
    out += [f"references {r.name} -> {r.subject} v{r.version}" for r in s.references]
    if d.referenced_by:
        out.append("referenced by ids " + ", ".join(str(i) for i in d.referenced_by))
    out += ["", pretty(s)]
    print("\n".join(out))
    return 0


async def versions_cmd(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.services() as services:
        browser = SchemaBrowser(services)
        numbers = await browser.client.versions(args.subject, deleted=args.deleted)
        rows = [await browser.client.version(args.subject, n, deleted=args.deleted)
                for n in numbers]
    if args.json:
        print_json(rows)
        return 0
    print(table(["VERSION", "ID", "TYPE", "REFERENCES", ""],
                [(r.version, r.id, r.type, len(r.references), "deleted" if r.deleted else "")
                 for r in rows], right=(0, 1, 3)))
    return 0


async def diff_cmd(args: argparse.Namespace, ctx: Context) -> int:
    old, new = _version(args.old), _version(args.new)
    async with ctx.services() as services:
        lines = await SchemaBrowser(services).diff(args.subject, old, new)
    print("\n".join(lines) if lines else f"versions {old} and {new} of {args.subject} are "
          "the same schema")
    return 0


def _read_schema(path: str) -> str:
    p = Path(path).expanduser()
    try:
        if p.stat().st_size > MAX_FILE:
            raise UsageError(f"--file {path}: larger than {MAX_FILE // 1024 // 1024} MB; not a "
                             "schema")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--file {path}: cannot read it: {e}") from None
    if not text.strip():
        raise UsageError(f"--file {path}: the file is empty")
    return text


def _references(raw: list[str]) -> list[SchemaReference]:
    out = []
    for item in raw:
        name, _, rest = item.partition("=")
        subject, _, version = rest.rpartition(":")
        if not name or not subject or not version.isdigit():
            raise UsageError(f"--reference {item}: expected NAME=SUBJECT:VERSION, e.g. "
                             "com.acme.Address=com.acme.Address:1")
        out.append(SchemaReference(name, subject, int(version)))
    return out


async def compat_cmd(args: argparse.Namespace, ctx: Context) -> int:
    version = _version(args.version, allow_all=True)
    schema = _read_schema(args.file)
    ext = _EXTENSIONS.get(Path(args.file).suffix.lower())
    schema_type = check_type(args.type) if args.type else (check_type(ext) if ext else None)
    refs = _references(args.reference) if args.reference else None
    async with ctx.services() as services:
        result = await SchemaBrowser(services).check(args.subject, schema,
                                                     schema_type=schema_type, version=version,
                                                     references=refs)
    if args.json:
        print_json(result)
    else:
        against = "every version its level asks for" if result.against == "all" else (
            f"version {result.against}" if result.against != "latest" else "the latest version")
        verdict = "compatible" if result.compatible else "NOT compatible"
        sys.stdout.write(f"{args.file} is {verdict} with {against} of {args.subject} "
                         f"(compatibility {result.level})\n")
        for m in result.messages:
            sys.stdout.write(f"  {m}\n")
    return 0 if result.compatible else 1


async def config_cmd(args: argparse.Namespace, ctx: Context) -> int:
    level = check_level(args.level) if args.level is not None else None
    async with ctx.services() as services:
        browser = SchemaBrowser(services)
        if level is None:
            current = await browser.client.compatibility(args.subject)
            _print_level(args, current, services.cluster_name)
            return 0
        target = f"subject {args.subject}" if args.subject else "the registry (global)"
        services.require_writable(None, f"change the compatibility of {target}")
        current = await browser.client.compatibility(args.subject)
        if current.level != level or (args.subject and current.source != "subject"):
            confirm(args, f"set the compatibility of {target} at {browser.client.url} from "
                          f"{current.level} ({current.source}) to {level}")
        now = await browser.set_level(level, args.subject, actor=local_actor(), face="cli")
    if args.json:
        print_json(now)
    else:
        print(f"compatibility of {target} is now {now.level} (was {current.level}); audited")
    return 0


def _print_level(args: argparse.Namespace, level: Any, cluster: str) -> None:
    if args.json:
        print_json(level)
    elif args.subject:
        print(f"{args.subject}: {level.level}" + (" (the global level: the subject sets "
                                                  "none)" if level.source == "global" else ""))
    else:
        print(f"global: {level.level}")
