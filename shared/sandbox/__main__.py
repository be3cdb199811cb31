"""`python -m shared.sandbox --port 8765 --config '{"STEP_SECONDS": 0.5}'`: serve the sandbox until killed."""

from __future__ import annotations

import argparse
import json
import logging

from .app import run_sandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--config", default="{}", help="JSON object of config keys (API_KEY, STEP_SECONDS, FAULTS…)")
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    if not isinstance(config, dict):
        parser.error("--config must be a JSON object")
    logging.basicConfig(level=logging.INFO)
    run_sandbox(args.host, args.port, config)


if __name__ == "__main__":
    main()
