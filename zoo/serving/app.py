"""The REST server: a FastAPI app over a package, run by uvicorn (``zoo serve``).

FastAPI rather than LitServe: LitServe builds on the same two libraries but runs the model in
worker processes fed by its own queues, and zoo needs none of that for models of this size;
FastAPI alone gives the request models, the OpenAPI schema and the lifespan, and the
micro-batching (:mod:`zoo.serving.batching`) is a hundred lines that keep one inference path.

Endpoints: ``GET /health`` (live), ``GET /ready`` (model loaded), ``GET /v1/model`` (the
card), ``GET /v1/stats`` (batching counters), and as the package's hooks allow
``POST /v1/predict``, ``/v1/score``, ``/v1/log-likelihood``, ``/v1/sample``. Every error is
``{"detail": "one line"}`` with a 4xx status. With a token, everything but ``/health`` and
``/ready`` (the schema and docs included) needs ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from zoo.errors import ZooError, one_line
from zoo.serving.batching import MicroBatcher
from zoo.serving.config import CONFIG_ENV, GRACEFUL_SHUTDOWN_S, ServeConfig
from zoo.serving.package import check_runtime, load_package, served_hooks, verify_package
from zoo.serving.service import ROUTES, Service


def serve(config: ServeConfig, *, host: str, port: int, workers: int) -> None:
    """Run the server until SIGINT or SIGTERM, then shut down gracefully: stop accepting,
    answer the requests in flight (for up to :data:`GRACEFUL_SHUTDOWN_S`), unload."""
    import uvicorn

    os.environ[CONFIG_ENV] = config.to_json()
    uvicorn.run("zoo.serving.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                log_level="info")


def check_port(host: str, port: int) -> None:
    """Refuse, in one line and before any model is loaded, an address the server could not
    listen on. Another process may still take the port before uvicorn binds it; uvicorn then
    reports it, but the common case (a server already running there) is caught here.

    Raises:
        ZooError: ``host`` is not an address of this machine, or ``port`` on it is in use.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ZooError(f"--host {host} is not an address to listen on ({exc.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ZooError(f"port {port} on {host} is in use; choose another with "
                               f"--port") from None
            raise ZooError(f"cannot listen on {host} port {port}: {exc.strerror}") from None


def app_from_environment() -> Any:
    """The app of the configuration in :data:`CONFIG_ENV` (uvicorn's factory, per worker)."""
    return create_app(ServeConfig.from_json(os.environ[CONFIG_ENV]))


