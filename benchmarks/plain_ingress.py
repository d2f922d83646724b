"""The intake ceiling: Clinisight's ingress app under plain uvicorn, outside Ray Serve.

    .venv/bin/python benchmarks/plain_ingress.py --port 8100

Serves ``serve.ingress.app`` (the same FastAPI app, middleware, routes and stores the Serve
ingress replica runs, set up by the same ``serve.ingress.init_context``) in one uvicorn process,
with settings from the environment like every Clinisight process. There is no orchestrator here,
so ``dispatch_on_accept`` must be off: events are recorded and acknowledged exactly as the Serve
ingress does, and left for a re-drive. ``benchmarks/intake_bench.py`` starts it beside the stack
to measure what the handler costs without Serve's HTTP path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402

from config.settings import Settings  # noqa: E402
from serve.devkeys import ensure_dev_keys  # noqa: E402
from serve.ingress import app, init_context  # noqa: E402
from serve.observability import init_observability  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = ensure_dev_keys(Settings())  # the keys `clinisight up` made in the data dir
    if settings.dispatch_on_accept:
        sys.exit("set CLINISIGHT_DISPATCH_ON_ACCEPT=false: there is no orchestrator here")
    init_observability(settings, "plain-ingress")
    init_context(settings, None, {})
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
