"""Write N synthetic accounts as a CRM-style CSV: `python -m bench.generate_accounts N OUT.csv`.

Uses the seeded sample generator (same columns, messiness and signal as the sample data).
"""

import sys
import time
from pathlib import Path

from sample_data.generate_sample import generate_accounts


def write_accounts_csv(n: int, out: Path, seed: int = 11) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    generate_accounts(n, seed=seed).to_csv(out, index=False)
    return out


if __name__ == "__main__":
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    t = time.perf_counter()
    write_accounts_csv(n, out)
    print(f"wrote {n:,} accounts to {out} in {time.perf_counter() - t:.1f} s")
