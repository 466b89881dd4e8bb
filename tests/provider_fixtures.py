"""Where the recorded provider traffic is (``shared/fixtures/providers``).

It lives beside the checkout, not in it: ``../shared`` of the repository,
or ``/work/shared`` for a clone elsewhere on this machine, or wherever
``ACTRIO_PROVIDER_FIXTURES`` points. The tests need it; a missing folder is
an error, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_provider_fixtures() -> Path:
    """The fixtures folder.

    Raises:
        FileNotFoundError: Naming every place looked at.
    """
    candidates = [
        Path(os.environ["ACTRIO_PROVIDER_FIXTURES"])
        if os.environ.get("ACTRIO_PROVIDER_FIXTURES")
        else None,
        Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "providers",
        Path("/work/shared/fixtures/providers"),
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates if c is not None)
    raise FileNotFoundError(
        f"provider fixtures not found (tried {tried}); set ACTRIO_PROVIDER_FIXTURES"
    )


PROVIDER_FIXTURES = find_provider_fixtures()
