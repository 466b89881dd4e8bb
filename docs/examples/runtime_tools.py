"""Tool calls through a runtime: checked, decided by the policy actor, then run.

Run: ``python docs/examples/runtime_tools.py``.
"""

from __future__ import annotations

import tempfile

import trio

import actrio
from actrio.actors import PolicyDecision
from actrio.human import HumanRequest
from actrio.tools import ToolDenied
from actrio.tools.official import read_file, run_shell, write_file

POLICIES = """
policy shell-allowlist: deny os.shell(command) if not command.starts_with("echo ")
policy stay-home: deny fs.write(path) if not path.within(workspace)
before fs.write(path) requires user.confirm
"""


async def approve_notes(request: HumanRequest) -> bool | str:
    """A stand-in for a person: yes to anything about notes.txt."""
    print(f"asked: {request.text}")
    return "notes.txt" in request.text


async def main() -> None:
    """Write and read a file, then try three calls the policies deny."""
    decisions: list[PolicyDecision] = []
    with tempfile.TemporaryDirectory() as workspace:
        async with actrio.open_runtime(
            tools=[read_file, write_file, run_shell],
            policies=POLICIES,
            workspace=workspace,
            human=approve_notes,
        ) as rt:
            rt.subscribe(decisions.append, types=[PolicyDecision])
            await rt.call_tool("write_file", {"path": "notes.txt", "content": "hello"})
            print((await rt.call_tool("read_file", {"path": "notes.txt"})).output.text)
            for name, args in (
                ("run_shell", {"command": "echo hi; rm -rf ~"}),
                ("write_file", {"path": "../escape.txt", "content": "x"}),
                ("write_file", {"path": "other.txt", "content": "x"}),
            ):
                try:
                    await rt.call_tool(name, args)
                except ToolDenied as denied:
                    print(f"{name} denied by {denied.policy_id}")
    print(f"decision events: {len(decisions)}, allowed: {sum(d.allowed for d in decisions)}")


if __name__ == "__main__":
    trio.run(main)
