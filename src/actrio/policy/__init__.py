"""Policies: specs, their text form, the engine, and safe path and shell checks.

Policies gate capability calls (``fs.write``, ``os.shell``, ...)::

    engine = PolicyEngine('''
        deny os.shell(command) if not (command.eq("python run.py")
                                       or command.starts_with("git commit -m "))
        deny fs.write(path) if not path.within(workspace)
        before fs.write(path) requires user.confirm
    ''', workspace="/work/proj")
    decision = await engine.decide("os.shell", {"command": "git status && rm -rf ~"})
    assert not decision.allowed

See ``docs/policies.md`` for the text form's grammar and what each predicate
guarantees.
"""

from actrio.policy._catalog import CATALOG as CATALOG
from actrio.policy._catalog import Capability as Capability
from actrio.policy._catalog import Param as Param
from actrio.policy._compile import PolicyEvaluationError as PolicyEvaluationError
from actrio.policy._compile import PolicyExampleError as PolicyExampleError
from actrio.policy._engine import Decision as Decision
from actrio.policy._engine import PolicyEngine as PolicyEngine
from actrio.policy._engine import Verdict as Verdict
from actrio.policy._spec import Example as Example
from actrio.policy._spec import ExprSpec as ExprSpec
from actrio.policy._spec import PolicySpec as PolicySpec
from actrio.policy._spec import PolicySpecError as PolicySpecError
from actrio.policy._spec import RefSpec as RefSpec
from actrio.policy._spec import RequireSpec as RequireSpec
from actrio.policy._spec import TriggerSpec as TriggerSpec
from actrio.policy._spec import load_policies as load_policies
from actrio.policy._spec import policies_to_json as policies_to_json
from actrio.policy._text import PolicySyntaxError as PolicySyntaxError
from actrio.policy._text import parse_policies as parse_policies
from actrio.policy._text import render_policies as render_policies
from actrio.policy._text import render_policy as render_policy
from actrio.policy.paths import PolicyPath as PolicyPath
from actrio.policy.shell import ShellCommand as ShellCommand
from actrio.policy.urls import PolicyURL as PolicyURL

__all__ = (
    "CATALOG",
    "Capability",
    "Decision",
    "Example",
    "ExprSpec",
    "Param",
    "PolicyEngine",
    "PolicyEvaluationError",
    "PolicyExampleError",
    "PolicyPath",
    "PolicySpec",
    "PolicySpecError",
    "PolicySyntaxError",
    "PolicyURL",
    "RefSpec",
    "RequireSpec",
    "ShellCommand",
    "TriggerSpec",
    "Verdict",
    "load_policies",
    "parse_policies",
    "policies_to_json",
    "render_policies",
    "render_policy",
)
