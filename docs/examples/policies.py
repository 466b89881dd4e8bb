"""Policies: the text form, the engine, and a before policy that asks first.

Run: ``python docs/examples/policies.py``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping

import trio

from actrio.policy import PolicyEngine, PolicySpecError

POLICIES = """
# Only two shell commands, whatever the model chains onto them.
policy shell-allowlist: deny os.shell(command) if not (
    command.eq("python run.py") or command.starts_with("git commit -m "))
match os.shell(command="git commit -m x && rm -rf ~")
not_match os.shell(command="git commit -m 'fix the parser'")

# Writes stay in the workspace (symlinks followed, components compared).
policy stay-home: deny fs.write(path) if not path.within(workspace)

# Ask before every write.
before fs.write(path) requires user.confirm
"""


async def confirm(capability: str, args: Mapping[str, object]) -> bool:
    """A stand-in for the human: approves only writes to notes.txt."""
    print(f"asked: {capability} {args['message']}")
    return "notes.txt" in str(args["message"])


async def main() -> None:
    with tempfile.TemporaryDirectory() as workspace:
        engine = PolicyEngine(POLICIES, workspace=workspace)
        for capability, args in [
            ("os.shell", {"command": "git commit -m 'fix the parser'"}),
            ("os.shell", {"command": "git commit -m x && rm -rf ~"}),
            ("fs.write", {"path": "../outside.txt", "content": "x"}),
            ("fs.write", {"path": "notes.txt", "content": "x"}),
            ("fs.write", {"path": "other.txt", "content": "x"}),
        ]:
            decision = await engine.decide(capability, args, run=confirm)
            verdict = "allowed" if decision.allowed else f"denied ({decision.policy_id})"
            print(f"{capability} {args}: {verdict}")
    try:
        PolicyEngine('deny fs.wirte(path) if path.eq("x")')
    except PolicySpecError as error:
        print(f"refused at load: {error.message.split(' (')[0]}")


if __name__ == "__main__":
    trio.run(main)
