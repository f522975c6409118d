"""`guji serve`, registered into the repository CLI through the `guji.commands` entry point."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import typer
import uvicorn


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(2, help="Uvicorn worker processes."),
        indexer: bool = typer.Option(True, "--indexer/--no-indexer", help="Also run the search indexer."),
        access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log every request."),
    ) -> None:
        """Serve the web site and API."""
        from repository import Home

        home = Home.resolve((ctx.obj or {}).get("home"))
        if not home.exists():
            typer.echo(f"error: no Guji data home at {home.root}: run `guji init` first", err=True)
            raise typer.Exit(1)
        # Workers are separate processes: they find the data home through the environment.
        os.environ["GUJI_HOME"] = str(home.root)
        options = {}
        if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
            # a worker on a busy machine may need more than uvicorn's 5 s to start the app
            options["timeout_worker_healthcheck"] = 60
        # The search index has one writer: the indexer, run beside the (read-only) web workers.
        side = subprocess.Popen([sys.executable, "-m", "repository.cli", "indexer"]) if indexer else None
        try:
            # proxy_headers=False: uvicorn would believe X-Forwarded-For from 127.0.0.1 whoever sent it;
            # the app believes it from GUJI_TRUSTED_PROXIES only (web/proxies.py)
            uvicorn.run("web.app:create_app", factory=True, host=host, port=port, workers=workers,
                        access_log=access_log, proxy_headers=False, **options)
        finally:
            if side is not None:
                side.terminate()
                try:
                    side.wait(10)
                except subprocess.TimeoutExpired:
                    side.kill()
