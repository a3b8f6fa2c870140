"""``zoo serve``'s configuration and limits: standard library only, so that the command line
can show the defaults without importing the server."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: The environment variable that hands the configuration to uvicorn's worker processes.
CONFIG_ENV = "ZOO_SERVE_CONFIG"
MAX_BATCH = 1024
MAX_SAMPLES = 256
MAX_WAIT_MS = 2.0
MAX_BODY_BYTES = 16 * 2**20
GRACEFUL_SHUTDOWN_S = 10


@dataclass(frozen=True)
class ServeConfig:
    """What ``zoo serve`` was asked for; JSON in :data:`CONFIG_ENV` for worker processes."""

    package: str
    runtime: str = "eager"
    token: str | None = None
    max_batch: int = MAX_BATCH
    max_wait_ms: float = MAX_WAIT_MS
    max_samples: int = MAX_SAMPLES
    max_body_bytes: int = MAX_BODY_BYTES

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        return cls(**json.loads(text))
