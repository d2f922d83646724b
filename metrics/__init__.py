"""Clinisight's product metrics (``clinisight_*``), exported by Ray's metrics agent.

``metrics.catalog`` defines them all; ``metrics.recorder`` records them without ever failing
the caller; ``metrics.redactions`` counts PHI redactions at the exits. README "Operating" says
where the endpoint is, the dashboard and the alerts built on them.
"""

from metrics.recorder import (
    configure,
    counted,
    enabled,
    inc,
    observe,
    set_gauge,
    timed,
    zero,
)

__all__ = ["configure", "counted", "enabled", "inc", "observe", "set_gauge", "timed", "zero"]