def create_app(config: ServeConfig) -> Any:
    """The FastAPI app serving ``config.package``; the model is loaded in its lifespan.

    Raises:
        ZooError: The package fails verification (:func:`zoo.serving.package.verify_package`)
            or cannot be served with ``config.runtime`` (``check_runtime``).
    """
    from fastapi import APIRouter, FastAPI, Security
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.exceptions import RequestValidationError
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import JSONResponse
    from fastapi.security import HTTPBearer
    from starlette.exceptions import HTTPException

    card = verify_package(config.package)
    check_runtime(config.package, card, config.runtime)
    hooks = served_hooks(card, config.runtime)
    schemas = _schemas(config, card)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(load_package(config.package, config.runtime))
        batcher = MicroBatcher(service.infer, max_rows=config.max_batch,
                               max_wait_s=config.max_wait_ms / 1000)
        batcher.start()
        app.state.service, app.state.batcher = service, batcher
        yield
        await batcher.stop()
        app.state.service = None

    app = FastAPI(title=f"zoo: {card['model']}", version=str(card["package"]["zoo_version"]),
                  description=f"Serves the package of model {card['model']!r} "
                              f"({card['data_info']['task']}, {config.runtime}).",
                  lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None,
                  responses={422: {"model": schemas.Error}})
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    guarded: list[Any] = []
    if config.token:
        # Added last, so it runs first: no body is read before the token is checked.
        app.add_middleware(BearerToken, token=config.token)
        # Checked by BearerToken; declared here for the schema and the Swagger page.
        guarded = [Security(HTTPBearer(auto_error=False,
                                       description="zoo serve --token / ZOO_SERVE_TOKEN"))]
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": schemas.Error} for code in (401, 413, 422, 503)}

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Any, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _first_error(exc.errors())}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> Any:
        if exc.status_code == 400:  # FastAPI's only 400: a body its JSON parser gave up on
            return JSONResponse({"detail": _unparsable(exc)}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ZooError)
    async def refused(request: Any, exc: ZooError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/health", response_model=schemas.Health, tags=["status"])
    async def health() -> dict[str, str]:
        """Live: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", response_model=schemas.Ready, responses=errors, tags=["status"])
    async def ready() -> Any:
        """Ready: the model is loaded and answers requests."""
        if getattr(app.state, "service", None) is None:
            return JSONResponse({"detail": "the model is not loaded yet"}, status_code=503)
        return {"ready": True, "runtime": config.runtime}

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    async def docs() -> Any:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=app.title)

    v1 = APIRouter(prefix="/v1", dependencies=guarded, responses=errors, tags=["model"])

    @v1.get("/model", response_model=dict[str, Any])
    async def model_card() -> dict[str, Any]:
        """The package's card: model, hyperparameters, input shape and dtype, preprocessing,
        vocabulary, metrics, versions, threshold, ONNX export."""
        return card

    @v1.get("/stats", response_model=schemas.Stats)
    async def stats() -> dict[str, int]:
        """Requests answered, their rows, and the model calls the batching made of them."""
        return app.state.batcher.stats.to_dict()

    for hook in hooks:
        if hook == "sample":
            v1.add_api_route("/sample", _sample_endpoint(app, schemas), methods=["POST"],
                             response_model=schemas.Samples, response_model_exclude_none=True,
                             summary="Draw samples")
        else:
            v1.add_api_route(ROUTES[hook].removeprefix("/v1"), _rows_endpoint(app, hook, schemas),
                             methods=["POST"], response_model=schemas.outputs[hook],
                             response_model_exclude_none=True, summary=_SUMMARIES[hook])
    app.include_router(v1)
    return app


_SUMMARIES = {"predict": "Predict (classes with probabilities, or values)",
              "score": "Anomaly scores (and decisions at the stored threshold)",
              "log_likelihood": "Log-likelihood in nats"}


def _rows_endpoint(app: Any, hook: str, schemas: Any) -> Callable[..., Awaitable[Any]]:
    async def endpoint(body: Any) -> dict[str, Any]:
        service: Service = app.state.service
        outputs = await app.state.batcher.run(hook, service.rows(body.inputs))
        return service.answer(hook, outputs)

    endpoint.__annotations__ = {"body": schemas.Inputs, "return": dict[str, Any]}
    endpoint.__doc__ = (f"`{hook}` of each row, through the preprocessing and evaluate hook "
                        f"that `zoo evaluate` uses. Concurrent requests are batched.")
    return endpoint


def _sample_endpoint(app: Any, schemas: Any) -> Callable[..., Awaitable[Any]]:
    async def endpoint(body: Any) -> dict[str, Any]:
        service: Service = app.state.service
        return await app.state.batcher.call(service.sample, body.n, body.seed, body.format)

    endpoint.__annotations__ = {"body": schemas.Sample, "return": dict[str, Any]}
    endpoint.__doc__ = "`n` samples drawn as evaluation draws them, reproducible by `seed`."
    return endpoint


def _first_error(errors: Any) -> str:
    """A request validation failure as one line: where, and what was expected."""
    if not errors:
        return "the request body is not valid"
    first = errors[0]
    if first.get("type") == "json_invalid":
        reason = first.get("ctx", {}).get("error", "")
        return one_line(f"the request body is not valid JSON ({reason})")
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return one_line(f"{where}: {first.get('msg', 'is not valid')}")


def _unparsable(exc: Exception) -> str:
    """Why FastAPI could not parse a request body, in one line."""
    if isinstance(exc.__cause__, RecursionError):
        return "the request body is not valid JSON (nested too deeply to parse)"
    return one_line(f"the request body is not valid JSON ({exc.__cause__ or exc})")


class BearerToken:
    """ASGI middleware refusing with 401 every request but ``/health`` and ``/ready`` without
    ``Authorization: Bearer TOKEN``, before any of its body is read: nothing an
    unauthenticated client sends is parsed. The token is compared in constant time."""

    OPEN = frozenset({"/health", "/ready"})

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        await _send_error(send, 401, "missing or wrong bearer token: send the header "
                                     "'Authorization: Bearer TOKEN' (zoo serve --token)",
                          [(b"www-authenticate", b"Bearer")])

    def _authorised(self, scope: dict[str, Any]) -> bool:
        header = dict(scope.get("headers", [])).get(b"authorization", b"")
        scheme, _, credentials = header.partition(b" ")
        # Compared even for another scheme, so the time says nothing about the header.
        matches = secrets.compare_digest(credentials, self.token)
        return scheme.lower() == b"bearer" and matches


async def _send_error(send: Any, status: int, detail: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``{"detail": detail}`` with ``status`` from an ASGI middleware."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413, before the app
    parses any of it (a declared Content-Length is refused without reading)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        await _send_error(send, 413, f"the request body is over this server's limit of "
                                     f"{self.limit} bytes")


def _row_type(shape: list[int], dtype: str, text: bool) -> Any:
    """The type of one row: numbers nested to ``shape`` (strict: no strings, no booleans),
    and for a text model also a string of ``shape[0]`` characters."""
    from pydantic import Field, StrictFloat, StrictInt

    row: Any = StrictInt if dtype == "int64" else StrictFloat | StrictInt
    for size in reversed(shape):
        row = Annotated[list[row], Field(min_length=size, max_length=size)]
    if text:
        row = row | Annotated[str, Field(min_length=shape[0], max_length=shape[0])]
    return row


def _schemas(config: ServeConfig, card: dict[str, Any]) -> Any:
    """The request and response models, documented with this package's shape and limits."""
    from types import SimpleNamespace

    from pydantic import BaseModel, ConfigDict, Field

    shape = card["package"]["input"]["shape"]
    dtype = card["package"]["input"]["dtype"]
    text = " (or strings of the vocabulary's characters)" if card.get("vocab") else ""

    class Inputs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        inputs: list[_row_type(shape, dtype, bool(text))] = Field(  # type: ignore[misc]
            min_length=1, max_length=config.max_batch,
            description=f"Rows: nested lists of shape {shape}, {dtype}{text}; at most "
                        f"{config.max_batch} rows, finite values, in the data's own units "
                        f"(the card's preprocessing is applied by the server).")

    class Sample(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = Field(16, ge=1, le=config.max_samples, strict=True,
                       description="How many samples.")
        seed: int | None = Field(None, ge=0, le=2**63 - 1, strict=True,
                                 description="Seed of the draw (the same seed, the same "
                                             "samples); chosen and returned when absent.")
        format: Literal["list", "png"] = Field(
            "list", description="Images as nested lists, or as base64 PNG strings.")

    class Scores(BaseModel):
        scores: list[float] = Field(description="Anomaly score per row, higher = more anomalous.")
        decisions: list[bool] | None = Field(
            None, description="score > threshold, when the package stores a threshold.")
        threshold: float | None = None

    class Predictions(BaseModel):
        predictions: list[Any] = Field(description="Class per row, or predicted value(s).")
        probabilities: list[list[float]] | None = Field(
            None, description="Class probabilities per row (classifiers).")

    class LogLikelihood(BaseModel):
        log_likelihood: list[float] = Field(description="log p(x) per row, in nats.")

    class Samples(BaseModel):
        samples: list[Any] = Field(description="Nested lists, base64 PNG or strings.")
        seed: int

    class Error(BaseModel):
        detail: str = Field(description="What was wrong, in one line.")

    class Health(BaseModel):
        status: str

    class Ready(BaseModel):
        ready: bool
        runtime: str

    class Stats(BaseModel):
        requests: int
        rows: int
        model_calls: int

    return SimpleNamespace(
        Inputs=Inputs, Sample=Sample, Samples=Samples, Error=Error, Health=Health,
        Ready=Ready, Stats=Stats,
        outputs={"predict": Predictions, "score": Scores, "log_likelihood": LogLikelihood})
