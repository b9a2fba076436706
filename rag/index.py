"""The index on disk: build, update incrementally, switch atomically, load and check.

This module is the public face; the work is done in:

    rag.index_format      the layout of ``index/``, chunk records, Snapshot, current_version, load
    rag.index_build       the Builder: chunk what is new, embed it, write the new version
    rag.index_plan        BuildReport, and comparing the corpus folder with the live version
    rag.index_staging     a build's working state: staged vectors, spooled texts, chunk locations
    rag.index_versions    the rebuild lock, durable writes, switching CURRENT, removing old versions
    rag.index_duplicates  the near-duplicate documents check
"""
from __future__ import annotations

from .index_build import Builder
from .index_duplicates import near_duplicates
from .index_format import FORMAT, POINTER, SPOOL, STAGING, ChunkRecord, Location, Snapshot, current_version, load
from .index_plan import BuildReport
from .index_staging import _Staging
from .index_versions import build_lock

__all__ = ["FORMAT", "POINTER", "SPOOL", "STAGING", "BuildReport", "Builder", "ChunkRecord", "Location", "Snapshot",
           "_Staging", "build_lock", "current_version", "load", "near_duplicates"]
