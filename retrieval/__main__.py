"""``python -m retrieval`` runs the command line."""

import sys

from retrieval.cli import main

sys.exit(main())
