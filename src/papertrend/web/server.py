"""Serving the app with uvicorn: one process, or `workers` processes sharing the port (#11).

The periodic jobs are not started here: the CLI's `serve` command starts them beside the server.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.web.app import create_app

log = logging.getLogger("papertrend.web")

WORKER_HEALTHCHECK_SECONDS = 60


def run_server(
    settings: Settings, *, engine: Engine, host: str = "127.0.0.1", port: int = 8000, workers: int = 1
) -> None:
    """Serve the app until interrupted; this process's app takes ownership of `engine`.

    With `workers` > 1, uvicorn forks that many web processes sharing the port (one Python process
    uses one core for pages); each builds its own app and engine from the environment.
    """
    import uvicorn

    log.info(
        "serve",
        extra={"url": f"http://{host}:{port}", "database": engine.url.render_as_string(), "workers": workers},
    )
    # Our middleware writes the access log (one line per request, JSON when asked); uvicorn's
    # would repeat it in another format. log_config=None keeps our handlers.
    options: dict[str, Any] = {"log_config": None, "access_log": False, "proxy_headers": True}
    if workers > 1:
        # Each process builds its app from the same environment the settings came from. uvicorn's
        # supervisor kills and restarts a worker that leaves its ping unanswered for
        # WORKER_HEALTHCHECK_SECONDS (5 by default): on 2 busy cores (load 20-28) with 50 searches
        # in flight, bench/web.py saw one worker restarted 5 times in 2 minutes, each restart paying
        # the model, the index and the vocabulary again; a minute only catches a truly hung one.
        uvicorn.run(
            "papertrend.web.app:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
            host=host,
            port=port,
            **options,
        )
        return
    app = create_app(settings, engine=engine)
    app.state.papertrend.owns_engine = True
    uvicorn.run(app, host=host, port=port, **options)
