"""The agents: one module each, their shared base, and the reasoners (Claude and offline)."""
