"""compliance.sentry_scrub: a realistic event, and a real sentry_sdk client, come out clean."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from compliance.sentry_scrub import before_breadcrumb, before_send, before_send_transaction
from tests.utils.phi import break_phi_check

PHI = [
    "Rupert Haskins",
    "02/17/1953",
    "219-44-7710",
    "00913377",
    "(302) 555-0144",
    "6145550127",
    "r.h@example.com",
    "BQX220019934",
    "Imogen",
]


def make_event() -> dict[str, Any]:
    """Shaped like what sentry_sdk 2.x hands to before_send for a logged exception."""
    return {
        "event_id": "5d0e0c9f3bb64f6c9f1bd2f6b4a3c1aa",
        "timestamp": "2024-05-02T10:14:07.351Z",
        "level": "error",
        "platform": "python",
        "logger": "agents.caretrack",
        "release": "clinisight@0.1.0",
        "logentry": {
            "message": "sweep failed for patient %s",
            "params": ["Rupert Haskins"],
            "formatted": "sweep failed for patient Rupert Haskins",
        },
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "SSN 219-44-7710 does not match MRN 00913377",
                    "module": None,
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "agents/caretrack.py",
                                "function": "sweep",
                                "lineno": 88,
                                "context_line": "    raise ValueError(message)",
                                "vars": {
                                    "message": "'SSN 219-44-7710 does not match MRN 00913377'",
                                    "first_name": "'Imogen'",
                                    "attempt": 2,
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "type": "http",
                    "category": "httplib",
                    "data": {"url": "/api/patients?phone=6145550127", "status_code": 200},
                    "timestamp": "2024-05-02T10:14:06Z",
                },
                {
                    "category": "log",
                    "message": "calling (302) 555-0144 about DOB 02/17/1953",
                    "level": "info",
                },
            ]
        },
        "extra": {"payload": {"note": "email r.h@example.com"}, "tenant": "acme-health"},
        "request": {
            "url": "https://clinisight.example/forge/events",
            "method": "POST",
            "query_string": "phone=6145550127",
            "data": {"summary": "Member ID BQX220019934 denied", "points": 5},
            "headers": {"Content-Type": "application/json"},
        },
        "tags": {"tenant": "acme-health", "patient": "Pt: Rupert Haskins"},
        "user": {"id": "u-17", "email": "r.h@example.com"},
    }


def keys(obj: object) -> list[object]:
    """Every dict key in obj, depth first: the scrubber must keep them all."""
    if isinstance(obj, dict):
        return [k for key, value in obj.items() for k in (key, *keys(value))]
    if isinstance(obj, list):
        return [k for item in obj for k in keys(item)]
    return []


def test_before_send_scrubs_every_part_of_the_event() -> None:
    event = make_event()
    pristine = copy.deepcopy(event)

    scrubbed = before_send(event, {"exc_info": None})

    dumped = json.dumps(scrubbed)
    assert [phi for phi in PHI if phi in dumped] == []
    assert event == pristine  # a new event, the original untouched
    # Keys are kept, but for the log params: a bare "Rupert Haskins" cannot be judged alone.
    assert keys(scrubbed) == [k for k in keys(pristine) if k != "params"]
    assert scrubbed["logentry"] == {
        "message": "sweep failed for patient %s",
        "formatted": "sweep failed for patient [NAME]",
    }
    exception = scrubbed["exception"]["values"][0]
    assert exception["value"] == "SSN [SSN] does not match MRN [MRN]"
    frame_vars = exception["stacktrace"]["frames"][0]["vars"]
    assert frame_vars == {
        "message": "'SSN [SSN] does not match MRN [MRN]'",
        "first_name": "[NAME]",
        "attempt": 2,
    }
    crumbs = scrubbed["breadcrumbs"]["values"]
    assert crumbs[0]["data"]["url"] == "/api/patients?phone=[PHONE]"
    assert crumbs[1]["message"] == "calling [PHONE] about DOB [DATE]"
    assert scrubbed["extra"] == {"payload": {"note": "email [EMAIL]"}, "tenant": "acme-health"}
    assert scrubbed["request"]["data"] == {"summary": "Member ID [MEMBER_ID] denied", "points": 5}
    assert scrubbed["tags"] == {"tenant": "acme-health", "patient": "Pt: [NAME]"}
    # Machine fields pass through as they were.
    for field in ("event_id", "timestamp", "level", "platform", "release"):
        assert scrubbed[field] == pristine[field]


def test_log_params_without_a_rendered_message_are_rendered_then_redacted() -> None:
    event = {"logentry": {"message": "no chart for Pt: %s", "params": ["Rupert Haskins"]}}
    assert before_send(event, None) == {
        "logentry": {"message": "no chart for Pt: %s", "formatted": "no chart for Pt: [NAME]"}
    }


def test_before_breadcrumb_scrubs_the_crumb() -> None:
    crumb = {"category": "query", "message": "SELECT * FROM visits WHERE mrn = '00913377'"}
    assert before_breadcrumb(crumb, None) == {
        "category": "query",
        "message": "SELECT * FROM visits WHERE mrn = '00913377'".replace("00913377", "[MRN]"),
    }


def test_module_imports_without_sentry_sdk() -> None:
    code = (
        "import sys; sys.modules['sentry_sdk'] = None\n"
        "from compliance.sentry_scrub import before_send\n"
        "print(before_send({'message': 'SSN 219-44-7710'}, None)['message'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "SSN [SSN]"


def test_a_real_sentry_client_sends_nothing_but_placeholders() -> None:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    sent: list[dict[str, Any]] = []

    class Capture(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            for item in envelope.items:
                if item.type == "event":
                    sent.append(item.payload.json)

    from compliance import sentry_scrub

    client = sentry_sdk.Client(
        dsn="https://public@sentry.invalid/1",
        transport=Capture,
        default_integrations=False,
        before_send=sentry_scrub.before_send,
        before_breadcrumb=sentry_scrub.before_breadcrumb,
    )
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_extra("lookup", {"phone": "(302) 555-0144", "dob": "02/17/1953"})
        scope.add_breadcrumb(message="opened chart of patient Rupert Haskins", category="ui")
        try:
            raise LookupError("no match for SSN 219-44-7710")
        except LookupError as error:
            scope.capture_exception(error)
        client.flush(timeout=5)
        client.close(timeout=5)

    assert len(sent) == 1
    dumped = json.dumps(sent[0])
    assert [phi for phi in PHI if phi in dumped] == []
    assert sent[0]["exception"]["values"][0]["value"] == "no match for SSN [SSN]"
    assert sent[0]["breadcrumbs"]["values"][0]["message"] == "opened chart of patient [NAME]"


def test_what_cannot_be_checked_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = break_phi_check(monkeypatch)
    transaction = {"type": "transaction", "transaction": "GET /patients",
                   "spans": [{"description": "SELECT * FROM visits WHERE mrn = '00913377'"}]}
    assert before_send(make_event(), None) is None
    assert before_send_transaction(transaction, None) is None
    assert before_breadcrumb({"message": "opened chart of patient Rupert Haskins"}, None) is None
    assert broken.checked


def test_an_event_is_dropped_whole_when_one_of_its_fields_cannot_be_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The request body is scrubbed after the message, exception and breadcrumbs passed.
    broken = break_phi_check(monkeypatch, only_on="BQX220019934")
    assert before_send(make_event(), None) is None
    assert broken.checked == ["Member ID BQX220019934 denied"]


def test_a_real_sentry_client_drops_a_breadcrumb_that_cannot_be_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sentry_sdk = pytest.importorskip("sentry_sdk")
    from sentry_sdk.transport import Transport

    sent: list[dict[str, Any]] = []

    class Capture(Transport):
        def capture_envelope(self, envelope: Any) -> None:
            sent.extend(item.payload.json for item in envelope.items if item.type == "event")

    from compliance import sentry_scrub

    client = sentry_sdk.Client(
        dsn="https://public@sentry.invalid/1", transport=Capture, default_integrations=False,
        include_local_variables=False,  # as serve.observability sets it
        before_send=sentry_scrub.before_send, before_breadcrumb=sentry_scrub.before_breadcrumb,
    )
    # Made up, not written out: the event's stack frames quote this file's source lines.
    name = " ".join(["Rupert", "Haskins"])
    broken = break_phi_check(monkeypatch, only_on=name)
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.add_breadcrumb(message=f"opened chart of patient {name}", category="ui")
        scope.add_breadcrumb(message="opened the worklist", category="ui")
        try:
            raise LookupError("no match for SSN 219-44-7710")
        except LookupError as error:
            scope.capture_exception(error)
        client.flush(timeout=5)
        client.close(timeout=5)

    assert broken.checked
    assert len(sent) == 1, "the event itself could be checked and was sent"
    assert [c["message"] for c in sent[0]["breadcrumbs"]["values"]] == ["opened the worklist"]
    assert sent[0]["exception"]["values"][0]["value"] == "no match for SSN [SSN]"
    assert [phi for phi in PHI if phi in json.dumps(sent[0])] == []


def test_a_breadcrumb_is_dropped_whatever_the_detector_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from compliance import _identifiers

    def layer(text: str) -> object:
        raise RuntimeError("a detector bug")

    # Sentry keeps the unscrubbed breadcrumb when the hook raises: the hook must not.
    monkeypatch.setattr(_identifiers, "detect", layer)
    assert before_breadcrumb({"message": "opened chart of patient Rupert Haskins"}, None) is None
