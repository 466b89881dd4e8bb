"""The official tools: one implementation per capability of the catalog.

================  ================  =========================================
tool              capability        parameters (the catalog's names)
================  ================  =========================================
``read_file``     ``fs.read``       ``path``
``write_file``    ``fs.write``      ``path``, ``content``
``edit_file``     ``fs.edit``       ``path``, ``old``, ``new``
``run_shell``     ``os.shell``      ``command``
``fetch_url``     ``http.fetch``    ``url``, ``method``, ``headers``, ``body``
``confirm_user``  ``user.confirm``  ``message``
``ask_user``      ``user.elicit``   ``question``
================  ================  =========================================

Each is a :class:`~actrio.tools.Tool` made with ``@tool``; its parameter
names are the catalog's for its capability, so a policy such as
``deny fs.write(path) if not path.within(workspace)`` binds them. They read
the call's :class:`~actrio.tools._context.ToolContext`: relative paths and
the shell's working directory are its ``root`` (the workspace, or the
current directory outside a runtime), writes refuse its ``protected``
names, and ``fetch_url`` uses its shared ``http`` client.

**nemoir-runtime parity.** The names are nemoir-runtime's: ``read_file``,
``write_file``, ``edit_file``, ``run_shell``, and for the human channel
``ask_user`` (``user.elicit``) and ``confirm_user`` (``user.confirm``).
``fetch_url`` is actrio's own. ``confirm_user`` and ``ask_user`` ask the
runtime's human channel (:mod:`actrio.human`); without one they fail at
once with :class:`~actrio.human.HumanUnavailable` instead of waiting.

**The policy boundary.** Official tools are safe by construction: path
containment and protected names are enforced by the tool itself too (a
symlink-free, directory-relative open chain from the root, so a link or a
swap cannot move a read or write outside it; PT-02 … PT-08), and output is
bounded (B-05), whatever the policies said. Authorization is the policies'
job: whether a path may be read, a command run or a host fetched at all is
decided before the tool runs, never by the tool. The shell is not a path
sandbox: a command the policies allow can reach what the user can.

The machinery is public for tools of your own: :func:`run_command` (a
process group, a minimal environment without provider keys, capped
output) and :func:`fetch` (a capped body, checked redirects, redacted
secrets).

Errors, all :class:`~actrio.tools.ToolError`::

    ToolError
    ├── FileToolError             a file could not be read or written (OSError)
    │   ├── PathRefused           the safe opener refused the path (PermissionError)
    │   └── FileChangedDuringEdit another writer changed the file edit_file read
    ├── EditError                 edit_file's old text picks no single place (ValueError)
    │   ├── EmptyOldText
    │   ├── OldTextNotFound
    │   └── OldTextAmbiguous
    ├── InvalidCommand            an unusable command or cwd (ValueError)
    ├── CommandUsageError         run_command misused (UsageError, ValueError)
    │   └── SecretInEnvironment   env names a secret-looking variable
    ├── CommandNotStarted         the program could not be started (OSError)
    ├── InvalidRequest            a bad method, URL, header or body (ValueError)
    ├── FetchUsageError           fetch misused (UsageError, ValueError)
    ├── RedirectRefused           a redirect hop was not allowed (ValueError)
    │   └── TooManyRedirects
    ├── FetchTimeout              the exchange took too long (TimeoutError)
    └── FetchFailed               the transport failed (ConnectionError)
"""

from actrio.tools.official._fetch import FetchFailed as FetchFailed
from actrio.tools.official._fetch import FetchResult as FetchResult
from actrio.tools.official._fetch import FetchTimeout as FetchTimeout
from actrio.tools.official._fetch import FetchUsageError as FetchUsageError
from actrio.tools.official._fetch import InvalidRequest as InvalidRequest
from actrio.tools.official._fetch import RedirectRefused as RedirectRefused
from actrio.tools.official._fetch import TooManyRedirects as TooManyRedirects
from actrio.tools.official._fetch import fetch as fetch
from actrio.tools.official._fs import EDIT_MAX_BYTES as EDIT_MAX_BYTES
from actrio.tools.official._fs import READ_MAX_BYTES as READ_MAX_BYTES
from actrio.tools.official._fs import EditError as EditError
from actrio.tools.official._fs import EmptyOldText as EmptyOldText
from actrio.tools.official._fs import FileChangedDuringEdit as FileChangedDuringEdit
from actrio.tools.official._fs import FileToolError as FileToolError
from actrio.tools.official._fs import OldTextAmbiguous as OldTextAmbiguous
from actrio.tools.official._fs import OldTextNotFound as OldTextNotFound
from actrio.tools.official._fs import PathRefused as PathRefused
from actrio.tools.official._fs import edit_file as edit_file
from actrio.tools.official._fs import read_file as read_file
from actrio.tools.official._fs import write_file as write_file
from actrio.tools.official._http import FETCH_MAX_BYTES as FETCH_MAX_BYTES
from actrio.tools.official._http import FETCH_TIMEOUT as FETCH_TIMEOUT
from actrio.tools.official._http import FetchUrlResult as FetchUrlResult
from actrio.tools.official._http import fetch_url as fetch_url
from actrio.tools.official._human import ask_user as ask_user
from actrio.tools.official._human import confirm_user as confirm_user
from actrio.tools.official._process import CommandNotStarted as CommandNotStarted
from actrio.tools.official._process import CommandResult as CommandResult
from actrio.tools.official._process import CommandUsageError as CommandUsageError
from actrio.tools.official._process import InvalidCommand as InvalidCommand
from actrio.tools.official._process import SecretInEnvironment as SecretInEnvironment
from actrio.tools.official._process import run_command as run_command
from actrio.tools.official._shell import SHELL_MAX_OUTPUT as SHELL_MAX_OUTPUT
from actrio.tools.official._shell import SHELL_TIMEOUT as SHELL_TIMEOUT
from actrio.tools.official._shell import ShellResult as ShellResult
from actrio.tools.official._shell import run_shell as run_shell

__all__ = (
    "CommandNotStarted",
    "CommandResult",
    "CommandUsageError",
    "EDIT_MAX_BYTES",
    "EditError",
    "EmptyOldText",
    "FETCH_MAX_BYTES",
    "FETCH_TIMEOUT",
    "FetchFailed",
    "FetchResult",
    "FetchTimeout",
    "FetchUrlResult",
    "FetchUsageError",
    "FileChangedDuringEdit",
    "FileToolError",
    "InvalidCommand",
    "InvalidRequest",
    "OldTextAmbiguous",
    "OldTextNotFound",
    "PathRefused",
    "READ_MAX_BYTES",
    "RedirectRefused",
    "SHELL_MAX_OUTPUT",
    "SHELL_TIMEOUT",
    "SecretInEnvironment",
    "ShellResult",
    "TooManyRedirects",
    "ask_user",
    "confirm_user",
    "edit_file",
    "fetch",
    "fetch_url",
    "read_file",
    "run_command",
    "run_shell",
    "write_file",
)
