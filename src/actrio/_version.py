"""The installed version of actrio."""

__version__ = "0.1.0.dev0"
