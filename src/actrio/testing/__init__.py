"""Testing kit: a conformance suite for model adapters.

:mod:`actrio.testing.conformance` checks any adapter (including your own)
against the contract actrio's adapters keep.
"""

from actrio.testing.conformance import ConformanceError as ConformanceError
from actrio.testing.conformance import Exchange as Exchange
from actrio.testing.conformance import assert_conforms as assert_conforms
from actrio.testing.conformance import check_adapter as check_adapter

__all__ = ("ConformanceError", "Exchange", "assert_conforms", "check_adapter")
