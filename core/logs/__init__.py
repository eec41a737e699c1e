"""Request logs: read a file, detect its format, validate its records with one rule set.

`LogFile` reads one file (JSON lines, a JSON array, one JSON document or CSV, gzip or not) in
bounded memory and yields validated blocks of events; formats live one per module in
`core.logs.formats`; the field rules in `core.logs.rules`; what is never stored in
`core.logs.privacy`.
"""

from core.logs.events import EVENT_COLUMNS, FIELDS, REQUIRED_FIELDS, Events, Mapped, validate
from core.logs.formats import descriptions as format_descriptions
from core.logs.formats.csv_rows import guess_mapping, missing_fields, parse_mapping
from core.logs.parse import CHUNK_ROWS, Block, LogFile
from core.logs.privacy import Scrub, redact
from core.logs.readers import MAX_LINE_BYTES, csv_header
from core.logs.readers import shape_of as file_shape
from core.logs.rules import FileFormatError, RecordError

__all__ = [
    "CHUNK_ROWS",
    "EVENT_COLUMNS",
    "FIELDS",
    "MAX_LINE_BYTES",
    "REQUIRED_FIELDS",
    "Block",
    "Events",
    "FileFormatError",
    "LogFile",
    "Mapped",
    "RecordError",
    "Scrub",
    "csv_header",
    "file_shape",
    "format_descriptions",
    "guess_mapping",
    "missing_fields",
    "parse_mapping",
    "redact",
    "validate",
]
