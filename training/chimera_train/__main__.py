"""`python -m chimera_train <command>`: the model toolkit's command line. `--help` lists the commands."""
from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
