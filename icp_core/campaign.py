"""Campaign test: does the ICP group respond better than a control group?

Before a campaign: `draw_control` takes the target accounts (tiers A+B by default) and a random
control group of the same size (or a chosen size) from the non-target accounts, seeded, for
export. After it: `compare_groups` compares response rates of the ICP group and the control with
a Newcombe (Wilson score) interval on the difference and a two-sided Fisher exact test (scipy),
and `verdict` says plainly whether the difference is real at this sample size, with the sample
size a test would need to detect the observed difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact, norm

from .formatting import count, pct, points
from .stats import wilson

ICP_WORDS = {"icp", "target", "test", "treatment", "treated", "a+b", "in", "yes", "true", "1"}
CONTROL_WORDS = {"control", "holdout", "hold-out", "hold out", "baseline", "out", "no", "false", "0"}


class CampaignError(ValueError):
    pass


def draw_control(rows_target: np.ndarray, rows_other: np.ndarray, size: int | None = None,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(target rows, control rows): the control is a seeded random draw from the non-target
    accounts, as large as the target group unless `size` says otherwise."""
    size = len(rows_target) if size is None else int(size)
    if len(rows_other) == 0:
        raise CampaignError("there are no non-target accounts to draw a control group from")
    size = min(size, len(rows_other))
    rng = np.random.default_rng(seed)
    return np.sort(rows_target), np.sort(rng.choice(rows_other, size, replace=False))


@dataclass
class Comparison:
    icp_n: int
    icp_responded: int
    control_n: int
    control_responded: int
    icp_rate: float
    control_rate: float
    icp_interval: tuple[float, float]
    control_interval: tuple[float, float]
    difference: float
    diff_interval: tuple[float, float]  # Newcombe hybrid score interval (95 %)
    p_value: float  # two-sided Fisher exact test
    odds_ratio: float
    needed_per_group: int | None  # for 80 % power at alpha 0.05, to detect the observed difference

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()} | {
            "significant": self.significant, "verdict": verdict(self)}


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Newcombe's (1998) method 10 interval for p1 - p2 from the two Wilson intervals."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (lower, upper)


