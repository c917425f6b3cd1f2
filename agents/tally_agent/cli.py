"""Entry point of `tally-agent` (filled in by the agent work)."""
import sys


def main() -> int:
    print("tally-agent: not built yet", file=sys.stderr)
    return 2
