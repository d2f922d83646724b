"""A multi-node Ray cluster on this machine, and the production Serve config deployed on it.

``ray.cluster_utils.Cluster`` starts each node as its own raylet (its own processes, resources
and object store) joined to one GCS, the way Ray tests multi-node behaviour on one machine;
``remove_node(..., allow_graceful=False)`` kills a node's processes as a lost instance would.
The application is deployed with the real ``serve deploy`` CLI through the head's dashboard, from
deploy/serve_config.yaml with only the test's own settings and sizes changed.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import yaml

from config.settings import Settings
from tests.utils.servers import REPO, free_port

SERVE_CONFIG = REPO / "deploy" / "serve_config.yaml"
SERVE_CLI = str(Path(sys.executable).with_name("serve"))


def local_config(settings: Settings, http_port: int) -> dict[str, Any]:
    """deploy/serve_config.yaml for this machine: its placement kept, its sizes shrunk.

    Kept as in production: every ``ray_actor_options`` (the ``agents`` tag and the ``index: 1``
    quota that decide which node a replica may run on) and the builder import path. Changed:
    the settings (dynalite, this test's stage, short leases), the partition count (2), one
    replica per deployment (two cores here), the proxy on the head only, loopback HTTP.
    """
    config = yaml.safe_load(SERVE_CONFIG.read_text())
    config["proxy_location"] = "HeadOnly"
    config["http_options"] = {"host": "127.0.0.1", "port": http_port}
    app = config["applications"][0]
    app["args"] = {
        "stage": settings.stage,
        "data_dir": str(settings.data_dir),
        "dynamodb_endpoint": settings.dynamodb_endpoint,
        "index_partitions": settings.index_partitions,
        "embed_backend": settings.embed_backend,
        "event_lease_s": settings.event_lease_s,
        "redrive_interval_s": settings.redrive_interval_s,
        "caretrack_sweep_interval_s": settings.caretrack_sweep_interval_s,
        "forge_jwks_file": str(settings.forge_jwks_file),
        "jira_webhook_secrets": {
            t: s.get_secret_value() for t, s in settings.jira_webhook_secrets.items()
        },
    }
    wanted = {f"TenantIndex{i}" for i in range(settings.index_partitions)}
    deployments = []
    for d in app["deployments"]:
        if d["name"].startswith("TenantIndex") and d["name"] not in wanted:
            continue
        d = copy.deepcopy(d)
        if "autoscaling_config" in d:
            d["autoscaling_config"] = {**d["autoscaling_config"], "min_replicas": 1,
                                       "max_replicas": 1}
        deployments.append(d)
    app["deployments"] = deployments
    return dict(config)


class MultiNodeCluster:
    """A head (control plane and agents) and two workers (index partitions) on this machine.

    The resources mirror cluster.yaml's node types: the head carries the ``agents`` tag, each
    worker ``index: 2``. Each TenantIndex replica asks for ``index: 1``, so a worker holds at most
    two; Ray's default (hybrid) policy moves on from a node once half of a resource it needs is
    taken, which puts the two partitions on different workers, and a surviving worker still has
    room for the other's partition after a node is lost.
    """

    def __init__(self, temp_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pydantic inside Ray
            from ray._private.utils import get_ray_address_file
            from ray.cluster_utils import Cluster

        # Cluster() records the head's address in the default temp dir's ray_current_cluster
        # whatever temp_dir it is given, and does not create that folder: on a fresh machine,
        # before any ray.init, it raised FileNotFoundError.
        Path(get_ray_address_file(None)).parent.mkdir(parents=True, exist_ok=True)
        self.temp_dir = temp_dir
        self.dashboard_port = free_port()
        self.cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 2,
                "resources": {"agents": 1},
                "gcs_server_port": free_port(),
                "include_dashboard": True,
                "dashboard_host": "127.0.0.1",
                "dashboard_port": self.dashboard_port,
                "dashboard_agent_listen_port": free_port(),
                "object_store_memory": 100 * 1024 * 1024,
                "temp_dir": str(temp_dir),
            },
        )
        self.workers = [
            self.cluster.add_node(num_cpus=1, resources={"index": 2},
                                  object_store_memory=80 * 1024 * 1024,
                                  temp_dir=str(temp_dir))
            for _ in range(2)
        ]

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def wait_dashboard(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.dashboard}/api/version", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"dashboard {self.dashboard} not up within {timeout_s}s")

    def serve_deploy(self, config_path: Path) -> None:
        """``serve deploy``, exactly as an operator runs it against the head."""
        self.wait_dashboard()
        proc = subprocess.run([SERVE_CLI, "deploy", str(config_path), "--address",
                               self.dashboard], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def _actors(self) -> list[Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # pydantic inside Ray
            from ray.util.state import list_actors

        return list(list_actors(address=self.dashboard, filters=[("state", "=", "ALIVE")],
                                limit=1000, raise_on_missing_output=False))

    def replica_nodes(self) -> dict[str, str]:
        """Deployment name → node id of its (first) live replica."""
        prefix = "ServeReplica:clinisight:"
        nodes: dict[str, str] = {}
        for a in self._actors():
            if a.class_name.startswith(prefix):
                nodes.setdefault(a.class_name[len(prefix):], a.node_id)
        return nodes

    @property
    def head_id(self) -> str:
        return str(self.cluster.head_node.node_id)

    def worker_ids(self) -> list[str]:
        return [str(w.node_id) for w in self.workers]

    def kill_worker(self, node_id: str) -> None:
        """Lose one worker node: its raylet and every actor process on it SIGKILLed at once.

        ``remove_node`` kills the node's own processes; its actors' worker processes would
        only exit once they notice, and could answer a call meanwhile, so they are killed too,
        as an instance going away would take them.
        """
        pids = [a.pid for a in self._actors() if a.node_id == node_id and a.pid]
        node = next(w for w in self.workers if str(w.node_id) == node_id)
        self.workers.remove(node)
        self.cluster.remove_node(node, allow_graceful=False)
        for pid in pids:  # processes of the node this cluster started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def shutdown(self) -> None:
        self.cluster.shutdown()
