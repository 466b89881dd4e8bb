"""The ``actrio`` command."""

from __future__ import annotations

import argparse

import trio

from actrio._version import __version__

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Run the ``actrio`` command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="actrio", description=__doc__)
    parser.add_argument("--version", action="version", version=f"actrio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a supervised actor tree that crashes and heals")
    demo.add_argument("--jobs", type=int, default=9, help="how many jobs to send (default 9)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from actrio._demo import run_demo  # noqa: PLC0415 - keeps `actrio --version` light

        trio.run(run_demo, args.jobs)
    return 0
