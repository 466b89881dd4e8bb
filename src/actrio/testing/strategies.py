"""Hypothesis strategies for property-testing tools and policies.

Importing this module needs ``hypothesis`` (a test dependency; ``pip install
actrio[test]``). What there is:

- tool calls for a given :class:`~actrio.tools.Tool`, valid and invalid
  (:func:`tool_calls`);
- shell commands, plain and chained, and attempts to smuggle a second
  program past an allowed one (:func:`simple_commands`,
  :func:`chained_commands`, :func:`bypass_attempts`);
- paths with traversal, look-alike and protected names, and trees of
  symlinks to build on disk (:func:`relative_paths`, :func:`path_attacks`,
  :func:`symlink_trees`, :func:`materialize`);
- policy expressions, policies and their text form (:func:`expressions`,
  :func:`policies`, :func:`policy_texts`).

See ``docs/policies.md``, "Property-test your own policies", for a recipe.
"""

from actrio.testing._path_strategies import (
    Entry,
    PathAttack,
    SymlinkTree,
    materialize,
    path_attacks,
    relative_paths,
    symlink_trees,
)
from actrio.testing._policy_strategies import (
    bindings,
    examples,
    expressions,
    json_values,
    policies,
    policy_texts,
)
from actrio.testing._shell_strategies import (
    bypass_attempts,
    chained_commands,
    quoted_spellings,
    shell_words,
    simple_commands,
)
from actrio.testing._tool_strategies import Mutation, ToolCall, tool_calls

__all__ = (
    "Entry",
    "Mutation",
    "PathAttack",
    "SymlinkTree",
    "ToolCall",
    "bindings",
    "bypass_attempts",
    "chained_commands",
    "examples",
    "expressions",
    "json_values",
    "materialize",
    "path_attacks",
    "policies",
    "policy_texts",
    "quoted_spellings",
    "relative_paths",
    "shell_words",
    "simple_commands",
    "symlink_trees",
    "tool_calls",
)
