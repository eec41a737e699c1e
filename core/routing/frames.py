"""What pages and the CLI show from the simulator: model choices and the export table."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from core.identity import canonical
from core.pricing import PriceBook
from core.routing.ledger import Simulation


def model_choices(models: Iterable[str], book: PriceBook) -> list[str]:
    """Distinct price-book names of logged models (dated snapshot ids folded), sorted."""
    return sorted({canonical(book, m) for m in models})


def export_frame(result: Simulation) -> pd.DataFrame:
    """Totals, rules and models in one flat table for a CSV download."""
    totals = pd.DataFrame(
        [
            {"section": "total", "item": name, "value": value}
            for name, value in (
                ("requests", result.requests),
                ("period_days", result.period_days),
                ("baseline_usd", result.baseline_usd),
                ("scenario_usd", result.scenario_usd),
                ("savings_usd", result.savings_usd),
                ("monthly_savings_usd", result.monthly(result.savings_usd)),
            )
        ]
    )
    rules = result.rule_table().melt(id_vars=["rule"], var_name="item")
    rules = rules.assign(section="rule " + rules.pop("rule").astype(str))
    models = result.models.melt(id_vars=["model"], var_name="item")
    models = models.assign(section="model " + models.pop("model"))
    return pd.concat([totals, rules, models], ignore_index=True)[["section", "item", "value"]]
