"""``python -m retrieval`` runs the command line."""

import sys

from retrieval.cli import main

if __name__ == "__main__":
    sys.exit(main())
