"""`perennia data`: register, inspect, tag, alias, compare and fetch dataset versions."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import typer

from perennia.cli.common import use_tracking_uri
from perennia.cli.output import console, fmt_time, key_values, table
from perennia.errors import InvalidInput

app = typer.Typer(
    help="Dataset versions: register, list, versions, get, fetch, diff, tag, alias, history, lineage, "
    "split, infer-contract, validate, skew.",
    no_args_is_help=True,
)


def sdk() -> ModuleType:
    """Return `perennia.data` (imported here, so `perennia --help` stays fast) pointed at
    `--tracking-uri`; the commands in `data_more` use it too."""
    import perennia.data as data

    use_tracking_uri()
    return data


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    """Return {key: value} from repeated KEY=VALUE options."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"{option} takes KEY=VALUE, got {item!r}")
        out[key] = value
    return out


@app.command("register")
def register(
    name: str = typer.Argument(..., help="Dataset name."),
    source: str = typer.Argument(
        ...,
        help="A Parquet/CSV file or folder, a folder of files, s3://bucket/prefix, or a "
        "database URI with --query.",
    ),
    query: str | None = typer.Option(None, "--query", help="SQL to run on the database URI."),
    kind: str | None = typer.Option(None, "--kind", help="'files' stores a folder file by file."),
    description: str = typer.Option("", "--description"),
    tag: list[str] = typer.Option([], "--tag", help="KEY=VALUE, repeatable."),
    parent: list[str] = typer.Option([], "--parent", help="name@version it derives from."),
) -> None:
    """Snapshot SOURCE as the next version of NAME (only bytes the store lacks are written)."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    data = sdk()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), console=console
    ) as bar:
        task = bar.add_task(f"registering {name}", total=None)
        version = data.register(
            name,
            source,
            query=query,
            kind=kind,
            description=description,
            tags=_pairs(tag, "--tag"),
            parents=parent,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"registered [bold]{version.ref}[/bold] ({version.kind}, {_size(version.size_bytes)}, "
        f"{_size(version.new_bytes)} new) digest {version.digest[:12]}"
    )


@app.command("list")
def list_() -> None:
    """List datasets with their latest version."""
    rows = [
        (v.name, str(v.version), v.kind, _rows(v), _size(v.size_bytes), fmt_time(v.created_at))
        for v in sdk().list_datasets()
    ]
    console.print(table("Datasets", ["name", "latest", "kind", "rows", "size", "created"], rows, 1))


def _rows(version) -> str:
    return (
        str(version.row_count) if version.row_count is not None else f"{version.file_count} files"
    )


@app.command("versions")
def versions(name: str = typer.Argument(..., help="Dataset name.")) -> None:
    """List a dataset's versions, newest first."""
    rows = [
        (
            str(v.version),
            ", ".join(v.aliases),
            _rows(v),
            _size(v.size_bytes),
            _size(v.new_bytes),
            ", ".join(v.parents),
            v.digest[:12],
            fmt_time(v.created_at),
        )
        for v in sdk().versions(name)
    ]
    headers = ["version", "aliases", "rows", "size", "new", "parents", "digest", "created"]
    console.print(table(f"Versions of {name}", headers, rows, no_wrap=1))


@app.command("get")
def get(ref: str = typer.Argument(..., help="name@version, name@alias or name.")) -> None:
    """Show one version: shape, source, parents, tags, aliases, contract."""
    v = sdk().get(ref)
    values = {
        "version": v.ref,
        "kind": v.kind,
        "rows": _rows(v),
        "size": _size(v.size_bytes),
        "stored new": _size(v.new_bytes),
        "digest": v.digest,
        "storage": v.storage_uri,
        "source": json.dumps(v.source),
        "parents": ", ".join(v.parents),
        "derivation": json.dumps(v.derivation) if v.derivation else "",
        "aliases": ", ".join(v.aliases),
        "contract": f"{len(v.contract.get('expectations', []))} expectations" if v.contract else "",
        "created": f"{fmt_time(v.created_at)} by {v.created_by or '?'}",
    }
    values.update({f"tag {k}": val for k, val in v.tags.items()})
    values.update({f"column {c['name']}": c.get("type", "") for c in v.schema})
    console.print(key_values(v.ref, values, sort=False))


@app.command("fetch")
def fetch(
    ref: str = typer.Argument(..., help="name@version."),
    target: Path = typer.Argument(..., help="Folder to write the files (or Parquet parts) into."),
) -> None:
    """Write a version's files into TARGET, each checked against its digest."""
    path = sdk().load(ref, to="folder", target=target, context=None)
    console.print(f"wrote {ref} into {path}")


@app.command("diff")
def diff(
    a: str = typer.Argument(..., help="The older version, name@version."),
    b: str = typer.Argument(..., help="The newer version."),
    key: str | None = typer.Option(None, "--key", help="Column(s) identifying a row, a,b."),
) -> None:
    """Show how B differs from A: schema, rows added and removed, per-column shift."""
    result = sdk().diff(a, b, key=key.split(",") if key and "," in key else key)
    if isinstance(result, dict):
        rows = [(what, path) for what, paths in result.items() for path in paths]
        console.print(table(f"{a} -> {b}", ["change", "file"], rows, no_wrap=1))
        return
    console.print(table(f"{a} -> {b}", ["what", "detail"], result.rows(), no_wrap=1))


@app.command("tag")
def tag(
    ref: str = typer.Argument(..., help="name@version."),
    key: str = typer.Argument(...),
    value: str = typer.Argument(...),
) -> None:
    """Set a tag on a version."""
    sdk().set_tag(ref, key, value)
    console.print(f"tagged {ref} {key}={value}")


@app.command("alias")
def alias(
    ref: str = typer.Argument(..., help="name@version the alias points at."),
    alias_name: str = typer.Argument(..., metavar="ALIAS", help="e.g. golden."),
) -> None:
    """Point name@ALIAS at a version (moving it if it pointed elsewhere)."""
    data = sdk()
    version = data.get(ref)
    data.set_alias(version, alias_name)
    console.print(f"{version.name}@{alias_name} -> {version.ref}")


@app.command("history")
def history(name: str = typer.Argument(..., help="Dataset name.")) -> None:
    """List a dataset's changes, newest first: registrations, tags, aliases, contracts."""
    rows = [
        (
            fmt_time(e.time),
            e.action,
            e.username or "",
            "" if e.version is None else str(e.version),
            json.dumps(e.detail)[:100],
        )
        for e in sdk().history(name)
    ]
    headers = ["time", "action", "user", "version", "detail"]
    console.print(table(f"History of {name}", headers, rows, no_wrap=1))
