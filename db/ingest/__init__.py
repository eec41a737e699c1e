"""Ingestion: log files, uploads and records into `request_log` and the rollups.

files      entry points: ingest_file, ingest_upload, ingest_records
parallel   the parse side (core.logs + core.prepare), here or in a worker process
writer     a transaction per chunk: rows, duplicates and conflicts, rollups
rows, bulk request rows as driver values, multi-row INSERT statements
rollups    rollup upserts and their SQL rebuild
uploads    upload history, deletion, remembered CSV mappings
reprice    re-pricing stored rows after a price change
report     what an ingest did
"""

from db.ingest.files import file_digest, ingest_file, ingest_records, ingest_upload
from db.ingest.report import IngestError, IngestReport, dumps
from db.ingest.reprice import RepriceReport, reprice
from db.ingest.rollups import rebuild as rebuild_rollups
from db.ingest.uploads import delete_upload, list_uploads, load_mapping, save_mapping

__all__ = [
    "IngestError",
    "IngestReport",
    "RepriceReport",
    "delete_upload",
    "dumps",
    "file_digest",
    "ingest_file",
    "ingest_records",
    "ingest_upload",
    "list_uploads",
    "load_mapping",
    "rebuild_rollups",
    "reprice",
    "save_mapping",
]
