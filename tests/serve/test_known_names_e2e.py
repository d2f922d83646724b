"""Known names on the real stack: `clinisight phi add-names` from a registry CSV, then a reindex
(a Ray job in its own process) and MindMesh ask: the tenant's registered name never reaches the
embeddings or the answer, another tenant's text is left as it was, and the table holds digests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from store.dynamo import make_client
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack

# Made up, lower-case and with no cue: only the tenant's registry makes it a name.
TEXT = ("Escalations for the billing export go to quenby marsk until the vendor fix lands. "
        "Retries run every ten minutes from the integration queue.")


def export(root: Path) -> Path:
    folder = root / "770001"
    folder.mkdir(parents=True)
    (folder / "page.v2.json").write_text(json.dumps({
        "id": "770001", "title": "Billing export escalations", "status": "current",
        "version": {"number": 1},
        "body": {"storage": {"representation": "storage",
                             "value": f"<h2>Escalations</h2><p>{TEXT}</p>"}},
        "_links": {"webui": "/spaces/KN/pages/770001/Billing", "base": "https://x.atlassian.net"},
    }))
    # Who may read the export's pages (embeddings.confluence_access): anyone, here.
    (root / "permissions.json").write_text(json.dumps({"spaces": {"KN": {"results": [
        {"principal": {"type": "role", "id": "ANONYMOUS"},
         "operation": {"key": "read", "targetType": "space"}}]}}}))
    return root


def passages(stack: Stack, tenant: str, source: Path) -> str:
    code, out = stack.cli("reindex", "--tenant", tenant, "--space", "KN", "--source",
                          str(source), "--quiet", timeout=600)
    assert code == 0 and out["embedded"] == 1, out
    resp = stack.client.post(f"/v1/tenants/{tenant}/ask",
                             json={"question": "Who takes billing export escalations?", "k": 5},
                             headers=stack.bearer(tenant))
    assert resp.status_code == 200, resp.text
    found = resp.json()["passages"]
    assert found, resp.json()
    return " ".join(p["text"] for p in found) + " " + str(resp.json()["answer"])


def test_registered_names_stay_out_of_the_tenants_index(stack: Stack, tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text("MRN,First Name,Middle Name,Last Name\n"
                        "00482193,Quenby,,Marsk\n"
                        "00482194,Ysolde,Anne,Tarnwick\n")
    code, out = stack.cli("phi", "add-names", "--tenant", "kn-a", str(registry))
    assert code == 0, out
    assert out == {"added": 3, "total": 3}  # Ysolde Anne Tarnwick and Ysolde Tarnwick
    code, again = stack.cli("phi", "add-names", "--tenant", "kn-a", str(registry))
    assert (code, again) == (0, {"added": 0, "total": 3})

    source = export(tmp_path / "export")
    seen_by_a = passages(stack, "kn-a", source)
    assert "[NAME]" in seen_by_a and "marsk" not in seen_by_a.casefold()
    seen_by_b = passages(stack, "kn-b", source)
    assert "quenby marsk" in seen_by_b  # kn-b registered nothing

    table = make_client(stack.settings.model_copy(update={
        "dynamodb_endpoint": f"http://127.0.0.1:{stack.settings.dynamodb_local_port}"}))
    items = table.scan(TableName=stack.settings.table("PhiNames"))["Items"]
    assert len(items) == 4  # three digests and the version
    dump = json.dumps(items).casefold()
    assert not any(part in dump for part in ("quenby", "marsk", "ysolde", "tarnwick"))


def test_add_names_fails_with_json_on_a_bad_file(stack: Stack, tmp_path: Path) -> None:
    headerless = tmp_path / "export.csv"
    headerless.write_text("Quenby Marsk,00482193\n")
    code, out = stack.cli("phi", "add-names", "--tenant", "kn-c", str(headerless))
    assert code == 1 and "no name column" in out["error"]
    assert "Quenby" not in out["error"]  # the first row could be a name
    code, out = stack.cli("phi", "add-names", "--tenant", "kn-c", str(tmp_path / "missing"))
    assert code == 1 and out["error"]
