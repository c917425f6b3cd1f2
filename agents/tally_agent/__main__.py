"""`python -m tally_agent` and the zipapp entry point."""

from __future__ import annotations

import sys

from tally_agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
