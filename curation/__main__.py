"""`python -m curation ...` is the same as the `curation` command."""

import sys

from curation.cli import main

sys.exit(main())
