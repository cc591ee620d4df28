"""The `perennia` command: command groups are assembled here; errors become one line and exit 1."""

from __future__ import annotations

import sys

import typer

from perennia._version import __version__
from perennia.cli import (
    access,
    artifacts,
    ci,
    data,
    data_more,  # noqa: F401 - adds lineage, split, infer-contract and validate to `data`
    db,
    deploy,
    evaluate,
    experiments,
    importer,
    models,
    monitor,
    pipeline,
    retrain,
    runs,
    schedule,
    webhooks,
)
from perennia.cli.common import state
from perennia.cli.demo import demo
from perennia.cli.gc import gc
from perennia.cli.info import info
from perennia.cli.output import err_console
from perennia.cli.predict import predict
from perennia.cli.serve import serve
from perennia.cli.server import server

app = typer.Typer(
    name="perennia",
    help="Perennia: track, evaluate and register machine-learning models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(experiments.app, name="experiments")
app.add_typer(runs.app, name="runs")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(db.app, name="db")
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(models.app, name="models")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(deploy.app, name="deploy")
app.add_typer(data.app, name="data")
app.add_typer(monitor.app, name="monitor")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(schedule.app, name="schedule")
app.add_typer(retrain.app, name="retrain")
app.add_typer(ci.app, name="ci")
app.add_typer(importer.app, name="import")
app.command("gc")(gc)
app.command("info")(info)
app.command("demo")(demo)
app.command("server")(server)
app.command("serve")(serve)
app.command("scheduler")(schedule.scheduler)
app.command("predict")(predict)
app.add_typer(access.users_app, name="users")
app.add_typer(access.tokens_app, name="tokens")
app.command("audit")(access.audit)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perennia {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    tracking_uri: str | None = typer.Option(
        None,
        "--tracking-uri",
        help="Metadata store URI (default: $PERENNIA_TRACKING_URI or ./.perennia).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Perennia: track, evaluate and register machine-learning models."""
    state.tracking_uri = tracking_uri


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (a PerenniaError prints one line and returns 1)."""
    from perennia.errors import PerenniaError

    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(args=argv, prog_name="perennia", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except PerenniaError as error:
        _print_error(str(error))
        return 1
    except typer.Exit as exit_:
        return exit_.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except Exception as error:
        if not _is_click_exception(error):
            raise
        line = _usage_line(error)
        if line:  # a group run without a command has printed its help already
            _print_error(line)
        return error.exit_code
    return 0


def _is_click_exception(error: Exception) -> bool:
    # Typer >= 0.16 bundles its own copy of click (typer._click), so the class to match is
    # found by name along the MRO rather than imported from one package or the other.
    return any(
        cls.__name__ == "ClickException" and cls.__module__.endswith("click.exceptions")
        for cls in type(error).__mro__
    )


def _usage_line(error: Exception) -> str:
    """Return click's message with the help command to try, as one line."""
    message = error.format_message().strip()
    context = getattr(error, "ctx", None)
    if message and context is not None and getattr(error, "exit_code", 1) == 2:
        message = f"{message.rstrip('.')} (see '{context.command_path} --help')"
    return message


def _print_error(message: str) -> None:
    from rich.text import Text

    # One line however long (soft_wrap), and the message's own brackets are not markup.
    line = Text.assemble(("error:", "bold red"), " ", message.replace("\n", " "))
    err_console.print(line, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
