"""``clinisight_events_total`` for event deliveries the ingress refused.

Accepted, duplicate and ignored deliveries are counted where the event log answers
(``serve.routes.events.accept``). A refusal can come from anywhere before that (the token or
signature, the body limit, validation, the rate limit, the store, the audit trail turning an
answer into a 503), so it is counted here, from the status that actually left, as
``rejected_<status>``. The tenant is the authenticated caller's, or ``unauthenticated``: a
tenant named by an unverified request is never a label.
"""

from __future__ import annotations

import metrics
from serve.audit import ASGIApp, Message, Receive, Scope, Send, caller_of

# Intake routes -> the event source they receive.
SOURCES = {"/v1/forge/events": "forge", "/v1/jira/webhooks": "jira"}


class IntakeMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = SOURCES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if source is None:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
                if message["status"] >= 400:
                    _rejected(scope, source, int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not status:  # Starlette's outermost error middleware answers 500
                _rejected(scope, source, 500)
            raise


def _rejected(scope: Scope, source: str, status: int) -> None:
    caller = caller_of(scope)
    metrics.inc("clinisight_events_total", tenant=caller.tenant if caller else "unauthenticated",
                source=source, status=f"rejected_{status}")
