"""The local stack: dynalite (unless DynamoDB is configured), a local Ray, the Serve app.

``run_foreground`` starts everything in this process (its children are ours), blocks until
SIGINT/SIGTERM, then stops exactly what it started. ``clinisight up`` runs it as a detached
supervisor and ``clinisight down`` signals that supervisor by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from config.settings import Settings
from serve.devkeys import ensure_dev_keys
from serve.observability import init_observability
from store.dynamo import ensure_tables, make_client

REPO = Path(__file__).resolve().parents[1]


def run_dir(settings: Settings) -> Path:
    return settings.data_dir / "run"


def pid_file(settings: Settings) -> Path:
    return run_dir(settings) / "stack.json"


def dynalite_command() -> list[str]:
    """The command that runs dynalite: through ``serve/dynalite.js``, which keeps it up when a
    client dies mid-request (see there), when it is installed in the repository (``npm ci``);
    else a ``dynalite`` on the PATH as it is."""
    if (REPO / "node_modules" / "dynalite" / "cli.js").exists():
        node = shutil.which("node")
        if not node:
            raise RuntimeError("node is not on the PATH: dynalite needs Node.js")
        return [node, str(REPO / "serve" / "dynalite.js")]
    found = shutil.which("dynalite")
    if not found:
        raise RuntimeError("dynalite is not installed: run `npm ci` in the repository root")
    return [found]


def _wait_port(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s")


def wait_healthy(url: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            resp = httpx.get(f"{url}/healthz", timeout=5.0)
            last = resp.json()
            if resp.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url}/healthz not green within {timeout_s}s (last: {last})")


class LocalStack:
    def __init__(self, settings: Settings) -> None:
        self.requested = settings
        self.settings = settings
        self.dynalite: subprocess.Popen[bytes] | None = None
        self.ray_started = False
        self.ray_logs: str | None = None

    def start(self, health_timeout_s: float = 180.0) -> dict[str, Any]:
        settings = self.requested
        init_observability(settings, "supervisor")
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "logs").mkdir(exist_ok=True)
        settings = ensure_dev_keys(settings)
        if settings.needs_local_dynamodb:
            settings = self._start_dynalite(settings)
        ensure_tables(make_client(settings), settings)
        self.settings = settings
        metrics_url = self._start_serve(settings)
        _record(settings, metrics=metrics_url)
        health = wait_healthy(settings.http_url, health_timeout_s)
        return {"url": settings.http_url, "dynamodb": settings.dynamodb_endpoint,
                "metrics": metrics_url, "rayLogs": self.ray_logs, "health": health}

    def _start_dynalite(self, settings: Settings) -> Settings:
        path = settings.data_dir / "dynamodb"
        path.mkdir(parents=True, exist_ok=True)
        port = settings.dynamodb_local_port
        log = open(settings.data_dir / "logs" / "dynalite.log", "ab")  # noqa: SIM115
        self.dynalite = subprocess.Popen(
            [*dynalite_command(), "--host", "127.0.0.1", "--port", str(port), "--path", str(path),
             "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C on `make run` reaches the supervisor, which stops the
            # database last, after Serve has drained, instead of killing it first.
            start_new_session=True,
        )
        _record(settings, dynalitePid=self.dynalite.pid)
        url = f"http://127.0.0.1:{port}"
        _wait_port(url, 30)
        if self.dynalite.poll() is not None:
            raise RuntimeError(f"dynalite exited at start (is port {port} taken?)")
        return settings.model_copy(update={"dynamodb_endpoint": url})

    def _start_serve(self, settings: Settings) -> str:
        """Start Ray and the application; answer the URL of the node's metrics endpoint."""
        if settings.serve_throughput_optimized:
            # Read by every Serve process when it imports Ray Serve: set before this process
            # imports it and before Ray starts the others (they inherit this environment),
            # never over a value the operator gave.
            os.environ.setdefault("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")
            # That mode also holds each replica's log records in memory until 1,000 have
            # gathered (Ray 2.60, RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE), so an idle replica's
            # lines never reach its file and a crash loses them. An operator reads logs as they
            # are written; one record at a time is Serve's own default.
            os.environ.setdefault("RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE", "1")
        import ray
        from ray import serve

        from serve.app import build_app

        context = ray.init(
            address="local",
            num_cpus=max(2, os.cpu_count() or 2),
            include_dashboard=False,
            object_store_memory=300 * 1024 * 1024,
            log_to_driver=False,
            configure_logging=False,
            # Ray's metrics agent serves Serve's metrics and ours (package ``metrics``) here,
            # in Prometheus format.
            _metrics_export_port=settings.metrics_port,
        )
        self.ray_started = True
        # ray.init answers a RayContext here (a local node); its declared type also covers Ray
        # Client's context, which has no session folder.
        session_dir = context.address_info["session_dir"]  # type: ignore[attr-defined]
        self.ray_logs = str(Path(session_dir) / "logs")
        _record(settings, rayLogs=self.ray_logs)
        serve.start(http_options={"host": settings.http_host, "port": settings.http_port})
        serve.run(build_app(settings), name="clinisight", route_prefix="/", blocking=False)
        return f"http://127.0.0.1:{settings.metrics_port}/metrics"

    def stop(self) -> None:
        if self.ray_started:
            import ray
            from ray import serve

            try:
                serve.shutdown()
            finally:
                ray.shutdown()
                self.ray_started = False
        if self.dynalite is not None and self.dynalite.poll() is None:
            self.dynalite.terminate()
            try:
                self.dynalite.wait(10)
            except subprocess.TimeoutExpired:
                self.dynalite.kill()
        self.dynalite = None


def _record(settings: Settings, **fields: Any) -> None:
    """Merge ``fields`` into the pid file that `up`, `down` and `status` read.

    Written whole to a temporary file and renamed over it: `up` polls the file while the
    supervisor records, and a file rewritten in place can be read empty or half written.
    """
    path = pid_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(json.dumps({**current, **fields}))
    os.replace(partial, path)


def run_foreground(settings: Settings, announce: bool = True) -> int:
    """Start the stack, print where it is, serve until a signal, stop what was started."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    def install_handlers() -> None:
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

    install_handlers()
    stack = LocalStack(settings)
    pidf = pid_file(settings)
    pidf.unlink(missing_ok=True)
    _record(settings, pid=os.getpid(), url=settings.http_url, ready=False)
    try:
        info = stack.start()
        # ray.init installs its own fatal-signal handlers (SIGTERM would kill this process
        # without cleanup); put ours back so a signal stops the stack in order.
        install_handlers()
        _record(settings, ready=True)
        if announce:
            print(json.dumps({"status": "up", "pid": os.getpid(), **info}), flush=True)
        while not stop.wait(0.5):
            pass
    except Exception as exc:
        print(json.dumps({"status": "error", "error": f"{type(exc).__name__}: {exc}"}),
              flush=True)
        return 1
    finally:
        stack.stop()
        pidf.unlink(missing_ok=True)
    if announce:
        print(json.dumps({"status": "down"}), flush=True)
    return 0


def main() -> None:
    """Entry point of the detached supervisor that ``clinisight up`` starts."""
    sys.exit(run_foreground(Settings()))


if __name__ == "__main__":
    main()
