"""Every exit of tenant text, each fed seeded PHI: the embedding store, the LLM prompt, log
lines, Sentry (a real envelope over HTTP), the audit trail, the agents' state mirrors. One
redactor (``compliance.phi.redact``) is applied at each; here the PHI must not come out the
other side. And each fails closed when the PHI check fails (``tests.utils.phi``): the text does
not leave unredacted, and what the exit does instead is visible (``compliance.fail_closed``)."""

from __future__ import annotations

import gzip
import io
import json
import logging
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import sentry_sdk
from pydantic import SecretStr

from agents.base import Agent
from agents.events import AgentEvent, IssueSnapshot
from agents.registry import make_agent
from compliance.fail_closed import FALLBACK_REASON, LOG_NOTICE, WITHHELD
from compliance.log_filter import PhiRedactingFilter
from compliance.phi import PhiCheckFailed, redact
from config.settings import Settings
from embeddings.confluence import FolderSource
from embeddings.egress import SourcePolicy
from embeddings.jobs import JobStore, ReindexProgress
from embeddings.pages import apply_page_event
from embeddings.reindex import ChunkingOptions, EmbedStream, SourceCredentials, reindex_space
from index.manager import ShardManager
from index.snapshot import SnapshotStore
from store.audit_dynamo import DynamoAuditLog
from store.dynamo import DynamoTable, make_client
from store.factory import Stores
from tests.utils.anthropic import tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer, json_reply
from tests.utils.phi import break_phi_check

with warnings.catch_warnings():
    # Importing ray.serve warns (pydantic deprecations inside Ray); not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from serve import observability
    from serve.agent_server import AgentServer

# Seeded PHI: what must never appear at an exit, and the placeholders that replace it.
PATIENT = "Jane Doe"
SSN = "123-45-6789"
MRN = "00482193"
PHONE = "617-555-0123"
PHI_TEXT = (f"Patient {PATIENT}, DOB 03/14/1979, MRN {MRN}, SSN {SSN}, "
            f"call {PHONE} or jane.doe@example.com")
SEEDS = (PATIENT, SSN, MRN, PHONE, "jane.doe@example.com", "03/14/1979")


def assert_clean(text: str) -> None:
    leaked = [s for s in SEEDS if s in text]
    assert not leaked, f"PHI leaked: {leaked}"


def test_the_seed_is_phi_to_the_redactor() -> None:
    redacted = redact(PHI_TEXT)
    assert_clean(redacted)
    assert {"[NAME]", "[SSN]", "[MRN]", "[PHONE]", "[EMAIL]", "[DATE]"} <= {
        p for p in ("[NAME]", "[SSN]", "[MRN]", "[PHONE]", "[EMAIL]", "[DATE]") if p in redacted}


# -- 1. text before embedding ------------------------------------------------------------------

def page_export(root: Path) -> Path:
    folder = root / "900001"
    folder.mkdir(parents=True)
    (folder / "page.v2.json").write_text(json.dumps({
        "id": "900001", "title": f"Intake for patient {PATIENT}", "status": "current",
        "version": {"number": 1},
        "body": {"storage": {"representation": "storage",
                             "value": f"<h2>Intake</h2><p>{PHI_TEXT}</p>"}},
        "_links": {"webui": "/spaces/QM/pages/900001/Intake", "base": "https://x.atlassian.net"},
    }))
    return root


