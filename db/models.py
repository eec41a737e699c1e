"""SQLModel tables of the foundation: request logs, uploads, daily rollups, custom prices.

Data models (`XBase`) hold the fields; table models (`X(XBase, table=True)`) add keys.
Money is stored as integer pico-dollars (`*_pusd`, 1e-12 USD): exact, and summable in SQL.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Double,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from core.rollups import ROUTING_PROJECT_KEY, ROUTING_PROJECT_WEEK_KEY


def counter_field() -> object:
    """A non-null BIGINT counter defaulting to zero (token counts, pico-dollars)."""
    return Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


def label_field(primary_key: bool = False) -> object:
    """A non-null text label defaulting to "" (a record that named none)."""
    return Field(default="", primary_key=primary_key, sa_column_kwargs={"server_default": ""})


def _rate(required: bool = False) -> object:
    """A price per million tokens, exact to six decimals."""
    if required:
        return Field(sa_type=Numeric(18, 6))
    return Field(default=None, sa_type=Numeric(18, 6))


class UploadBase(SQLModel):
    file_name: str
    sha256: str = Field(index=True)
    format: str
    source: str
    size_bytes: int = counter_field()
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    cost_pusd: int = counter_field()
    unpriced: int = 0
    scrubbed: int = 0
    created_at: datetime
    updated_at: datetime | None = None
    first_day: date | None = None  # the span of days its requests cover (UTC)
    last_day: date | None = None


class Upload(UploadBase, table=True):
    __tablename__ = "upload"
    id: int | None = Field(default=None, primary_key=True)


class RequestLogBase(SQLModel):
    ts: datetime = Field(index=True)
    day: date
    source: str
    request_id: str
    provider: str = ""
    model: str  # as logged
    model_id: str = Field(default="", sa_column_kwargs={"server_default": ""})  # core.identity
    project: str = ""
    feature: str = ""
    user: str = ""
    key_label: str = label_field()  # the API key's label (never the key)
    team: str = label_field()
    environment: str = label_field()
    tags: str = label_field()  # core.logs.rules.accept_tags: distinct, sorted, comma-joined
    input_tokens: int = counter_field()
    cached_input_tokens: int = counter_field()
    cache_write_tokens: int = counter_field()
    output_tokens: int = counter_field()
    reasoning_tokens: int = counter_field()
    latency_ms: int | None = None
    status: int = 200
    error_type: str = ""
    finish_reason: str = ""
    max_tokens: int | None = None
    batch: bool = False
    service_tier: str = ""
    priced: bool = True
    cost_pusd: int = counter_field()
    uncached_input_pusd: int = counter_field()
    cached_input_pusd: int = counter_field()
    cache_write_pusd: int = counter_field()
    output_pusd: int = counter_field()
    cache_savings_pusd: int = (
        counter_field()
    )  # cached tokens at the full input rate minus what they cost
    latency_bucket: int | None = None  # index into core.stats.LATENCY_EDGES_MS
    output_bucket: int = 0  # index into core.stats.OUTPUT_EDGES_TOKENS
    price_version: str = ""
    content_hash: str = ""
    key_hash: int = Field(sa_type=BigInteger)  # core.fingerprint.key_hashes(source, request_id)
    upload_id: int | None = Field(default=None, foreign_key="upload.id", ondelete="CASCADE")


class RequestLog(RequestLogBase, table=True):
    __tablename__ = "request_log"
    __table_args__ = (
        UniqueConstraint("key_hash", name="uq_request_log_key"),
        Index("ix_request_log_upload", "upload_id"),
    )
    id: int | None = Field(default=None, primary_key=True)


class PriceOverrideBase(SQLModel):
    provider: str = "custom"
    model: str = Field(index=True)
    effective_from: date
    input_mtok: Decimal = _rate(required=True)
    output_mtok: Decimal = _rate(required=True)
    cached_input_mtok: Decimal | None = _rate()
    cache_write_mtok: Decimal | None = _rate()
    batch_input_mtok: Decimal | None = _rate()
    batch_output_mtok: Decimal | None = _rate()
    context_window: int | None = None
    note: str = ""


class PriceOverrideRow(PriceOverrideBase, table=True):
    __tablename__ = "price_override"
    __table_args__ = (UniqueConstraint("model", "effective_from", name="uq_price_override"),)
    id: int | None = Field(default=None, primary_key=True)


# Rollups: one row per ROLLUP_KEY group and day (core.rollups defines what they hold).
# Dashboards read these, never raw rows, so a page stays fast at 10M+ requests. Latency and
# output-token distributions are kept as fixed-bucket histograms (`*_histogram`,
# `latency_daily`) so percentiles come from sums.


class RollupSums(SQLModel):
    """The summed columns of the daily rollup and its coarser copies (core.rollups.ROLLUP_SUMS);
    each table adds its key. The key columns come after these in the model, not in the
    database (each migration spells out its own column order); everything reads them by name."""

    requests: int = counter_field()
    unpriced_requests: int = counter_field()
    input_tokens: int = counter_field()
    cached_input_tokens: int = counter_field()
    cache_write_tokens: int = counter_field()
    output_tokens: int = counter_field()
    reasoning_tokens: int = counter_field()
    cost_pusd: int = counter_field()
    uncached_input_pusd: int = counter_field()
    cached_input_pusd: int = counter_field()
    cache_write_pusd: int = counter_field()
    output_pusd: int = counter_field()
    cache_savings_pusd: int = counter_field()
    truncated: int = counter_field()  # finish_reason == "length"
    with_max_tokens: int = counter_field()
    latency_count: int = counter_field()
    latency_sum_ms: int = counter_field()


class DailyRollup(RollupSums, table=True):
    """One row per ROLLUP_KEY group and day; clustered on its key (SQLite WITHOUT ROWID), so
    an ingest's upserts and the pages' day-range reads touch one B-tree."""

    __tablename__ = "daily_rollup"
    __table_args__ = (
        # the tagged rows only (the filters' tag list reads it; untagged rows cost nothing)
        Index(
            "ix_daily_rollup_tags",
            "tags",
            sqlite_where=text("tags <> ''"),
            postgresql_where=text("tags <> ''"),
        ),
        {"sqlite_with_rowid": False},
    )
    day: date = Field(primary_key=True)
    provider: str = Field(default="", primary_key=True)
    model_id: str = Field(default="", primary_key=True)
    model: str = Field(primary_key=True)
    project: str = Field(default="", primary_key=True)
    feature: str = Field(default="", primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    status: int = Field(default=200, primary_key=True)
    key_label: str = label_field(primary_key=True)
    team: str = label_field(primary_key=True)
    environment: str = label_field(primary_key=True)
    tags: str = label_field(primary_key=True)  # the tag set of its rows (see docs/architecture)


class UsageDaily(RollupSums, table=True):
    """The daily rollup summed over feature and tag set (core.rollups.USAGE_KEY): what the
    Usage page's totals, series and model table read, ~10x fewer rows."""

    __tablename__ = "usage_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    provider: str = Field(default="", primary_key=True)
    model_id: str = Field(default="", primary_key=True)
    model: str = Field(primary_key=True)
    project: str = Field(default="", primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    status: int = Field(default=200, primary_key=True)
    key_label: str = label_field(primary_key=True)
    team: str = label_field(primary_key=True)
    environment: str = label_field(primary_key=True)


class ModelDaily(RollupSums, table=True):
    """The daily rollup summed down to core.rollups.MODEL_KEY (day, provider, model, batch,
    status): the Usage page's default view reads it, ~70x fewer rows than the daily rollup."""

    __tablename__ = "model_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    provider: str = Field(default="", primary_key=True)
    model_id: str = Field(default="", primary_key=True)
    model: str = Field(primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    status: int = Field(default=200, primary_key=True)


class FeatureDaily(RollupSums, table=True):
    """The daily rollup summed down to core.rollups.FEATURE_KEY, clustered by project, feature
    and day: spend per feature over any period is read in key order (~5x fewer rows)."""

    __tablename__ = "feature_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    project: str = Field(default="", primary_key=True)
    feature: str = Field(default="", primary_key=True)
    day: date = Field(primary_key=True)


class FeatureModelDaily(RollupSums, table=True):
    """The daily rollup summed down to core.rollups.FEATURE_MODEL_KEY, clustered by canonical
    model, project, feature and day: spend per feature under a model filter reads the chosen
    models' rows only."""

    __tablename__ = "feature_model_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    model_id: str = Field(default="", primary_key=True)
    project: str = Field(default="", primary_key=True)
    feature: str = Field(default="", primary_key=True)
    day: date = Field(primary_key=True)


class TrafficHourly(SQLModel, table=True):
    """Requests, errors and 429s of all traffic per UTC day, hour (0-23) and latency bucket
    (`core.rollups.HOURLY_KEY`; -1 for calls without a latency): the alert rules on windows
    of whole hours read it instead of the month's request rows."""

    __tablename__ = "traffic_hourly"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    hour: int = Field(primary_key=True)
    latency_bucket: int = Field(primary_key=True)  # index into core.stats.LATENCY_EDGES_MS
    requests: int = counter_field()
    errors: int = counter_field()
    rate_limited: int = counter_field()


class RetryDaily(SQLModel, table=True):
    """The cost of failure per day, provider, model, project and batch: spend on failed calls
    and the retry estimate (`db.queries.reliability.RETRY_DEFINITION`) summed over features.
    The estimate is not a sum of requests, so it is made again from the daily rollup for the
    days an ingest, delete or re-price touched (`db.ingest.rollups.rebuild_retries`)."""

    __tablename__ = "retry_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    provider: str = Field(default="", primary_key=True)
    model_id: str = Field(default="", primary_key=True)
    project: str = Field(default="", primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    failed_pusd: int = counter_field()
    retries: int = counter_field()
    retry_pusd: int = counter_field()


class ColumnMapping(SQLModel, table=True):
    """A remembered CSV column mapping, keyed by the file's header (its columns, joined)."""

    __tablename__ = "column_mapping"
    id: int | None = Field(default=None, primary_key=True)
    header_key: str = Field(unique=True, max_length=64)
    mapping_json: str
    updated_at: datetime


# Histograms keyed by what the Usage page filters and groups on (core.rollups.HISTOGRAM_KEY).
# The primary key is the table's clustered order on SQLite (WITHOUT ROWID), in the order each
# Usage query groups by, so it reads rows already grouped with the count inline.


class LatencyHistogram(SQLModel, table=True):
    """Read under a project or status filter only: clustered by project first, so a project
    filter reads that project's rows."""

    __tablename__ = "latency_histogram"
    __table_args__ = {"sqlite_with_rowid": False}
    project: str = Field(default="", primary_key=True)
    day: date = Field(primary_key=True)
    model_id: str = Field(primary_key=True)
    bucket: int = Field(primary_key=True)  # index into core.stats.LATENCY_EDGES_MS
    status: int = Field(default=200, primary_key=True)
    count: int = counter_field()


class DailyHistogram(SQLModel):
    """Counts per (day, model_id, bucket): what a view without a project or status filter
    reads, many times fewer rows than the per-project histogram."""

    day: date = Field(primary_key=True)
    model_id: str = Field(primary_key=True)
    bucket: int = Field(primary_key=True)
    count: int = counter_field()


class LatencyDaily(DailyHistogram, table=True):
    """Latency counts per (day, model_id, bucket): the unfiltered view reads ~30x fewer rows."""

    __tablename__ = "latency_daily"
    __table_args__ = {"sqlite_with_rowid": False}


class LatencyQuantiles(SQLModel, table=True):
    """P50 and P95 latency per (day, model_id), from `latency_daily`: the latency chart of the
    unfiltered view reads one row per day and model instead of one per bucket. Percentiles
    are not sums, so a day's row is computed again whenever its histogram changes
    (`db.ingest.rollups.rebuild_latency`)."""

    __tablename__ = "latency_quantiles"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    model_id: str = Field(primary_key=True)
    requests: int = counter_field()  # calls with a latency
    p50_ms: float = Field(sa_type=Double)
    p95_ms: float = Field(sa_type=Double)


class OutputHistogram(SQLModel, table=True):
    """Keyed (model_id, bucket) first: the max_tokens audit groups by those over any day range."""

    __tablename__ = "output_histogram"
    __table_args__ = {"sqlite_with_rowid": False}
    model_id: str = Field(primary_key=True)
    bucket: int = Field(primary_key=True)  # index into core.stats.OUTPUT_EDGES_TOKENS
    day: date = Field(primary_key=True)
    project: str = Field(default="", primary_key=True)
    status: int = Field(default=200, primary_key=True)
    count: int = counter_field()


class OutputDaily(DailyHistogram, table=True):
    """Output-token counts per (day, model_id, bucket): the unfiltered audit reads its days only."""

    __tablename__ = "output_daily"
    __table_args__ = {"sqlite_with_rowid": False}


class IngestKeyBase(SQLModel):
    """A key the live receiver accepts: its name, the project it fills in, its lifetime."""

    name: str
    project: str | None = None  # the project of records that name none
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IngestKey(IngestKeyBase, table=True):
    """Only the key's SHA-256 is stored (`db.keys`); the key itself is shown once."""

    __tablename__ = "ingest_key"
    __table_args__ = (
        UniqueConstraint("name", name="uq_ingest_key_name"),
        UniqueConstraint("key_hash", name="uq_ingest_key_hash"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key_hash: str


class ModelShortlistBase(SQLModel):
    """A model the team has validated on its own prompts (a canonical id, `core.identity`)."""

    model: str
    provider: str = ""
    note: str = ""
    created_at: datetime


class ModelShortlist(ModelShortlistBase, table=True):
    __tablename__ = "model_shortlist"
    __table_args__ = (UniqueConstraint("model", name="uq_model_shortlist_model"),)
    id: int | None = Field(default=None, primary_key=True)


class RoutingSums(SQLModel):
    """What a routing rollup row holds past its key (`core.rollups.ROUTING_COLUMNS`): sums,
    and `in_min`..`out_max`, the smallest and largest prompt and answer of its requests."""

    requests: int = counter_field()
    unpriced_requests: int = counter_field()
    input_tokens: int = counter_field()
    cached_input_tokens: int = counter_field()
    cache_write_tokens: int = counter_field()
    output_tokens: int = counter_field()
    reasoning_tokens: int = counter_field()
    cost_pusd: int = counter_field()
    in_min: int = Field(sa_type=BigInteger)
    in_max: int = Field(sa_type=BigInteger)
    out_min: int = Field(sa_type=BigInteger)
    out_max: int = Field(sa_type=BigInteger)


class RoutingRollup(RoutingSums, table=True):
    """What the routing simulator reads: one row per ROUTING_KEY group and day
    (`core.rollups`), clustered on its key like the daily rollup. Buckets index the fixed
    token-size grids `core.rollups.INPUT_GRID` and `OUTPUT_GRID`."""

    __tablename__ = "routing_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    model_id: str = Field(primary_key=True)
    project: str = Field(default="", primary_key=True)
    feature: str = Field(default="", primary_key=True)
    status: int = Field(default=200, primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    in_bucket: int = Field(primary_key=True)
    out_bucket: int = Field(primary_key=True)


class RoutingByModel(RoutingSums):
    """The key of the routing rollup summed over project, feature and status, but its period:
    clustered model first, so a period's sums per model and bucket come in key order."""

    model_id: str = Field(primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    in_bucket: int = Field(primary_key=True)
    out_bucket: int = Field(primary_key=True)


class RoutingModelDaily(RoutingByModel, table=True):
    """The routing rollup by model per day (core.rollups.ROUTING_MODEL_KEY): what a simulation
    reads when no rule matches on a label, for the days of its period outside whole weeks."""

    __tablename__ = "routing_model_daily"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)


class RoutingModelWeekly(RoutingByModel, table=True):
    """The routing rollup by model per week (core.rollups.ROUTING_WEEK_KEY; `week` is the
    Monday it starts on): the whole weeks of such a simulation's period."""

    __tablename__ = "routing_model_weekly"
    __table_args__ = {"sqlite_with_rowid": False}
    week: date = Field(primary_key=True)


class RoutingByProject(RoutingSums):
    """The key of the routing rollup summed over feature, but its period. The tables below
    set their clustering order: the daily one day first (`ROUTING_PROJECT_KEY`), the weekly
    one week last (`ROUTING_PROJECT_WEEK_KEY`)."""

    model_id: str = Field(primary_key=True)
    project: str = label_field(primary_key=True)
    status: int = Field(default=200, primary_key=True)
    batch: bool = Field(default=False, primary_key=True)
    in_bucket: int = Field(primary_key=True)
    out_bucket: int = Field(primary_key=True)


class RoutingProjectDaily(RoutingByProject, table=True):
    """The routing rollup summed over feature, per day (core.rollups.ROUTING_PROJECT_KEY):
    what a simulation whose rules name a project or status but no feature reads, for the days
    of its period outside whole weeks."""

    __tablename__ = "routing_project_daily"
    __table_args__ = (
        PrimaryKeyConstraint(*ROUTING_PROJECT_KEY),
        {"sqlite_with_rowid": False},
    )
    day: date = Field(primary_key=True)


class RoutingProjectWeekly(RoutingByProject, table=True):
    """The same per week (core.rollups.ROUTING_PROJECT_WEEK_KEY; `week` is the Monday it
    starts on): the whole weeks of such a simulation's period."""

    __tablename__ = "routing_project_weekly"
    __table_args__ = (
        PrimaryKeyConstraint(*ROUTING_PROJECT_WEEK_KEY),
        {"sqlite_with_rowid": False},
    )
    week: date = Field(primary_key=True)


class Retention(SQLModel, table=True):
    """Where the kept request rows start: days before `kept_from` were pruned (`db.retention`),
    their rollups stay. One row at most (id 1)."""

    __tablename__ = "retention"
    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    kept_from: date


class UserRollup(SQLModel, table=True):
    """Per day, the top `core.rollups.TOP_USERS` users by cost and the rest summed under
    `core.rollups.OTHER_USERS` ("" is requests that named no user). Rebuilt from the day's
    rows after each ingest (`db.ingest.rollups.rebuild_users`); exact per-user figures of any
    user come from `request_log`."""

    __tablename__ = "user_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    day: date = Field(primary_key=True)
    user: str = Field(primary_key=True)
    requests: int = counter_field()
    unpriced_requests: int = counter_field()
    input_tokens: int = counter_field()
    cached_input_tokens: int = counter_field()
    output_tokens: int = counter_field()
    cost_pusd: int = counter_field()
