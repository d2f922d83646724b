"""Per-tenant rate limiting: a token bucket per tenant, in the ingress replica.

Checked right after the caller is authenticated and before any store call, so a tenant over its
limit costs a JWT check and nothing else. The buckets live in the replica's memory: with N
ingress replicas a tenant gets up to N times the configured rate, and a restarted replica
starts with full buckets. That is the accepted trade-off for not paying a DynamoDB round trip
per request; a cluster-wide limit belongs in front of the cluster (the load balancer / WAF).
Tenants come from verified tokens only, so the number of buckets is bounded by real tenants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimited(Exception):
    """The tenant is over its limit; ``retry_after_s`` is when one request fits again."""

    def __init__(self, tenant: str, retry_after_s: int) -> None:
        super().__init__(f"rate limit exceeded for tenant {tenant!r}; retry in {retry_after_s}s")
        self.tenant = tenant
        self.retry_after_s = retry_after_s


class TenantRateLimiter:
    """``rate`` requests per second per tenant on average, bursts of up to ``burst``.

    ``rate == 0`` turns limiting off.
    """

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, tenant: str) -> None:
        """Take one token for ``tenant`` or raise ``RateLimited``."""
        if self.rate <= 0:
            return
        now = self.clock()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = self._buckets[tenant] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        # Whole seconds (RFC 9110's Retry-After is an integer), rounded up, at least 1.
        raise RateLimited(tenant, max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))
