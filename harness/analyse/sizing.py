"""One sizing per cell: a calibrating run measured serial cells at two sizes.

``FIXED`` is the suite's size (the same work on every runtime: cross-runtime speed);
``SCALING`` is the calibrated size where a cell has one (serial vs parallel within a runtime:
the same work in each mode). A median or a spread over both sizes is no one's.
"""

from __future__ import annotations

import pandas as pd

CELL = ["runtime", "workload", "mode", "workers"]
SCALING = "scaling"
FIXED = "fixed"


def sizing_view(df: pd.DataFrame, sizing: str) -> pd.DataFrame:
    """The rows of one sizing per cell (``FIXED`` or ``SCALING``); failed rows are kept in
    both views."""
    if "sizing" not in df.columns or df.empty:
        return df
    calibrated = df["sizing"].fillna(FIXED) == "calibrated"
    failed = ~df["ok"].astype(bool)
    if sizing == FIXED:
        return df[~calibrated | failed]
    has = calibrated.groupby([df[c] for c in CELL]).transform("any")
    return df[calibrated | ~has | failed]
