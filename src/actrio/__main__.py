"""``python -m actrio`` runs the ``actrio`` command."""

import sys

from actrio.cli import main

sys.exit(main())
