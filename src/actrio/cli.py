"""The ``actrio`` command."""

from __future__ import annotations

import argparse
import functools

import trio

from actrio._version import __version__

__all__ = ("main",)


def main(argv: list[str] | None = None) -> int:
    """Run the ``actrio`` command line; returns the exit status.

    ``actrio demo`` exits with 0 when the lead agent completed, 1 when it
    did not (a provider error with ``--model``, say), 2 for bad usage.
    """
    parser = argparse.ArgumentParser(prog="actrio", description=__doc__)
    parser.add_argument("--version", action="version", version=f"actrio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="run a supervised agent team with a live scope tree (no API key needed)",
        description="A lead agent and a team of three agents under a supervisor: a member's "
        "run fails and the supervisor restarts it, a tool crashes and is restarted by its "
        "own supervisor, a shell command is denied by policy, a member hits its budget "
        "and another's context is compressed. Scripted models unless --model is given.",
    )
    demo.add_argument("--fast", action="store_true", help="no delays (for tests)")
    demo.add_argument(
        "--plain", action="store_true", help="plain lines even on a terminal (no live tree)"
    )
    demo.add_argument(
        "--model",
        metavar="PROVIDER:MODEL",
        help="run the agents on a real model, e.g. openai:gpt-4.1-mini (needs its API key)",
    )
    demo.add_argument("--base-url", metavar="URL", help="an OpenAI-compatible server for --model")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from actrio._demo import DemoUsageError, resolve_model, run_demo  # noqa: PLC0415 - keeps `actrio --version` light

        try:
            model = resolve_model(args.model, args.base_url)
        except DemoUsageError as error:
            demo.error(str(error))
        outcome = trio.run(
            functools.partial(run_demo, fast=args.fast, model=model, plain=args.plain)
        )
        return 0 if outcome.ok else 1
    return 0  # pragma: no cover - argparse requires a command
