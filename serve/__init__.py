"""The Ray Serve application: ingress, auth, orchestrator, the graph builder, the CLI."""
