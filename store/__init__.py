"""Persistence: DynamoDB tables and the stores built on them (state, event log)."""
