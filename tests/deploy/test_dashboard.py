"""The Grafana dashboard and the Prometheus rules: they parse, and use only exported metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from metrics.catalog import CATALOG, PREFIX, all_exported

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "clinisight.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
# A metric name in PromQL: our prefix, then a name (functions and labels never start so).
_METRIC = re.compile(rf"\b{PREFIX}clinisight_[a-z_]+\b")


def _exprs(obj: Any) -> list[str]:
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("expr", "definition") and isinstance(value, str):
                found.append(value)
            elif key == "query" and isinstance(value, dict | str):
                found.extend([value] if isinstance(value, str) else _exprs(value))
            else:
                found.extend(_exprs(value))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(_exprs(item))
    return found


def _balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += {"(": 1, ")": -1, "{": 1, "}": -1, "[": 1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_dashboard_loads_and_uses_only_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    # Importable as is: the data source is a variable the importer picks, not a fixed uid.
    assert {v["name"] for v in dash["templating"]["list"]} >= {"datasource", "tenant"}
    graphs = [p for p in dash["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    exprs = _exprs(graphs)
    assert exprs and all(_balanced(e) for e in exprs)
    used = {m for e in exprs for m in _METRIC.findall(e)}
    unknown = used - all_exported()
    assert not unknown, f"the dashboard queries metrics the code does not export: {unknown}"
    # Every metric of the catalog is on some panel.
    shown = {name for name in CATALOG
             if any(m.startswith(PREFIX + name) for m in used)}
    assert shown == set(CATALOG), set(CATALOG) - shown
    for panel in graphs:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]


def test_alert_rules_parse_and_use_only_exported_metrics() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    names = {a["alert"] for a in alerts}
    assert {"ClinisightAuditAppendFailed", "ClinisightEventLagHigh", "ClinisightBacklogGrowing",
            "ClinisightAgentFailureRate"} <= names
    for alert in alerts:
        assert alert["labels"]["severity"] in {"page", "ticket"}, alert["alert"]
        assert _balanced(alert["expr"]), alert["alert"]
        used = set(_METRIC.findall(alert["expr"]))
        assert used and used <= all_exported(), (alert["alert"], used - all_exported())
    audit = next(a for a in alerts if a["alert"] == "ClinisightAuditAppendFailed")
    assert audit["labels"]["severity"] == "page"
    # README "Operating" explains every alert.
    readme = (REPO / "README.md").read_text()
    operating = readme.split("## Operating", 1)[1].split("\n## ", 1)[0]
    assert all(f"**{name}**" in operating for name in names)
