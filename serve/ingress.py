"""The HTTP ingress deployment: a FastAPI app on Ray Serve, its routes in ``serve.routes``."""

from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from config.settings import Settings
from serve.audit import AuditMiddleware, install_guard
from serve.auth import FitVerifier, JwksSource
from serve.context import IngressContext, set_context
from serve.errors import install_handlers
from serve.intake_metrics import IntakeMetricsMiddleware
from serve.observability import init_observability
from serve.routes import agents, events, forge_actions, health, jira, mindmesh, phi
from store.factory import open_stores

app = FastAPI(
    title="Clinisight",
    version="0.1.0",
    description="AI agents for healthcare teams on Jira and Confluence.",
)
install_handlers(app)
app.add_middleware(AuditMiddleware)  # request ids and the audit trail
# Outside the audit middleware: it sees the status that left, a 503 of the audit included.
app.add_middleware(IntakeMetricsMiddleware)
for module in (events, agents, mindmesh, phi, forge_actions, health, jira):
    app.include_router(module.router)


# Bounded queues: past max_ongoing_requests a request waits in Serve's queue, and past
# max_queued_requests it is answered 503 at once (the platform delivers again) instead of
# waiting past Forge's 5 s for an answer that comes too late: a delivery answered late is
# retried anyway, so queueing it only adds work (issue 13's collapse at 1,000 connections).
# No per-request access log either: Serve writes one record per request through Python's
# logging, a measurable share of the event loop under a burst; errors are still logged.
@serve.deployment(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=200,
                  max_queued_requests=500, logging_config={"enable_access_log": False})
@serve.ingress(app)
class Ingress:
    def __init__(self, settings: Settings, orchestrator: DeploymentHandle,
                 handles: dict[str, DeploymentHandle]) -> None:
        init_observability(settings, "ingress")
        init_context(settings, orchestrator, handles)


def init_context(settings: Settings, orchestrator: DeploymentHandle | None,
                 handles: dict[str, DeploymentHandle]) -> None:
    """Set up this process's ingress: stores, audit guard, token verifier, secrets.

    The Serve replica calls it; so does the intake benchmark's plain-uvicorn ceiling
    (``benchmarks/plain_ingress.py``), which serves this same ``app`` outside Ray Serve with
    ``orchestrator=None`` and ``dispatch_on_accept`` off.
    """
    stores = open_stores(settings)
    install_guard(settings, stores.client)
    set_context(
        IngressContext(
            settings=settings,
            stores=stores,
            fit=FitVerifier(
                settings.forge_app_id,
                JwksSource(settings.forge_jwks_url, settings.forge_jwks_file,
                           settings.jwks_cache_seconds),
            ),
            jira_secrets={
                t: s.get_secret_value() for t, s in settings.jira_webhook_secrets.items()
            },
            orchestrator=orchestrator,
            handles=handles,
        )
    )
