"""Plugins: package middleware, install it from a TOML file, remove it by uninstalling.

A real plugin is published under the ``actrio.plugins`` entry-point group, e.g.
in its ``pyproject.toml``::

    [project.entry-points."actrio.plugins"]
    audit = "my_package.audit:AuditPlugin"

Here it is passed in directly with ``available_plugins``.

Run: python docs/examples/plugins.py
"""

from typing import Any

import attrs
import trio

import actrio


@attrs.frozen
class AuditConfig:
    blocked_tools: list[str] = attrs.field(factory=list)


class AuditPlugin:
    name = "audit"
    config_type = AuditConfig

    def install(self, registry: Any, config: AuditConfig) -> None:
        def check(tool_name: str, args: Any) -> str | None:
            return "blocked by the audit plugin" if tool_name in config.blocked_tools else None

        registry.register("tool_conditional_execution", "audit.block", 0, check)


CONFIG = """
[[plugins]]
name = "audit"
[plugins.config]
blocked_tools = ["shell"]
"""


async def shell(args: Any) -> str:
    return "ran"


async def main() -> None:
    plugins = {"audit": AuditPlugin()}
    async with actrio.open_runtime(plugins=CONFIG, available_plugins=plugins) as rt:
        print(f"installed: {rt.plugins.installed()}")
        try:
            await actrio.tools.execute("shell", {"cmd": "ls"}, shell)
        except actrio.GuardrailBlocked as blocked:
            print(f"blocked: {blocked.reason}")
        rt.plugins.uninstall("audit")
        print(f"after uninstall: {await actrio.tools.execute('shell', {'cmd': 'ls'}, shell)}")

    try:
        async with actrio.open_runtime(
            plugins='[[plugins]]\nname = "audit"\nnmae = "typo"\n', available_plugins=plugins
        ):
            pass
    except actrio.PluginConfigError as error:
        print(f"bad config: {error.where}")


if __name__ == "__main__":
    trio.run(main)
