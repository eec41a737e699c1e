"""Tables of budgets, alert rules and alert events (created by migration 0005; a budget's
currency by 0021)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class BudgetBase(SQLModel):
    name: str
    amount_pusd: int = Field(default=0, sa_type=BigInteger)  # pico-units of `currency`
    currency: str = "USD"  # the amount's ISO 4217 code (migration 0021)
    scope: str = "all"
    thresholds: str = "50,75,90,100"
    timezone: str = "UTC"
    forecast_alert: bool = True
    muted_until: datetime | None = None  # UTC
    created_at: datetime
    updated_at: datetime


class BudgetRow(BudgetBase, table=True):
    __tablename__ = "budget"
    __table_args__ = (UniqueConstraint("name", name="uq_budget_name"),)
    id: int | None = Field(default=None, primary_key=True)


class AlertRuleBase(SQLModel):
    kind: str
    scope: str = "all"
    enabled: bool = True
    params: str = Field(default="{}", sa_type=Text)
    muted_until: datetime | None = None
    updated_at: datetime


class AlertRuleRow(AlertRuleBase, table=True):
    __tablename__ = "alert_rule"
    __table_args__ = (UniqueConstraint("kind", "scope", name="uq_alert_rule"),)
    id: int | None = Field(default=None, primary_key=True)


class AlertEventBase(SQLModel):
    kind: str = Field(index=True)
    scope: str = "all"
    subject: str = ""
    key: str
    period: str
    value: Decimal = Field(sa_type=Numeric(24, 6))
    threshold: Decimal = Field(sa_type=Numeric(24, 6))
    unit: str = ""
    message: str = Field(default="", sa_type=Text)
    fired_at: datetime = Field(index=True)  # UTC: the check's as-of instant
    created_at: datetime
    acknowledged_at: datetime | None = None
    notified_at: datetime | None = None
    deliveries: str = Field(default="{}", sa_type=Text)  # {"slack": "sent" | "failed: ..."}


class AlertEventRow(AlertEventBase, table=True):
    __tablename__ = "alert_event"
    __table_args__ = (UniqueConstraint("key", "period", name="uq_alert_event_once"),)
    id: int | None = Field(default=None, primary_key=True)