def unit_vectors(into: list[str]) -> EmbedStream:
    """An embedding stream that keeps what would reach the model and answers unit vectors."""

    def stream(texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        into.extend(texts)
        unit = np.full((len(texts), 384), 1 / np.sqrt(384), np.float32)  # L2-normalised
        yield np.arange(len(texts)), unit

    return stream


def embeddings_table(settings: Settings) -> DynamoTable:
    return DynamoTable(make_client(settings), settings.table("Embeddings"),
                       ThreadPoolExecutor(max_workers=4))


async def stored_items(table: DynamoTable, tenant: str) -> str:
    return json.dumps(list(await table.query("tenantId = :t", {":t": tenant})), default=str)


async def test_text_is_redacted_before_it_is_embedded(settings: Settings, stores: Stores,
                                                      tmp_path: Path) -> None:
    embedded: list[str] = []
    stream = unit_vectors(embedded)
    table = embeddings_table(settings)
    writer = ShardManager(SnapshotStore(table))
    export = page_export(tmp_path / "export")
    progress = ReindexProgress(job_id="rx-phi", tenant="t1", space="QM", source=str(export))
    embed_stream: EmbedStream = stream
    done = await reindex_space(progress, source=FolderSource(export), jobs=JobStore(stores.state),
                               writer=writer, embed_stream=embed_stream, redact=redact,
                               chunking=ChunkingOptions(600, 80))
    assert done.status == "succeeded" and done.embedded == 1
    assert embedded and "[SSN]" in " ".join(embedded)
    assert_clean(" ".join(embedded))
    # What the index keeps (and snapshots to DynamoDB) is the redacted text too.
    assert_clean(await stored_items(table, "t1"))


async def test_a_page_whose_phi_check_fails_is_reported_failed_and_redone_later(
    settings: Settings, stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    table = embeddings_table(settings)
    writer = ShardManager(SnapshotStore(table))
    export = page_export(tmp_path / "export")
    jobs = JobStore(stores.state)

    async def run(job_id: str) -> ReindexProgress:
        return await reindex_space(
            ReindexProgress(job_id=job_id, tenant="t1", space="QM", source=str(export)),
            source=FolderSource(export), jobs=jobs, writer=writer,
            embed_stream=unit_vectors(embedded), redact=redact,
            chunking=ChunkingOptions(600, 80))

    broken = break_phi_check(monkeypatch)
    failed = await run("rx-broken")
    assert broken.checked, "the page never reached the PHI check"
    assert failed.embedded == 0 and failed.failed == 1
    assert failed.failures == [{"pageId": "900001", "error": "PhiCheckFailed"}]
    assert embedded == [], "unchecked text reached the embedding model"
    assert (await jobs.space("t1", "QM")).pages == {}, "a failed page was recorded as indexed"
    reported = await jobs.progress("t1", "rx-broken")
    assert reported is not None and reported.failures == failed.failures
    assert_clean(json.dumps(reported.public()))
    assert_clean(await stored_items(table, "t1"))

    monkeypatch.undo()  # the detector is back: the next run redoes the page
    again = await run("rx-again")
    assert again.embedded == 1 and again.failed == 0 and again.skipped == 0
    assert (await jobs.space("t1", "QM")).pages == {"900001": 1}
    assert embedded and "[SSN]" in " ".join(embedded)
    assert_clean(" ".join(embedded))
    assert_clean(await stored_items(table, "t1"))


async def test_a_page_event_whose_phi_check_fails_fails_naming_only_the_page(
    settings: Settings, stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedded: list[str] = []
    table = embeddings_table(settings)
    writer = ShardManager(SnapshotStore(table))
    export = page_export(tmp_path / "export")
    jobs = JobStore(stores.state)
    await jobs.record_pages("t1", "QM", {}, [], str(export))  # the space was indexed from here

    async def embed(texts: list[str]) -> np.ndarray:
        embedded.extend(texts)
        return np.full((len(texts), 384), 1 / np.sqrt(384), np.float32)

    async def page_updated() -> dict[str, Any]:
        return await apply_page_event(
            "t1", "page_updated", "900001", "QM", 1, jobs=jobs, writer=writer, embed=embed,
            redact=redact, chunking=ChunkingOptions(600, 80), credentials=SourceCredentials(),
            policy=SourcePolicy(export_root=tmp_path))

    broken = break_phi_check(monkeypatch)
    with pytest.raises(PhiCheckFailed) as failure:  # the orchestrator re-drives the event
        await page_updated()
    assert broken.checked
    assert "900001" in str(failure.value)
    assert_clean(str(failure.value))
    assert embedded == []
    assert (await jobs.space("t1", "QM")).pages == {}
    assert_clean(await stored_items(table, "t1"))

    monkeypatch.undo()
    done = await page_updated()  # the re-drive, with the detector back
    assert done["action"] == "indexed" and done["chunks"] >= 1
    assert (await jobs.space("t1", "QM")).pages == {"900001": 1}
    assert embedded and "[SSN]" in " ".join(embedded)
    assert_clean(" ".join(embedded))
    assert_clean(await stored_items(table, "t1"))


# -- 2. every LLM prompt ------------------------------------------------------------------------

async def test_llm_prompts_are_redacted(settings: Settings, stores: Stores) -> None:
    from agents.tasksmith_models import EpicIn
    from agents.tasksmith_offline import plan_epic

    plan = plan_epic(EpicIn(key="CARE-1", id="1", summary="Intake", description="* Form"))
    replies = [tool_use_reply("propose_subtasks", plan.model_dump(mode="json", by_alias=True))]

    def respond(_: Recorded) -> Reply:
        return replies[0]

    with ScriptedServer(respond) as server:
        claude = settings.model_copy(update={"anthropic_api_key": SecretStr("sk-test"),
                                             "anthropic_base_url": server.url,
                                             "anthropic_max_retries": 0,
                                             "anthropic_model": "claude-test"})
        agent = make_agent("TaskSmith", claude, stores.state)  # the registry's wiring
        result = await agent.handle_event(AgentEvent(
            tenant="t1", event_id="e1", kind="issue_created", source="jira",
            issue=IssueSnapshot(id="1", key="CARE-1", summary=f"Intake for patient {PATIENT}",
                                description=PHI_TEXT, is_epic=True)))
    assert result["producedBy"].startswith("claude:")
    assert len(server.requests) == 1
    prompt = server.requests[0].body.decode()
    assert "[SSN]" in prompt
    assert_clean(prompt)


async def test_a_prompt_whose_phi_check_fails_is_not_sent(
    settings: Settings, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents.tasksmith_models import EpicIn
    from agents.tasksmith_offline import plan_epic

    plan = plan_epic(EpicIn(key="CARE-1", id="1", summary="Intake", description="* Form"))
    reply = tool_use_reply("propose_subtasks", plan.model_dump(mode="json", by_alias=True))
    broken = break_phi_check(monkeypatch)
    with ScriptedServer(lambda _: reply) as server:
        claude = settings.model_copy(update={"anthropic_api_key": SecretStr("sk-test"),
                                             "anthropic_base_url": server.url,
                                             "anthropic_max_retries": 0,
                                             "anthropic_model": "claude-test"})
        agent = make_agent("TaskSmith", claude, stores.state)
        result = await agent.handle_event(AgentEvent(
            tenant="t1", event_id="e1", kind="issue_created", source="jira",
            issue=IssueSnapshot(id="1", key="CARE-1", summary=f"Intake for patient {PATIENT}",
                                description=PHI_TEXT, is_epic=True)))
    assert server.requests == [], "the prompt reached the Messages API"
    assert any(SSN in text for text in broken.checked), "the prompt was never checked"
    assert result["action"] == "proposed" and result["subtasks"] >= 3
    assert result["producedBy"] == "offline" and result["fallbackReason"] == FALLBACK_REASON
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None
    assert state.data["proposals"][0]["fallbackReason"] == FALLBACK_REASON


# -- 3. structured logs -------------------------------------------------------------------------

@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(patient)s"))
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for f in [f for f in root.filters if isinstance(f, PhiRedactingFilter)]:
            root.removeFilter(f)


def test_log_lines_are_redacted_in_every_process(log_stream: io.StringIO) -> None:
    observability.install_log_redaction()  # what every process calls first
    log = logging.getLogger("clinisight.anything")
    try:
        raise ValueError(f"bad record for SSN {SSN}")
    except ValueError:
        log.error("processing %s failed", PHI_TEXT, exc_info=True,
                  extra={"patient": {"mrn": MRN}})
    out = log_stream.getvalue()
    assert "processing" in out and "[SSN]" in out and "Traceback" in out
    assert_clean(out)


def test_a_log_line_whose_phi_check_fails_is_emitted_as_a_notice(
    log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    observability.install_log_redaction()
    broken = break_phi_check(monkeypatch)
    log = logging.getLogger("clinisight.anything")
    try:
        raise ValueError(f"bad record for SSN {SSN}")
    except ValueError:
        log.error("processing %s failed", PHI_TEXT, exc_info=True,
                  extra={"patient": {"mrn": MRN}})
    out = log_stream.getvalue()
    assert broken.checked
    assert out.startswith(f"ERROR clinisight.anything {LOG_NOTICE} {WITHHELD}\n"), out
    assert "[traceback withheld: PHI check failed]" in out and "Traceback" not in out
    assert out.count(LOG_NOTICE) == 1, "one record logged, one record emitted"
    assert_clean(out)


# -- 4. Sentry events ---------------------------------------------------------------------------

def decode_envelopes(requests: list[Recorded]) -> list[dict[str, Any]]:
    """Sentry envelopes: a JSON header line, then (item header line, payload) pairs."""
    items = []
    for req in requests:
        body = req.body
        encoding = req.headers.get("content-encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        assert encoding in ("", "gzip", "deflate"), encoding
        lines = body.split(b"\n")
        i = 1
        while i + 1 < len(lines) + 1 and i < len(lines) and lines[i].strip():
            header = json.loads(lines[i])
            payload = lines[i + 1]
            items.append({"type": header.get("type"), "payload": json.loads(payload),
                          "raw": payload.decode()})
            i += 2
    return items


class FailingAgent(Agent):
    """An agent whose event handling fails with PHI in the message, as a real bug might."""

    name: ClassVar[str] = "TaskSmith"

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        record = {"patient": PATIENT, "ssn": SSN}
        raise RuntimeError(f"cannot plan for {record['patient']}: SSN {record['ssn']}, "
                           f"call {PHONE}")


@pytest.fixture
def sentry_server() -> Iterator[ScriptedServer]:
    with ScriptedServer(lambda _: json_reply(200, {})) as server:
        try:
            yield server
        finally:
            client = sentry_sdk.get_client()
            client.close(timeout=2)
            sentry_sdk.get_global_scope().set_client(None)
            sentry_sdk.get_isolation_scope().clear()
            observability._sentry_for = None


async def test_an_agent_failure_reaches_sentry_tagged_and_without_phi(
    settings: Settings, sentry_server: ScriptedServer
) -> None:
    port = sentry_server.url.rsplit(":", 1)[1]
    s = settings.model_copy(update={"sentry_dsn": f"http://public@127.0.0.1:{port}/1"})
    server = AgentServer.func_or_class(s, "TaskSmith")  # the deployment's own __init__
    server.agent = FailingAgent(server.stores.state)
    event = AgentEvent(tenant="acme", event_id="e-1", kind="issue_created", source="jira",
                       issue=IssueSnapshot(id="1", key="CARE-1", summary=PHI_TEXT,
                                           is_epic=True))
    assert not sentry_sdk.get_client().should_send_default_pii()
    with pytest.raises(RuntimeError):
        await server.handle_event(event.model_dump(mode="json"))
    sentry_sdk.flush(timeout=5)

    assert sentry_server.requests, "no envelope arrived"
    assert all(r.path == "/api/1/envelope/" for r in sentry_server.requests)
    assert "sentry_key=public" in sentry_server.requests[0].headers.get("x-sentry-auth", "")
    events = [i for i in decode_envelopes(sentry_server.requests) if i["type"] == "event"]
    errors = [e["payload"] for e in events if e["payload"].get("exception")]
    assert errors, f"no error event among {[i['type'] for i in events]}"
    error = errors[0]
    assert error["tags"]["tenant"] == "acme" and error["tags"]["agent"] == "TaskSmith"
    assert error["tags"]["component"] == "agent"
    assert error["exception"]["values"][-1]["type"] == "RuntimeError"
    assert "[SSN]" in error["exception"]["values"][-1]["value"]
    assert "user" not in error or "ip_address" not in error.get("user", {})
    for item in events:
        assert_clean(item["raw"])


def wait_for_items(server: ScriptedServer, kind: str, timeout_s: float = 5) -> list[dict[str, Any]]:
    """The envelope items of ``kind`` the server received, polling until one arrives."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [i for i in decode_envelopes(list(server.requests)) if i["type"] == kind]
        if found or time.monotonic() > deadline:
            return found
        sentry_sdk.flush(timeout=1)


async def test_a_sentry_event_whose_phi_check_fails_is_dropped(
    settings: Settings, sentry_server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = sentry_server.url.rsplit(":", 1)[1]
    s = settings.model_copy(update={"sentry_dsn": f"http://public@127.0.0.1:{port}/1"})
    server = AgentServer.func_or_class(s, "TaskSmith")
    server.agent = FailingAgent(server.stores.state)
    event = AgentEvent(tenant="acme", event_id="e-1", kind="issue_created", source="jira",
                       issue=IssueSnapshot(id="1", key="CARE-1", summary=PHI_TEXT,
                                           is_epic=True))
    broken = break_phi_check(monkeypatch)
    with pytest.raises(RuntimeError):
        await server.handle_event(event.model_dump(mode="json"))
    sentry_sdk.flush(timeout=5)

    assert broken.checked, "the event never reached the scrubber"
    # The client report says the error was captured and dropped by before_send (a hook that
    # raised would be counted as "callback_error"): nothing else carried it.
    reports = wait_for_items(sentry_server, "client_report")
    discarded = [d for r in reports for d in r["payload"].get("discarded_events", [])]
    assert {"reason": "before_send", "category": "error", "quantity": 1} in discarded, reports
    items = decode_envelopes(sentry_server.requests)
    assert [i for i in items if i["type"] in ("event", "transaction")] == []
    for item in items:
        assert_clean(item["raw"])


# -- 5. audit entries ---------------------------------------------------------------------------

async def test_audit_entries_are_redacted(settings: Settings) -> None:
    audit = DynamoAuditLog(make_client(settings), settings.table("Audit"), ThreadPoolExecutor(2))
    await audit.append("t1", actor=f"{PATIENT} (patient)", action="event.read",
                       resource=f"/v1/events/{SSN}?mrn={MRN}&phone={PHONE}",
                       request_id="r-1", outcome="ok", status=200)
    [entry] = await audit.entries("t1")
    assert_clean(json.dumps(entry.public()))
    assert (await audit.verify("t1")).ok


async def test_an_audit_field_whose_phi_check_fails_is_withheld_and_appended(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = DynamoAuditLog(make_client(settings), settings.table("Audit"), ThreadPoolExecutor(2))
    broken = break_phi_check(monkeypatch)
    stored = await audit.append("t1", actor=f"{PATIENT} (patient)", action="event.read",
                                resource=f"/v1/events/{SSN}?mrn={MRN}&phone={PHONE}",
                                request_id="r-1", outcome="ok", status=200)
    assert broken.checked
    [entry] = await audit.entries("t1")
    assert entry == stored and entry.status == 200 and entry.seq == 1
    assert entry.actor == WITHHELD and entry.resource == WITHHELD
    assert_clean(json.dumps(entry.public()))
    assert (await audit.verify("t1")).ok  # the withheld marker is what the hash covers


# -- 6. agent state mirrors ---------------------------------------------------------------------

@pytest.mark.parametrize(("agent_name", "mirror"), [
    ("CareTrack", "issues"), ("DealFlow", "backlog"), ("RoadmapSmith", "epics"),
])
async def test_a_mirrored_summary_whose_phi_check_fails_is_withheld(
    settings: Settings, stores: Stores, monkeypatch: pytest.MonkeyPatch, agent_name: str,
    mirror: str
) -> None:
    agent = make_agent(agent_name, settings, stores.state)
    issue = IssueSnapshot(id="1", key="CARE-7", summary=PHI_TEXT, description=PHI_TEXT,
                          is_epic=agent_name == "RoadmapSmith", status="To Do",
                          status_category="To Do", priority="Medium")
    broken = break_phi_check(monkeypatch)
    result = await agent.handle_event(AgentEvent(tenant="t1", event_id="e7",
                                                 kind="issue_created", source="jira",
                                                 issue=issue))
    assert broken.checked
    assert result["action"] in ("evaluated", "tracked"), result  # the event was processed
    state = await stores.state.get("t1", agent_name)
    assert state is not None
    assert state.data[mirror]["CARE-7"]["summary"] == WITHHELD
    assert_clean(json.dumps(state.data))
