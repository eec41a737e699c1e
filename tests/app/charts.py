"""What charts hold: each chart's Vega-Lite spec and its data, read from AppTest or from a
builder's `to_dict()`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df


@dataclass
class Drawn:
    """One chart as sent to the browser: its spec and its named datasets as frames."""

    spec: dict[str, Any]
    datasets: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def rows(self) -> pd.DataFrame:
        """Every dataset's rows, one frame (a chart of one dataset: that dataset)."""
        frames = list(self.datasets.values())
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def text(self) -> str:
        """The spec as text (titles, labels and formats are in it)."""
        return json.dumps(self.spec)


def charts(at: Any) -> list[Drawn]:
    """The charts of an AppTest run, in page order."""
    found = []
    for element in at.get("vega_lite_chart"):
        proto = element.proto
        data = {
            named.name: convert_arrow_bytes_to_pandas_df(named.data.data)
            for named in proto.datasets
        }
        if proto.HasField("data") and proto.data.data:
            data[""] = convert_arrow_bytes_to_pandas_df(proto.data.data)
        found.append(Drawn(json.loads(proto.spec), data))
    return found


def chart_keys(at: Any) -> list[str]:
    """The keys of the charts drawn (`ui.charts.draw` writes its key in the spec)."""
    return [drawn.spec.get("usermeta", {}).get("key", "") for drawn in charts(at)]


def spec_rows(spec: dict[str, Any], view: dict[str, Any] | None = None) -> pd.DataFrame:
    """The data rows of a chart's view (the top level by default), from a spec's datasets."""
    return pd.DataFrame(spec["datasets"][(view or spec)["data"]["name"]])


def all_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every data row of a spec, whichever view holds it."""
    return [row for rows in spec["datasets"].values() for row in rows]
