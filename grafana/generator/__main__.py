"""`python -m grafana.generator [--check]`."""

from __future__ import annotations

import argparse
import sys

from . import OUTPUT, stale, write


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m grafana.generator", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON is out of date")
    args = parser.parse_args()
    if args.check:
        out_of_date = stale()
        if out_of_date:
            print(f"out of date in {OUTPUT}: {', '.join(out_of_date)}; run `python -m grafana.generator`",
                  file=sys.stderr)
            return 1
        return 0
    write()
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
