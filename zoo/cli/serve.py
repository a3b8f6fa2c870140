"""``zoo serve``: a package (or a run) behind a REST API (docs/serving.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from zoo.cli.common import DB_OPTION, _open_store
from zoo.serving.config import MAX_BATCH, MAX_BODY_BYTES, MAX_SAMPLES, MAX_WAIT_MS


@click.command("serve")
@click.argument("package")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; 0.0.0.0 exposes the server).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", envvar="ZOO_SERVE_TOKEN",
              help="Bearer token every request but /health and /ready must send "
                   "(default $ZOO_SERVE_TOKEN; none: no authentication).")
@click.option("--max-batch", type=click.IntRange(min=1), default=MAX_BATCH, show_default=True,
              help="Most rows per request, and per batched model call.")
@click.option("--max-wait-ms", type=click.FloatRange(min=0), default=MAX_WAIT_MS,
              show_default=True,
              help="How long a request waits for concurrent ones to batch with.")
@click.option("--max-samples", type=click.IntRange(min=1), default=MAX_SAMPLES,
              show_default=True, help="Most samples one /v1/sample request may ask for.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=MAX_BODY_BYTES,
              show_default=True, help="Largest request body.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes, each with its own copy of the model.")
@click.option("--runtime", type=click.Choice(["eager", "onnx"]), default="eager",
              show_default=True, help="Run the model in PyTorch, or its ONNX export in "
                                      "ONNX Runtime.")
@DB_OPTION
def serve_command(package: str, host: str, port: int, token: str | None, max_batch: int,
                  max_wait_ms: float, max_samples: int, max_body_bytes: int, workers: int,
                  runtime: str, db: Path | None) -> None:
    """Serve PACKAGE (made by zoo export), or a RUN id exported on the fly, over HTTP until
    Ctrl-C or SIGTERM."""
    from zoo.serving.app import check_port, serve
    from zoo.serving.config import ServeConfig
    from zoo.serving.package import check_runtime, export_package, verify_package

    check_port(host, port)
    with tempfile.TemporaryDirectory(prefix="zoo-serve-") as scratch:
        if not (Path(package) / "card.json").is_file():
            with _open_store(db) as store:
                package = str(export_package(store, package, Path(scratch) / "package",
                                             onnx=runtime == "onnx"))
        # Checked here, not only in the app: a failure there is a lifespan traceback.
        check_runtime(package, verify_package(package), runtime)
        config = ServeConfig(package=str(Path(package).resolve()), runtime=runtime,
                             token=token or None, max_batch=max_batch, max_wait_ms=max_wait_ms,
                             max_samples=max_samples, max_body_bytes=max_body_bytes)
        serve(config, host=host, port=port, workers=workers)
