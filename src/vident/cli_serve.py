"""``vident serve``: the REST API of :mod:`vident.web` under uvicorn.

Registered on the ``vident`` application when :mod:`vident.cli` imports this module. The
server listens on loopback unless told otherwise: put a TLS-terminating proxy in front of it
before exposing it to a network.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vident.cli_base import _errors, _settings, app, err
from vident.config import Settings


def first_start(settings: Settings) -> bool:
    from vident.service.context import local_operator, open_context
    from vident.service.users import needs_bootstrap

    ctx = open_context(settings, local_operator(settings))
    try:
        return needs_bootstrap(ctx)
    finally:
        ctx.close()


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="TCP port to listen on.")
    ] = 8000,
) -> None:
    """Run the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) until interrupted."""
    import uvicorn

    from vident.security.settings import SecuritySettings
    from vident.web.app import create_app

    settings = _settings(ctx)
    with _errors():
        api = create_app(settings, SecuritySettings())
    err.print(f"vident API on http://{host}:{port}/api/v1 (stop with Ctrl-C)")
    if first_start(settings):
        err.print(
            "no users yet: create the first administrator with `vident admin bootstrap "
            "USERNAME`, then log in with POST /api/v1/auth/login",
            highlight=False,
        )
    uvicorn.run(api, host=host, port=port, log_level="warning", server_header=False)
