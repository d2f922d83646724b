"""deploy/serve_config.yaml: Serve's own schema, a fresh `serve build`, and the typed builder."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from config.settings import Settings

with warnings.catch_warnings():
    # Importing ray.serve warns (pydantic deprecations inside Ray); not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve.schema import ServeDeploySchema

    from serve.app import build_app

from tests.utils.servers import REPO

SERVE_CONFIG = REPO / "deploy" / "serve_config.yaml"
SERVE_CLI = str(Path(sys.executable).with_name("serve"))
# What the config's header says is edited by hand after `serve build`.
EDITED_TOP = {"http_options"}
EDITED_DEPLOYMENT = {"autoscaling_config"}


def config() -> dict[str, Any]:
    return dict(yaml.safe_load(SERVE_CONFIG.read_text()))


def test_passes_serves_schema() -> None:
    parsed = ServeDeploySchema.model_validate(config())
    (app,) = parsed.applications
    assert app.name == "clinisight" and app.route_prefix == "/"
    assert app.import_path == "serve.app:build_app"


def test_matches_a_fresh_serve_build(tmp_path: Path) -> None:
    """The deployments and their code defaults are what `serve build` writes today; only the
    documented edits differ (so a deployment added in code cannot be missing here)."""
    committed = config()
    args = committed["applications"][0]["args"]
    out = tmp_path / "built.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINISIGHT_")}
    env["CLINISIGHT_INDEX_PARTITIONS"] = str(args["index_partitions"])
    proc = subprocess.run([SERVE_CLI, "build", "serve.app:app", "-o", str(out)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    built = yaml.safe_load(out.read_text())

    for key in set(built) - {"applications"} - EDITED_TOP:
        assert committed[key] == built[key], key
    assert committed["http_options"]["port"] == built["http_options"]["port"]
    want = {d["name"]: d for d in built["applications"][0]["deployments"]}
    have = {d["name"]: d for d in committed["applications"][0]["deployments"]}
    assert list(have) == list(want)
    for name, d in want.items():
        mine = have[name]
        for key in set(d) - {"ray_actor_options"}:
            assert mine[key] == d[key], (name, key)
        assert set(mine) - set(d) <= EDITED_DEPLOYMENT, name
        # ray_actor_options: the code's CPU share kept, placement resources added.
        assert mine["ray_actor_options"]["num_cpus"] == d["ray_actor_options"]["num_cpus"]
        assert set(mine["ray_actor_options"]) - set(d["ray_actor_options"]) == {"resources"}


def test_autoscaling_choices() -> None:
    deployments = {d["name"]: d for d in config()["applications"][0]["deployments"]}
    for name, d in deployments.items():
        if name.startswith("TenantIndex") or name in ("Sweeper", "JiraSyncServer"):
            # One writer per tenant, one sweeper, one Jira sweep: never more than one replica.
            assert d["num_replicas"] == 1 and "autoscaling_config" not in d, name
            continue
        auto = d["autoscaling_config"]
        assert 1 <= auto["min_replicas"] <= auto["max_replicas"], name
        # Scale before requests queue: the target stays well under the replica's cap.
        assert auto["target_ongoing_requests"] <= d["max_ongoing_requests"] / 2, name
    for name in ("Ingress", "Orchestrator"):
        assert deployments[name]["autoscaling_config"]["min_replicas"] >= 2, "no single point"


def test_builder_gets_typed_settings_from_args(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray turns `args` into Settings (the annotation is a real class, not a string), and the
    nodes' CLINISIGHT_* variables still fill what `args` leaves out."""
    monkeypatch.setenv("CLINISIGHT_EVENT_LEASE_S", "7")
    args = config()["applications"][0]["args"]
    app = call_user_app_builder_with_args_if_necessary(build_app, args)
    settings = app._bound_deployment.init_args[0]
    assert isinstance(settings, Settings)
    assert settings.stage == "prod" and settings.index_partitions == args["index_partitions"]
    assert settings.event_lease_s == 7
    with pytest.raises(ValidationError, match="index_partitions"):
        call_user_app_builder_with_args_if_necessary(build_app, {**args, "index_partitions": 0})
