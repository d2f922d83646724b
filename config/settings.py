"""The one settings object.

Read once (``Settings()``) by the CLI or the application builder and passed down as a typed
argument; nothing else reads ``os.environ``. Ray replicas receive it pickled through ``bind``, so
no module builds settings at import time.

Every field reads ``CLINISIGHT_<NAME>``; a few also read the ecosystem's standard variable
(``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``, ``SENTRY_DSN``, ``AWS_REGION``, …) so existing
tooling keeps working.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
DEV_APP_ID = "ari:cloud:ecosystem::app/clinisight-dev"


def _alias(name: str, *standard: str) -> AliasChoices:
    return AliasChoices(f"CLINISIGHT_{name.upper()}", *standard)


class Settings(BaseSettings):
    """Clinisight configuration; see README "Configuration" for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="CLINISIGHT_", extra="ignore", frozen=True, populate_by_name=True
    )

    stage: str = Field("dev", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    data_dir: Path = Field(Path(".clinisight"))

    # HTTP
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Ingress replicas on a local stack (a cluster sets them in its Serve config). Each is a
    # Python process: one per core serving HTTP is what intake throughput needs (see
    # benchmarks/reports/intake.md).
    ingress_replicas: int = Field(1, ge=1, le=64)
    # Ray Serve's throughput-optimised mode for the local stack (RAY_SERVE_THROUGHPUT_OPTIMIZED:
    # direct ingress, gRPC between Serve processes, user code on the replica's own loop, no
    # per-request log to stderr). Webhook intake measured 55% -> 95% of the same app under plain
    # uvicorn with it (benchmarks/reports/intake.md). An explicit RAY_SERVE_* variable wins.
    serve_throughput_optimized: bool = True
    max_body_bytes: int = Field(1_000_000, gt=0)

    # DynamoDB: no endpoint and no AWS credentials means "start a local dynalite".
    dynamodb_endpoint: str | None = Field(
        None, validation_alias=_alias("dynamodb_endpoint", "AWS_ENDPOINT_URL_DYNAMODB")
    )
    dynamodb_local_port: int = 8001
    aws_region: str = Field(
        "us-east-1", validation_alias=_alias("aws_region", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_access_key_id: SecretStr | None = Field(
        None, validation_alias=_alias("aws_access_key_id", "AWS_ACCESS_KEY_ID")
    )
    aws_secret_access_key: SecretStr | None = Field(
        None, validation_alias=_alias("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY")
    )
    aws_profile: str | None = Field(None, validation_alias=_alias("aws_profile", "AWS_PROFILE"))

    # Data at rest (HIPAA). On AWS (no dynamodb_endpoint) ensure_tables creates tables with
    # deletion protection and point-in-time recovery, and, with a key ARN here, SSE under that
    # customer-managed KMS key (otherwise DynamoDB's default, an AWS-owned key). A local endpoint
    # gets none of it: dynalite ignores the fields and has no UpdateContinuousBackups.
    kms_key_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
    # Raw event payloads carry PHI: the sweeper removes a payload this long after its event
    # finished (checking every event_payload_purge_interval_s) and keeps the event's metadata.
    event_payload_retention_days: float = Field(30.0, ge=0)
    event_payload_purge_interval_s: float = Field(3600.0, gt=0)
    # The sweeper publishes every tenant's audit chain head to ClinisightAuditAnchors this often
    # (jittered): removing the newest audit entries is detected back to the last anchor.
    audit_anchor_interval_s: float = Field(300.0, gt=0)

    # Forge Invocation Tokens
    forge_app_id: str = DEV_APP_ID
    forge_jwks_url: str | None = None
    forge_jwks_file: Path | None = None
    jwks_cache_seconds: int = 600

    # Classic Jira webhooks: tenant -> HMAC secret (JSON in the environment).
    jira_webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    # Claude
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("anthropic_api_key", "ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=_alias("anthropic_base_url", "ANTHROPIC_BASE_URL")
    )
    anthropic_model: str = "claude-sonnet-5-5"
    anthropic_max_tokens: int = 4096
    anthropic_timeout_s: float = 60.0
    anthropic_max_retries: int = 4

    # Per-tenant known names (compliance.known_names, store.known_names): the key of the names'
    # digests (at least 32 characters, checked where it is used since a pydantic error would
    # quote it; dev mode generates one under <data_dir>/dev-keys), and how often each process
    # re-checks a tenant's registry. A check is one GetItem per tenant; the names are read
    # again only when they changed. The process that accepted new names sees them at once,
    # the others within this interval.
    phi_names_key: SecretStr | None = None
    phi_names_refresh_s: float = Field(60.0, ge=0)
    # Provider names (after Dr., NP, RN ...) stay readable by default: HIPAA's Safe Harbor list
    # names patients, relatives, household members and employers, and the agents route and
    # assign work by clinicians' names. True redacts them as well.
    phi_redact_provider_names: bool = False

    # Sentry
    sentry_dsn: str | None = Field(None, validation_alias=_alias("sentry_dsn", "SENTRY_DSN"))
    sentry_traces_sample_rate: float = Field(0.0, ge=0.0, le=1.0)

    # Product metrics (package ``metrics``), exported by Ray's metrics agent in Prometheus
    # format. metrics_port: where the local stack's node exports them (printed by `clinisight
    # up`); a cluster's nodes are found through Ray's service discovery file (README
    # "Operating"). metrics_enabled off records nothing (the benchmarks' comparison). The
    # orchestrator counts each tenant's backlog every metrics_backlog_interval_s.
    metrics_enabled: bool = True
    metrics_port: int = Field(8090, ge=1, le=65535)
    metrics_backlog_interval_s: float = Field(15.0, gt=0)

    # Per-tenant rate limit, checked right after authentication: a token bucket refilled at
    # rate_limit_per_s up to rate_limit_burst, kept in each ingress replica (so the cluster's
    # limit is this times the number of ingress replicas). 0 turns it off.
    rate_limit_per_s: float = Field(50.0, ge=0.0)
    rate_limit_burst: int = Field(100, ge=1)

    # MindMesh: embedding, index partitions, reindex
    embed_backend: str = Field("auto", pattern=r"^(auto|torch|onnx-int8)$")
    model_cache_dir: Path | None = None  # exported ONNX models; default <data_dir>/models
    embed_threads: int = Field(2, ge=1)
    embed_actor_cpus: float = Field(0.5, gt=0)
    # Texts per Ray Data batch of a reindex. The embedder sorts a batch by length before it
    # cuts model batches of 64, so a larger one pads less: the job's embedding actor spent
    # 15-16% more CPU than one sort over all texts with 64 or 256, 6% with 1024
    # (benchmarks/reindex_bench.py, CPU seconds per process).
    embed_batch_size: int = Field(1024, ge=1)
    chunk_max_chars: int = Field(600, ge=100)
    chunk_overlap: int = Field(80, ge=0)
    index_partitions: int = Field(2, ge=1, le=64)
    index_memory_budget_mb: int = Field(1024, ge=16)
    # A running reindex snapshots the shard this often (and less often when snapshots grow
    # costly: embeddings.snapshot_policy), and once at its end.
    reindex_snapshot_interval_s: float = Field(30.0, ge=0)
    confluence_email: str | None = None
    confluence_api_token: SecretStr | None = None
    confluence_api: str = Field("v2", pattern=r"^v[12]$")
    # Where a reindex reads (serve.sources): a tenant's Confluence site for API-token
    # deployments, as JSON ({"acme": "https://acme.atlassian.net"}); Forge calls use the site
    # the platform signed instead. Never the request body: a caller could name another
    # tenant's site or an internal address.
    confluence_sites: dict[str, str] = Field(default_factory=dict)
    # Export folders a reindex may read (dev mode only; default the data dir).
    export_root: Path | None = None
    # MindMesh access (issue #14): a reader's Confluence groups are kept this long (a removal
    # from a group takes effect within it); every indexed space's permissions are read again
    # this often, catching what page events missed (Onyx syncs every 30 min too).
    access_group_ttl_s: float = Field(600.0, ge=0)
    access_resync_interval_s: float = Field(1800.0, gt=0)

    # Event processing. dispatch_on_accept: the orchestrator processes each event as soon as
    # its drainer has moved it from the intake inbox into the event log; False leaves drained
    # events in the event log for the re-drive to pull, which the intake benchmark uses to
    # measure acceptance alone.
    dispatch_on_accept: bool = True
    event_lease_s: float = Field(120.0, gt=0)
    redrive_interval_s: float = Field(30.0, gt=0)
    # Intake by group commit (serve.group_commit): each ingress process gathers accepted
    # deliveries into batches of at most intake_batch_max (DynamoDB's BatchWriteItem takes 25)
    # or intake_batch_wait_ms of waiting, with up to intake_flushes_in_flight batches being
    # written at once, and answers each 202 once its batch is durable in the inbox. BatchWriteItem
    # costs about 0.07 ms of client CPU per item against 0.38 ms for one PutItem (issue 13).
    intake_batch_max: int = Field(25, ge=1, le=25)
    intake_batch_wait_ms: float = Field(2.0, ge=0, le=100)
    intake_flushes_in_flight: int = Field(4, ge=1, le=64)
    # The drainer (serve.drainer, in the orchestrator) moves up to drain_batch deliveries a
    # pass from the inbox to the event log and the audit trail, and looks again after
    # drain_idle_s when the inbox was empty. process_concurrency events are processed at once,
    # taken from the tenants in turn (one tenant's burst does not starve the others).
    drain_batch: int = Field(200, ge=1, le=1000)
    drain_idle_s: float = Field(0.05, gt=0)
    process_concurrency: int = Field(4, ge=1, le=256)
    # Intake first: the orchestrator and the agent replicas lower their own CPU priority by
    # this much (os.nice), so on a node that also serves HTTP, acknowledging a burst goes
    # before processing it; the backlog drains once the burst is over. 0 leaves it alone.
    processing_nice: int = Field(10, ge=0, le=19)

    # CareTrack's scheduled sweep (the seed's EventBridge rule, run inside the cluster).
    caretrack_sweep_interval_s: float = Field(900.0, gt=0)

    # Jira write-back. Forge calls carry the app's system token (x-forge-oauth-system) and go
    # through Atlassian's API gateway at <atlassian_api_url>/ex/jira/<cloudId>; without one, a
    # site URL with an API token (basic auth with the account's email) is used.
    atlassian_api_url: str = "https://api.atlassian.com"
    jira_base_url: str | None = None
    jira_email: str | None = None
    jira_api_token: SecretStr | None = None
    jira_tenant: str | None = None  # the one tenant the API token may act for (unset: any)
    jira_child_issue_type: str = "Task"
    jira_timeout_s: float = Field(20.0, gt=0)
    jira_max_retries: int = Field(4, ge=0)

    # Jira backfill and reconciliation (serve.jira_sync). The backfill pages through
    # jira_backfill_jql with enhanced search, jira_page_size issues a page (Jira's cap with
    # fields is 100), and hands the agents jira_apply_batch issues at a time (each agent
    # writes its state once per batch: fewer, larger writes; a 10,000-issue backfill ran at
    # 191 issues/s with 250 a batch and 383-444 with 1000, benchmarks/backfill_bench.py,
    # CareTrack's whole mirror being read and written per batch). The sweep asks each tenant, on
    # its own schedule every jira_sync_interval_s (times 1 ± jira_sync_jitter), for issues
    # updated since its last sweep began, minus jira_sync_overlap_s. Field ids are re-read from
    # /rest/api/3/field when older than jira_fields_refresh_s; jira_fields overrides them per
    # tenant ({"acme": {"storyPoints": "customfield_10028"}}; roles: storyPoints, sprint,
    # epicLink, startDate, dueDate, team).
    jira_backfill_jql: str = Field(
        "statusCategory != Done OR updated >= -90d ORDER BY created ASC", min_length=1,
        max_length=2000)
    jira_page_size: int = Field(100, ge=1, le=100)
    jira_apply_batch: int = Field(1000, ge=1, le=10_000)
    jira_sync_interval_s: float = Field(3600.0, gt=0)
    jira_sync_jitter: float = Field(0.1, ge=0, lt=1)
    jira_sync_overlap_s: float = Field(900.0, ge=0)
    jira_fields_refresh_s: float = Field(86_400.0, gt=0)
    jira_fields: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("data_dir", "forge_jwks_file", "model_cache_dir", "export_root")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Ray replicas run with another working directory: resolve relative paths here, once.
        return value.expanduser().resolve() if value is not None else None

    @field_validator("confluence_sites")
    @classmethod
    def _sites_valid(cls, value: dict[str, str]) -> dict[str, str]:
        for tenant, site in value.items():
            if not TENANT_RE.match(tenant):
                raise ValueError(f"invalid tenant id {tenant!r} in confluence_sites")
            if not site.startswith("https://"):
                raise ValueError(f"confluence_sites[{tenant!r}] must be an https URL")
        return value

    @field_validator("jira_fields")
    @classmethod
    def _fields_valid(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        roles = {"storyPoints", "sprint", "epicLink", "startDate", "dueDate", "team"}
        for tenant, fields in value.items():
            if not TENANT_RE.match(tenant):
                raise ValueError(f"invalid tenant id {tenant!r} in jira_fields")
            for role, fid in fields.items():
                if role not in roles:
                    raise ValueError(f"jira_fields[{tenant!r}]: unknown role {role!r}; "
                                     f"roles: {', '.join(sorted(roles))}")
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", fid):
                    raise ValueError(f"jira_fields[{tenant!r}][{role!r}]: {fid!r} is not a "
                                     "field id (e.g. customfield_10016)")
        return value

    @field_validator("jira_webhook_secrets")
    @classmethod
    def _tenants_valid(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for tenant in value:
            if not TENANT_RE.match(tenant):
                raise ValueError(f"invalid tenant id {tenant!r} in jira_webhook_secrets")
        return value

    @property
    def dev_mode(self) -> bool:
        """Dev mode: local signing keys, so the CLI can mint tokens. Never with a real JWKS."""
        return self.stage == "dev" and self.forge_jwks_url is None

    @property
    def export_root_dir(self) -> Path | None:
        """The folder export folders must lie in: only in dev mode, the data dir by default."""
        if not self.dev_mode:
            return None
        return self.export_root or self.data_dir

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def uses_aws(self) -> bool:
        return self.aws_access_key_id is not None or self.aws_profile is not None

    @property
    def needs_local_dynamodb(self) -> bool:
        return self.dynamodb_endpoint is None and not self.uses_aws

    def table(self, kind: str) -> str:
        """``table("AgentState")`` → ``ClinisightAgentState-dev``."""
        return f"Clinisight{kind}-{self.stage}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_host}:{self.http_port}"
