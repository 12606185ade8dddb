"""Train the demo models deterministically and write the weights shipped in the package.

python -m pathlens.demo                  # both models, into pathlens/demo/weights
python -m pathlens.demo cnn --out DIR    # one model, elsewhere
python -m pathlens.demo --check          # retrain into a temporary folder and compare sha256
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from pathlens.demo._train import write_weights
from pathlens.demo._weights import MODELS, WEIGHTS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pathlens.demo", description=__doc__)
    parser.add_argument("models", nargs="*", help=f"some of {', '.join(MODELS)} (default: all)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for NAME.pt/.json")
    parser.add_argument(
        "--check", action="store_true", help="retrain and compare with the shipped sha256"
    )
    args = parser.parse_args(argv)
    models = args.models or list(MODELS)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown demo model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if not args.check:
        for name in models:
            facts = write_weights(name, args.out)
            print(json.dumps({k: facts[k] for k in ("model", "test_accuracy", "sha256")}))
        return 0
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            facts = write_weights(name, Path(tmp))
            shipped = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())["sha256"]
            same &= facts["sha256"] == shipped
            verdict = "same" if facts["sha256"] == shipped else "DIFFERENT"
            print(f"{name}: retrained {facts['sha256']} shipped {shipped} {verdict}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
