"""HTTP routes, one module per area; ``serve.ingress`` includes them all."""
