"""What ``ensure_tables`` asks DynamoDB for: on AWS, deletion protection, point-in-time recovery
and SSE under the configured KMS key; against a local endpoint (dynalite), none of it.

The AWS cases record the requests boto3 would send (serialized, after botocore validated them
against DynamoDB's API model) with a ``before-call`` hook that answers in AWS's place.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.awsrequest import AWSResponse

from config.settings import Settings
from store.dynamo import TABLES, ensure_tables, make_client

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class FakeAws:
    """Records each call's JSON body; answers like DynamoDB would, tables ACTIVE at once."""

    def __init__(self, existing: dict[str, list[str]] | None = None,
                 pitr_busy: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.existing = existing or {}  # table name -> the index names it has
        self.pitr_busy = pitr_busy  # answer this many PITR calls "still enabling"

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[Any, Any]:
        body = json.loads(params["body"] or b"{}")
        self.calls.append((model.name, body))
        ok = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 200, {}, None)
        if model.name == "ListTables":
            return ok, {"TableNames": sorted(self.existing)}
        if model.name == "DescribeTable":
            indexes = self.existing.get(body["TableName"], [])
            return ok, {"Table": {"TableStatus": "ACTIVE", "GlobalSecondaryIndexes": [
                {"IndexName": i} for i in indexes]}}
        if model.name == "UpdateContinuousBackups" and self.pitr_busy:
            self.pitr_busy -= 1
            busy = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None)
            return busy, {"Error": {"Code": "ContinuousBackupsUnavailableException",
                                    "Message": "Backups are being enabled for the table"}}
        return ok, {}

    def bodies(self, operation: str) -> list[dict[str, Any]]:
        return [body for name, body in self.calls if name == operation]


def aws_settings(**extra: Any) -> Settings:
    return Settings(_env_file=None, stage=f"t{uuid.uuid4().hex[:8]}", dynamodb_endpoint=None,
                    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                    aws_profile=None, **extra)


def run(settings: Settings, fake: FakeAws) -> list[str]:
    client = make_client(settings)
    client.meta.events.register("before-call.dynamodb.*", fake)
    return ensure_tables(client, settings)


def test_on_aws_tables_get_kms_encryption_deletion_protection_and_pitr() -> None:
    settings = aws_settings(kms_key_arn=KEY_ARN)
    fake = FakeAws()
    created = run(settings, fake)
    names = sorted(settings.table(kind) for kind in TABLES)
    assert sorted(created) == names and "AuditAnchors" in TABLES
    creates = fake.bodies("CreateTable")
    assert sorted(c["TableName"] for c in creates) == names
    for create in creates:
        assert create["DeletionProtectionEnabled"] is True, create["TableName"]
        assert create["SSESpecification"] == {
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY_ARN}
    pitr = fake.bodies("UpdateContinuousBackups")
    assert sorted(p["TableName"] for p in pitr) == names
    assert all(p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
               for p in pitr)
    # PITR is asked once a table is ACTIVE, i.e. after its creation.
    order = [name for name, _ in fake.calls]
    assert order.index("UpdateContinuousBackups") > max(
        i for i, name in enumerate(order) if name == "CreateTable")


def test_without_a_key_aws_encrypts_with_its_default_and_protection_stays_on() -> None:
    settings = aws_settings()
    fake = FakeAws()
    run(settings, fake)
    for create in fake.bodies("CreateTable"):
        assert "SSESpecification" not in create and create["DeletionProtectionEnabled"] is True
    assert len(fake.bodies("UpdateContinuousBackups")) == len(TABLES)


def test_existing_aws_tables_get_pitr_and_a_missing_index_retrying_busy_backups() -> None:
    settings = aws_settings(kms_key_arn=KEY_ARN)
    existing = {settings.table(kind): [g["IndexName"] for g in gsis]
                for kind, (_, _, gsis) in TABLES.items()}
    events = settings.table("Events")
    existing[events] = ["unfinished"]  # created before payloadHeld existed
    fake = FakeAws(existing, pitr_busy=1)
    assert run(settings, fake) == []
    assert fake.bodies("CreateTable") == []
    (update,) = fake.bodies("UpdateTable")
    assert update["TableName"] == events
    (create_index,) = update["GlobalSecondaryIndexUpdates"]
    assert create_index["Create"]["IndexName"] == "payloadHeld"
    assert {"AttributeName": "finishedAt", "AttributeType": "N"} in update[
        "AttributeDefinitions"]
    pitr = [p["TableName"] for p in fake.bodies("UpdateContinuousBackups")]
    assert sorted(set(pitr)) == sorted(existing) and len(pitr) == len(existing) + 1


def test_a_local_endpoint_gets_plain_tables(dynalite: Any) -> None:
    settings = Settings(_env_file=None, stage=f"t{uuid.uuid4().hex[:8]}",
                        dynamodb_endpoint=dynalite.url, kms_key_arn=KEY_ARN)
    sent: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        sent.append((model.name, json.loads(params["body"] or b"{}")))  # and send it on

    client = make_client(settings)
    client.meta.events.register("before-call.dynamodb.*", record)
    assert len(ensure_tables(client, settings)) == len(TABLES)
    creates = [body for name, body in sent if name == "CreateTable"]
    assert len(creates) == len(TABLES)
    assert not any("SSESpecification" in c or "DeletionProtectionEnabled" in c for c in creates)
    assert {name for name, _ in sent} <= {"ListTables", "CreateTable", "DescribeTable"}
    table = client.describe_table(TableName=settings.table("Events"))["Table"]
    assert {g["IndexName"] for g in table["GlobalSecondaryIndexes"]} == {
        "unfinished", "payloadHeld"}
