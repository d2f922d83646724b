"""Per-tenant search: a FAISS + BM25 shard per tenant, its snapshots, and the shard manager.

``TenantShard`` (shard.py) indexes one tenant's chunks and answers hybrid queries;
``LexicalIndex`` (lexical.py) is its BM25 half; ``SnapshotStore`` (snapshot.py) saves and loads
shards in DynamoDB; ``ShardManager`` (manager.py) keeps a process's shards within a memory
budget. ``fuse`` (hybrid.py) merges the dense and lexical rankings.
"""

from index.hybrid import fuse
from index.lexical import LexicalIndex, tokenize
from index.manager import ShardManager, open_manager
from index.shard import SearchHit, ShardConfig, ShardFormatError, TenantShard
from index.snapshot import CorruptSnapshot, SnapshotConflict, SnapshotManifest, SnapshotStore

__all__ = [
    "CorruptSnapshot",
    "LexicalIndex",
    "SearchHit",
    "ShardConfig",
    "ShardFormatError",
    "ShardManager",
    "SnapshotConflict",
    "SnapshotManifest",
    "SnapshotStore",
    "TenantShard",
    "fuse",
    "open_manager",
    "tokenize",
]
