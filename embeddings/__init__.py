"""Confluence knowledge → retrievable passages: sources, storage-format text, chunks.

``confluence`` fetches pages (REST v2/v1 or an exported folder), ``storage_format`` turns their
storage-format XHTML into sectioned text, ``chunking`` cuts that into cited ``Chunk``s.
"""

from embeddings.chunking import Chunk, ConfluencePage, chunk_page, chunk_sections
from embeddings.confluence import (
    ApiTokenAuth,
    ConfluenceAuthError,
    ConfluenceClient,
    ConfluenceError,
    ConfluenceNotFound,
    FolderSource,
    OAuthTokenAuth,
    PageSource,
)
from embeddings.storage_format import Section, parse_storage, storage_to_text

__all__ = [
    "ApiTokenAuth",
    "Chunk",
    "ConfluenceAuthError",
    "ConfluenceClient",
    "ConfluenceError",
    "ConfluenceNotFound",
    "ConfluencePage",
    "FolderSource",
    "OAuthTokenAuth",
    "PageSource",
    "Section",
    "chunk_page",
    "chunk_sections",
    "parse_storage",
    "storage_to_text",
]
