"""Provider adapters reached directly over httpx (no vendor SDK).

Empty for now: they arrive with the provider-adapter issue.
"""

__all__ = ()
