"""`python -m monitor` is the `newsmon` command."""

import sys

from monitor import cli

sys.exit(cli.main())
