"""Context: budgets that split down the tree, token estimates, fitting requests to a window.

- :class:`BudgetLedger` keeps a tree of :class:`Budget` limits: a child is
  granted ``min(requested, parent's remaining)``, every :class:`Spend` is
  charged up the whole chain, and a charge that breaks a limit names the
  outermost node whose subtree must stop (:class:`BudgetExceeded`), with
  ``budget_granted`` / ``budget_charged`` / ``budget_exhausted`` events.
- :class:`CharEstimator` counts tokens fast and calibrates itself from the
  provider's reported usage; :class:`TiktokenEstimator` uses ``tiktoken``
  when installed (``actrio[tiktoken]``).
- :func:`fit` fits a request to a context window minus the output reserved:
  (1) oversized tool results keep their head and tail with a marker, (2)
  the oldest turns are dropped, keeping the system prompt, pinned messages,
  the last turns and every tool call with its result. It never reports a
  request as fitting when it is over; summarising the dropped span (stage
  3) is the agent loop's.
"""

from actrio.context._budget import BUDGET_EVENT_KINDS as BUDGET_EVENT_KINDS
from actrio.context._budget import Budget as Budget
from actrio.context._budget import BudgetCharged as BudgetCharged
from actrio.context._budget import BudgetEvent as BudgetEvent
from actrio.context._budget import BudgetExceeded as BudgetExceeded
from actrio.context._budget import BudgetExhausted as BudgetExhausted
from actrio.context._budget import BudgetGranted as BudgetGranted
from actrio.context._budget import BudgetLedger as BudgetLedger
from actrio.context._budget import InvalidBudget as InvalidBudget
from actrio.context._budget import Spend as Spend
from actrio.context._fit import ContextOverflow as ContextOverflow
from actrio.context._fit import FitError as FitError
from actrio.context._fit import FitResult as FitResult
from actrio.context._fit import Pinned as Pinned
from actrio.context._fit import StageReport as StageReport
from actrio.context._fit import drop_oldest_turns as drop_oldest_turns
from actrio.context._fit import fit as fit
from actrio.context._fit import truncate_tool_results as truncate_tool_results
from actrio.context._tokens import CharEstimator as CharEstimator
from actrio.context._tokens import EstimatorError as EstimatorError
from actrio.context._tokens import TiktokenEstimator as TiktokenEstimator
from actrio.context._tokens import TokenEstimator as TokenEstimator
from actrio.context._tokens import TokenizerUnavailable as TokenizerUnavailable

__all__ = (
    "BUDGET_EVENT_KINDS",
    "Budget",
    "BudgetCharged",
    "BudgetEvent",
    "BudgetExceeded",
    "BudgetExhausted",
    "BudgetGranted",
    "BudgetLedger",
    "CharEstimator",
    "ContextOverflow",
    "EstimatorError",
    "FitError",
    "FitResult",
    "InvalidBudget",
    "Pinned",
    "Spend",
    "StageReport",
    "TiktokenEstimator",
    "TokenEstimator",
    "TokenizerUnavailable",
    "drop_oldest_turns",
    "fit",
    "truncate_tool_results",
)
