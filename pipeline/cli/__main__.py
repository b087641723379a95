"""`python -m pipeline.cli`: the `gtq` command."""

import sys

from pipeline.cli import main

sys.exit(main())
