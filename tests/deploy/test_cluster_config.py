"""cluster.yaml against Ray's own cluster-config schema, and the IAM and network it relies on."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.utils.servers import REPO

CLUSTER = REPO / "cluster.yaml"
SERVE_CONFIG = REPO / "deploy" / "serve_config.yaml"
NODE_POLICY = REPO / "deploy" / "iam" / "clinisight-node-policy.json"
SECURITY_GROUP = REPO / "deploy" / "aws" / "security-group.json"

# boto3 client method → IAM action. ensure_tables' calls are left out on purpose: tables are
# created once by an operator (README), so the nodes' role cannot create or list tables.
IAM_ACTION = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "describe_table": "dynamodb:DescribeTable",
    "batch_write_item": "dynamodb:BatchWriteItem",
    "batch_get_item": "dynamodb:BatchGetItem",
    "scan": "dynamodb:Scan",
    "transact_write_items": "dynamodb:TransactWriteItems",
}
OPERATOR_ONLY = {"create_table", "list_tables", "get_paginator", "update_table",
                 "update_continuous_backups"}
KMS_ACTIONS = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"}


def cluster() -> dict[str, Any]:
    return dict(yaml.safe_load(CLUSTER.read_text()))


def test_cluster_yaml_passes_rays_schema_after_ray_up_preparation() -> None:
    # What `ray up` does before touching AWS: merge the AWS defaults, then validate against
    # ray/autoscaler/ray-schema.json.
    prepared = prepare_config(cluster())
    validate_config(prepared)
    assert prepared["provider"]["type"] == "aws"
    assert prepared["provider"]["region"] == "us-east-1"


def test_the_schema_is_really_applied() -> None:
    broken = cluster()
    broken["available_node_types"]["cpu_worker"]["min_wrokers"] = 2
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_node_types_and_autoscaling_bounds() -> None:
    c = cluster()
    types = c["available_node_types"]
    assert c["head_node_type"] == "head" and set(types) == {"head", "cpu_worker", "gpu_worker"}
    assert types["head"]["resources"] == {"CPU": 0}, "no replica on the head"
    cpu, gpu = types["cpu_worker"], types["gpu_worker"]
    assert 2 <= cpu["min_workers"] <= cpu["max_workers"]
    assert gpu["min_workers"] == 0, "GPU workers only on demand"
    assert cpu["max_workers"] + gpu["max_workers"] <= c["max_workers"]
    assert "agents" not in gpu["resources"] and "index" not in gpu["resources"]


def test_serve_placement_fits_the_node_types() -> None:
    """Every custom resource the Serve config asks for exists on the CPU worker type, and the
    minimum CPU fleet holds every index partition."""
    serve = yaml.safe_load(SERVE_CONFIG.read_text())
    app = serve["applications"][0]
    cpu_worker = cluster()["available_node_types"]["cpu_worker"]
    for d in app["deployments"]:
        for name, amount in d.get("ray_actor_options", {}).get("resources", {}).items():
            assert cpu_worker["resources"].get(name, 0) >= amount, (d["name"], name)
    partitions = app["args"]["index_partitions"]
    assert cpu_worker["resources"]["index"] * cpu_worker["min_workers"] >= partitions


def test_instance_profiles_and_network() -> None:
    types = cluster()["available_node_types"]
    for name, t in types.items():
        cfg = t["node_config"]
        profile = "clinisight-head" if name == "head" else "clinisight-node"
        assert cfg["IamInstanceProfile"]["Arn"].endswith(f":instance-profile/{profile}")
        assert cfg["SecurityGroupIds"] == ["<CLUSTER_SG_ID>"], "a group Ray does not create"
        assert cfg["MetadataOptions"] == {"HttpTokens": "required"}  # IMDSv2 only


def test_security_group_opens_only_the_ingress_and_launcher_ssh() -> None:
    rules = json.loads(SECURITY_GROUP.read_text())["IpPermissions"]
    ports = {(r["FromPort"], r["ToPort"]) for r in rules}
    assert ports == {(8000, 8000), (22, 22)}
    for r in rules:
        assert all(ip["CidrIp"] != "0.0.0.0/0" for ip in r.get("IpRanges", []))
    ingress = next(r for r in rules if r["FromPort"] == 8000)
    assert ingress["UserIdGroupPairs"] and not ingress.get("IpRanges"), "from the LB only"
    serve = yaml.safe_load(SERVE_CONFIG.read_text())
    assert serve["http_options"]["port"] == 8000


def dynamodb_calls() -> set[str]:
    calls: set[str] = set()
    for folder in ("store", "index", "embeddings", "agents", "serve", "compliance"):
        for path in (REPO / folder).rglob("*.py"):
            calls.update(re.findall(r"client\.(\w+)", path.read_text()))
    return calls & (set(IAM_ACTION) | OPERATOR_ONLY)


def statements() -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(NODE_POLICY.read_text())["Statement"]}


def test_node_policy_grants_exactly_the_dynamodb_actions_the_code_uses() -> None:
    statement = statements()["ClinisightTablesReadWrite"]
    assert statement["Effect"] == "Allow"
    used = {IAM_ACTION[c] for c in dynamodb_calls() - OPERATOR_ONLY}
    assert set(statement["Action"]) == used
    stage = yaml.safe_load(SERVE_CONFIG.read_text())["applications"][0]["args"]["stage"]
    assert sorted(statement["Resource"]) == [
        f"arn:aws:dynamodb:us-east-1:<ACCOUNT_ID>:table/Clinisight*-{stage}",
        f"arn:aws:dynamodb:us-east-1:<ACCOUNT_ID>:table/Clinisight*-{stage}/index/*",
    ]


def test_node_policy_allows_the_tables_key_only_and_only_through_dynamodb() -> None:
    granted = [s for s in statements().values()
               if s["Effect"] == "Allow" and any(str(a).startswith("kms:")
                                                 for a in s["Action"])]
    (kms,) = granted
    assert set(kms["Action"]) == KMS_ACTIONS
    # One key, by its ARN (an alias or a wildcard would let the nodes use any key).
    assert kms["Resource"] == "arn:aws:kms:us-east-1:<ACCOUNT_ID>:key/<KMS_KEY_ID>"
    assert kms["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
    assert "<KMS_KEY_ID>" in CLUSTER.read_text(), "cluster.yaml names the placeholder"


def test_node_policy_keeps_the_audit_tables_append_only() -> None:
    deny = statements()["AuditTablesAppendOnly"]
    stage = yaml.safe_load(SERVE_CONFIG.read_text())["applications"][0]["args"]["stage"]
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == {"dynamodb:UpdateItem", "dynamodb:DeleteItem",
                                   "dynamodb:BatchWriteItem"}
    assert sorted(deny["Resource"]) == [
        f"arn:aws:dynamodb:us-east-1:<ACCOUNT_ID>:table/ClinisightAudit{kind}-{stage}"
        for kind in ("", "Anchors")]
    # The code must not need what is denied there: the audit modules only put, get and query.
    for module in ("store/audit.py", "store/audit_dynamo.py", "store/anchors.py"):
        text = (REPO / module).read_text()
        assert not re.search(r"\.(update|delete|batch_put)\(", text), module


def test_policy_check_would_notice_a_new_call() -> None:
    # The scan above is what keeps the policy honest: prove it sees the calls it maps.
    assert {"get_item", "put_item", "query", "describe_table"} <= dynamodb_calls()
