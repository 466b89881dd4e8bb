"""actrio: an actor-model runtime for LLM agents, built on trio.

Every scope, tool call and model call is an actor in a trio nursery tree, so
cancellation, budgeting and supervision follow structured concurrency.
"""

from actrio._version import __version__ as __version__
from actrio.kernel import *  # noqa: F403 - the kernel's surface is actrio's surface
from actrio.kernel import __all__ as _kernel_all

__all__ = tuple(sorted(("__version__", *_kernel_all)))