def needed_sample(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Accounts per group a two-proportion test needs to detect p1 vs p2 (normal approximation)."""
    if p1 == p2 or not (0 < p1 < 1 or 0 < p2 < 1):
        return None
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    pbar = (p1 + p2) / 2
    n = ((za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2) / (p1 - p2) ** 2
    return int(math.ceil(n))


def compare_groups(icp_responded: int, icp_n: int, control_responded: int, control_n: int) -> Comparison:
    """Response rates of the two groups, the difference with a 95 % interval, Fisher's exact p."""
    if icp_n == 0 or control_n == 0:
        raise CampaignError(f"both groups need accounts (ICP {icp_n}, control {control_n})")
    for x, n in ((icp_responded, icp_n), (control_responded, control_n)):
        if not 0 <= x <= n:
            raise CampaignError("responses must be between 0 and the group size")
    p1, p2 = icp_responded / icp_n, control_responded / control_n
    odds, p = fisher_exact([[icp_responded, icp_n - icp_responded], [control_responded, control_n - control_responded]])
    return Comparison(icp_n, icp_responded, control_n, control_responded, p1, p2, wilson(icp_responded, icp_n),
                      wilson(control_responded, control_n), p1 - p2,
                      newcombe_interval(icp_responded, icp_n, control_responded, control_n), float(p),
                      float(odds), needed_sample(p1, p2))


def verdict(c: Comparison) -> str:
    """The comparison in one or two plain sentences."""
    head = (f"ICP group responded {pct(c.icp_rate, 1)} ({count(c.icp_responded)} of {count(c.icp_n)}) vs control "
            f"{pct(c.control_rate, 1)} ({count(c.control_responded)} of {count(c.control_n)}): a difference of "
            f"{points(c.difference, unit=' points')} (95 % interval {points(c.diff_interval[0], unit='')} to "
            f"{points(c.diff_interval[1], unit='')}), p = {c.p_value:.3g}.")
    if c.significant:
        better = "better" if c.difference > 0 else "worse"
        return head + f" The ICP group does {better} than the control, and at this sample size that is not chance."
    tail = " The difference is not distinguishable from chance at this sample size"
    if c.needed_per_group and c.needed_per_group > min(c.icp_n, c.control_n):
        tail += f"; to confirm a gap this size you would need about {count(c.needed_per_group)} accounts per group"
    return head + tail + "."


def _truthy(series: pd.Series) -> np.ndarray:
    text = series.astype("string").str.strip().str.lower().fillna("")
    return text.isin(["1", "yes", "y", "true", "t", "responded", "replied", "meeting", "booked", "won", "x"]).to_numpy()


def classify_groups(values: pd.Series) -> np.ndarray:
    """'icp' / 'control' / '' from a group column's free text."""
    text = values.astype("string").str.strip().str.lower().fillna("")
    out = np.full(len(values), "", dtype=object)
    out[text.isin(ICP_WORDS).to_numpy()] = "icp"
    out[text.isin(CONTROL_WORDS).to_numpy()] = "control"
    return out


def compare_results(frame: pd.DataFrame, group_col: str, response_col: str,
                    in_icp: np.ndarray | None = None) -> Comparison:
    """Compare a campaign results table. `group_col` names ICP vs control ("ICP"/"target"/"test"
    vs "control"/"holdout"); when it is a sent flag instead, `in_icp` (the profile's tiers A+B
    for each row) splits the sent accounts."""
    if response_col not in frame:
        raise CampaignError(f"no column “{response_col}” in the results")
    responded = _truthy(frame[response_col])
    if group_col in frame:
        groups = classify_groups(frame[group_col])
        if in_icp is not None and set(groups) <= {"icp", "control", ""} and (groups == "control").sum() == 0:
            sent = groups == "icp"  # a sent flag: split the sent accounts by the profile
            groups = np.where(sent & in_icp, "icp", np.where(sent, "control", ""))
    elif in_icp is not None:
        groups = np.where(in_icp, "icp", "control")
    else:
        raise CampaignError(f"no column “{group_col}” in the results and no profile to split them")
    icp, control = groups == "icp", groups == "control"
    return compare_groups(int(responded[icp].sum()), int(icp.sum()), int(responded[control].sum()), int(control.sum()))


MAX_RESULTS_ROWS = 5_000_000  # rows of a results file held as text in memory


def read_campaign_results(source, name: str = "results.csv") -> pd.DataFrame:
    """A campaign results file as a table of text ('' for empty cells) under its own headers, read
    like an upload (readers.read_file): CSV/TSV in any common encoding and delimiter, Excel .xlsx or
    Parquet, every reading limit applied. source: a path, bytes or a binary file object (an upload);
    `name` says what the file is called in messages. Raises CampaignError with the reader's message."""
    import tempfile
    from pathlib import Path

    import duckdb

    from .readers import IngestError, read_file
    from .sql import fetch_one

    with tempfile.TemporaryDirectory(prefix="icp_campaign_") as tmp:
        path = Path(tmp) / (Path(name).name or "results.csv")
        if isinstance(source, (str, Path)):
            path = Path(source)
        else:
            path.write_bytes(source if isinstance(source, (bytes, bytearray)) else source.getvalue())
        con = duckdb.connect()
        try:
            read_file(con, path, "results", Path(tmp))
            rows = fetch_one(con, "SELECT count(*) FROM results")[0]
            if rows > MAX_RESULTS_ROWS:
                raise CampaignError(f"{path.name} has {rows:,} rows; at most {MAX_RESULTS_ROWS:,} are compared")
            frame = con.execute("SELECT * FROM results").df()
        except IngestError as exc:
            raise CampaignError(str(exc)) from None
        finally:
            con.close()
    if not len(frame):
        raise CampaignError(f"{path.name} has a header row but no data rows.")
    return frame.astype(object).where(frame.notna(), "").astype(str)


def find_columns(columns: list[str]) -> tuple[str | None, str | None]:
    """Best guesses for the group and the response column of a results file."""
    low = {c: c.lower() for c in columns}
    group = next((c for c, h in low.items() if any(w in h for w in ("group", "cohort", "arm", "variant", "segment"))),
                 None) or next((c for c, h in low.items() if "sent" in h or "target" in h), None)
    response = next((c for c, h in low.items() if any(w in h for w in ("respond", "response", "replied", "reply",
                                                                       "meeting", "opportunit", "converted"))), None)
    return group, response
