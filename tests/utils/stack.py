"""The real local stack (dynalite, Ray, Serve) started through the CLI, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from config.settings import Settings
from serve.auth import sign_jira_body
from serve.devkeys import ensure_dev_keys, jira_secret, mint_fit
from serve.stack import pid_file
from tests.utils.servers import free_port

CLI = [str(Path(sys.executable).with_name("clinisight"))]


class Stack:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CLINISIGHT_",
                                                                         "ANTHROPIC_"))},
            "CLINISIGHT_DATA_DIR": str(data_dir),
            "CLINISIGHT_HTTP_PORT": str(free_port()),
            "CLINISIGHT_DYNAMODB_LOCAL_PORT": str(free_port()),
            "CLINISIGHT_EVENT_LEASE_S": "3",
            "CLINISIGHT_REDRIVE_INTERVAL_S": "1",
            "CLINISIGHT_METRICS_PORT": str(free_port()),
            # Ray Serve holds a stopping Ingress replica for a minimum draining period (30 s by
            # default, even with no request in flight) so that load balancers can deregister
            # it. Nothing balances in front of a test stack, and every `down` paid those 30 s;
            # in-flight requests are still drained (Serve waits for them regardless).
            "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0",
            **env,
        }
        self.settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            http_port=int(self.env["CLINISIGHT_HTTP_PORT"]),
            dynamodb_local_port=int(self.env["CLINISIGHT_DYNAMODB_LOCAL_PORT"]),
            metrics_port=int(self.env["CLINISIGHT_METRICS_PORT"]),
            anthropic_api_key=None,
        )
        self.client = httpx.Client(base_url=self.settings.http_url, timeout=30.0)
        self.startup_seconds = 0.0

    def cli(self, *args: str, timeout: float = 300) -> tuple[int, Any]:
        proc = subprocess.run([*CLI, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        try:
            return proc.returncode, json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise AssertionError(
                f"CLI printed no JSON: {proc.stdout!r} {proc.stderr!r}"
            ) from None

    def close(self) -> None:
        self.client.close()

    def log_files(self) -> list[Path]:
        """Every log file of this stack: its own folder (not dynamodb/: that is the database)
        and its Ray session's, as the supervisor recorded it at start; no other run's."""
        ray_logs = Path(json.loads(pid_file(self.settings).read_text())["rayLogs"])
        return [p for folder in (self.settings.data_dir / "logs", ray_logs)
                for p in folder.rglob("*") if p.is_file()]

    def up(self) -> dict[str, Any]:
        code, out = self.cli("up")
        assert code == 0, out
        return dict(out)

    def down(self) -> dict[str, Any]:
        self.client.close()
        self.client = httpx.Client(base_url=self.settings.http_url, timeout=30.0)
        code, out = self.cli("down")
        assert code == 0, out
        return dict(out)

    # -- requests -----------------------------------------------------------------------------

    def token(self, tenant: str = "dev", **claims: Any) -> str:
        return mint_fit(ensure_dev_keys(self.settings), tenant, **claims)

    def bearer(self, tenant: str = "dev", **claims: Any) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(tenant, **claims)}"}

    def post_forge(self, payload: dict[str, Any] | bytes, tenant: str = "dev",
                   headers: dict[str, str] | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.client.post("/v1/forge/events", content=body,
                                headers={**self.bearer(tenant), **(headers or {})})

    def post_jira(self, payload: dict[str, Any] | bytes, tenant: str = "dev",
                  headers: dict[str, str] | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sig = sign_jira_body(body, jira_secret(self.settings, tenant))
        return self.client.post("/v1/jira/webhooks", params={"tenant": tenant}, content=body,
                                headers={"x-hub-signature": sig, **(headers or {})})

    def event(self, event_id: str, tenant: str = "dev") -> dict[str, Any]:
        resp = self.client.get(f"/v1/events/{event_id}", headers=self.bearer(tenant))
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def wait_final(self, event_id: str, tenant: str = "dev", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            ev = self.event(event_id, tenant)
            if ev["status"] in {"done", "failed", "ignored"}:
                return ev
            if time.monotonic() > deadline:
                raise AssertionError(f"event {event_id} still {ev['status']} after {timeout}s")
            time.sleep(0.3)

    def state(self, agent: str, tenant: str = "dev") -> dict[str, Any]:
        resp = self.client.get(f"/v1/tenants/{tenant}/agents/{agent}/state",
                               headers=self.bearer(tenant))
        assert resp.status_code == 200, resp.text
        return dict(resp.json())
