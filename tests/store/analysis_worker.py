"""A process for the store's crash test: saves one real adversarial analysis into a run
folder again and again, printing the count after each save, until killed.

Run: python analysis_worker.py SOURCE_RUN ANALYSIS_ID TARGET_RUN
"""

from __future__ import annotations

import sys

from pathlens.attacks import load_analysis, save_analysis
from pathlens.store import RunStore


def main() -> None:
    source, analysis_id, target = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with RunStore(source, create=False) as run:
        analysis = load_analysis(run, analysis_id)
    with RunStore(target) as run:
        for i in range(1_000_000):
            save_analysis(run, analysis, name=f"copy {i}")
            print(i + 1, flush=True)


if __name__ == "__main__":
    main()
