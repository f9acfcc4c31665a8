"""`perpetuum review DIR` (serve the review desk) and `perpetuum review export DIR -o OUT`.

`review` is a typer group whose first argument is either a sub-command (`serve`, `export`) or a folder; a folder
means `serve`, so both shapes of the issue work. The main CLI wires it in with

    from perpetuum.review.cli_commands import register_commands
    register_commands(app, wrap=_friendly_errors)
"""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console
from typer.core import TyperGroup

from perpetuum.errors import ParameterError

__all__ = ["serve_command", "export_command", "register_commands", "review_app", "is_loopback", "required_token",
           "bind_port"]

console = Console(soft_wrap=True)


class _FolderMeansServe(TyperGroup):
    """`perpetuum review out/` is `perpetuum review serve out/`: anything that is not a sub-command or an option
    is taken as the folder to serve."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def reviewed_folder_for(folder: Path) -> Path:
    """A suggested export folder beside the generated one: out/math -> out/math-reviewed."""
    folder = Path(folder)
    return folder.with_name(folder.name + "-reviewed") if folder.name else Path("reviewed")


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, bound before the desk prints its address (so the address printed is this
    desk's); a port that is taken is a ParameterError that names it and suggests --port."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: only a live listener blocks
    try:
        listener.bind((host.strip("[]"), port))
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise ParameterError(
                f"port {port} on {host} is already in use (another program, or another review desk over other data, "
                f"is listening there): choose a free one, e.g. --port {port + 1 if port < 65535 else 8765}."
            ) from None
        raise ParameterError(f"cannot listen on {host}:{port} ({error.strerror}); check --host and --port.") from None
    listener.set_inheritable(True)
    return listener


def required_token(host: str, token: str | None) -> str | None:
    """The token the server will require: the one given, a new one for a non-loopback host, else none."""
    if token is not None and len(token) < 8:
        raise ParameterError("--token must be at least 8 characters; or leave it out and one is generated.")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    return token


FolderArgument = Annotated[
    Path,
    typer.Argument(metavar="DIR", help="A folder written by `perpetuum generate` (data.jsonl, card.json).", show_default=False),
]


def serve_command(
    folder: FolderArgument,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to bind. Anything but 127.0.0.1 / localhost / ::1 requires a token (one is generated "
            "and printed unless --token gives it).",
        ),
    ] = "127.0.0.1",
    token: Annotated[
        Optional[str],
        typer.Option("--token", help="Require this token on every request (also on 127.0.0.1).", show_default=False),
    ] = None,
    reviewer: Annotated[
        Optional[str],
        typer.Option("--reviewer", help="Your name in the review log (default: your user name); each browser can change it.", show_default=False),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the desk in your web browser.")] = False,
) -> None:
    """Open the review desk on a generated dataset: read, correct, accept or reject records in the browser.

    Everything is kept in DIR/review.sqlite, written at every action, so stopping the server (or a crash) loses
    nothing; start it again to continue. Export what was accepted with [bold]perpetuum review export[/bold].

    [bold]Examples[/bold]

      perpetuum review out/math_tutor

      perpetuum review out/math_tutor --port 9000 --reviewer ana

      perpetuum review out/math_tutor --host 0.0.0.0   # prints a token; every request needs it
    """
    import uvicorn

    from perpetuum.review.app import create_app
    from perpetuum.review.store import ReviewStore

    if not 0 < port < 65536:
        raise ParameterError(f"--port must be between 1 and 65535; got {port}.")
    token = required_token(host, token)
    store = ReviewStore.open(folder)
    listener = bind_port(host, port)
    allowed = None if token else {"127.0.0.1", "localhost", "::1"}
    app = create_app(folder, token=token, reviewer=reviewer, store=store, allowed_hosts=allowed)
    counts = store.counts()
    shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
    address = f"http://{'[' + shown_host + ']' if ':' in shown_host else shown_host}:{port}/"
    console.print(
        f"Reviewing [bold]{counts['records']:,}[/bold] records of {folder} ({counts['reviewed']:,} reviewed, "
        f"{counts['pending']:,} pending); the review is kept in {store.path}.",
        highlight=False,
    )
    if token:
        console.print(f"Open {address}?token={token}", markup=False, highlight=False)
        if host in {"0.0.0.0", "::"}:
            console.print("(from other machines: the same address with this machine's name or IP)", highlight=False)
        console.print("Every request without this token is refused.", highlight=False)
    else:
        console.print(f"Open {address}", markup=False, highlight=False)
    console.print("Press Ctrl+C to stop (nothing is lost). Then: perpetuum review export "
                  f"{folder} -o {reviewed_folder_for(folder)}", markup=False, highlight=False)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [f"{address}?token={token}" if token else address]).start()
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run(sockets=[listener])


def export_command(
    folder: FolderArgument,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the reviewed dataset (created; not the generated one).")
    ],
    formats: Annotated[
        Optional[list[str]],
        typer.Option("--format", "-f", help="jsonl, parquet or hf; repeat for several. Default: the generated folder's formats.", show_default=False),
    ] = None,
) -> None:
    """Write the accepted records with every correction applied, the review log and the updated card.

    OUT gets data.jsonl / data.parquet / hf_dataset/ (like the generated folder), rejected.jsonl (with reasons),
    review_log.jsonl (every action: record, field, before, after, reviewer, time) and card.json / card.md with a
    "review" section (reviewed, accepted, rejected, edited, reasons, reviewers).

    [bold]Example[/bold]

      perpetuum review export out/math_tutor -o out/math_tutor-reviewed
    """
    from perpetuum.review.export import export_reviewed

    result = export_reviewed(folder, output, formats=formats or None)
    review = result.card["review"]
    console.print(
        f"Exported {result.n_exported:,} accepted records ({review['accepted_edited']:,} corrected) of "
        f"{review['records']:,}: {review['rejected']:,} rejected, {review['pending']:,} not reviewed (left out).",
        highlight=False,
    )
    console.print(f"Files in {output}: " + ", ".join(Path(path).name for path in result.files.values()), markup=False)


review_app = typer.Typer(
    cls=_FolderMeansServe,
    subcommand_metavar="DIR | serve DIR | export DIR -o OUT",
    no_args_is_help=True,
    rich_markup_mode="rich",
    help="Review generated records by hand in the browser (perpetuum review DIR), then export what was accepted "
    "(perpetuum review export DIR -o OUT).",
)


def register_commands(app: typer.Typer, wrap: Callable[[Callable], Callable] = lambda command: command) -> None:
    """Add the `review` group (`review DIR`, `review serve DIR`, `review export DIR -o OUT`) to `app`."""
    review_app.command("serve")(wrap(serve_command))
    review_app.command("export")(wrap(export_command))
    app.add_typer(review_app, name="review")
