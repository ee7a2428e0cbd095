"""One ingest in a fresh process, so its peak RSS is its own (used by bench_ingest and bench_shapes).

    python -m bench.ingest_child FILE WORKDIR [SHAPE]     (prints one JSON line)
"""

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(csv: Path, workdir: Path, shape: str | None = None) -> dict:
    """Ingest `csv` into a new workspace under `workdir` in a child process: {"seconds", "accounts",
    "shape", "hints", "steps", "peak_mib"}."""
    args = [sys.executable, "-m", "bench.ingest_child", str(csv), str(workdir)] + ([shape] if shape else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(csv: str, workdir: str, shape: str | None = None) -> None:
    from icp_core.ingest import ingest_dataset
    from icp_core.store import DatasetStore, new_token

    steps = []
    t0 = time.perf_counter()

    def progress(fraction, message):
        steps.append((round(time.perf_counter() - t0, 3), message))

    store = DatasetStore(Path(workdir), new_token())
    result = ingest_dataset(store, Path(csv), progress=progress, shape=shape)
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "accounts": result.meta["rows"], "shape": result.meta["shape"]["shape"],
                      "hints": len(result.meta["quality"]["hints"]), "steps": steps,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
