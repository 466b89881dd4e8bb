"""The HTTP tool: ``fetch_url`` (``http.fetch``), over :func:`fetch`.

The request goes through the runtime's shared client
(:attr:`ToolContext.http <actrio.tools._context.ToolContext.http>`) when
there is one; otherwise through a client opened for the call with
``trust_env=False``, so no proxy variable, ``.netrc`` credential or
certificate setting of the environment applies to a URL the model chose
(give the runtime a configured client to use a proxy). The body is cut at
:data:`FETCH_MAX_BYTES` (B-05) and the exchange at :data:`FETCH_TIMEOUT`
seconds. Redirects are not followed: the 3xx response, with its
``location`` header, is the result, so a next request to another place is
a new call the policies see.

The schema is not strict (OpenAI's strict mode has no form for the free
``headers`` object); every other parameter is still checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs
import httpx

from actrio.tools._context import current_tool_context
from actrio.tools._tool import tool
from actrio.tools.official._fetch import FetchResult, fetch

__all__ = ("FETCH_MAX_BYTES", "FETCH_TIMEOUT", "FetchUrlResult", "fetch_url")

FETCH_MAX_BYTES: Final = 256 * 1024
"""Bytes of a response body ``fetch_url`` keeps."""

FETCH_TIMEOUT: Final = 30.0
"""Seconds a ``fetch_url`` exchange may take."""


def _plain(headers: Mapping[str, str]) -> Mapping[str, str]:
    return dict(headers)


@attrs.frozen
class FetchUrlResult:
    """What ``fetch_url`` returns to the model (rendered as JSON).

    Attributes:
        url: The URL requested, without credentials.
        status: The status code.
        headers: Response headers, lower-case names, secrets redacted (see
            :data:`~actrio.tools.official._fetch.REDACTED_HEADERS`).
        content_type: The ``content-type`` header, if any.
        truncated: Whether the body was longer than :data:`FETCH_MAX_BYTES`.
        bytes_total: The body's whole size when known.
        text: The body decoded as text, or ``None`` when it is binary.
    """

    url: str
    status: int
    headers: Mapping[str, str] = attrs.field(converter=_plain, hash=False)
    content_type: str | None
    truncated: bool
    bytes_total: int | None
    text: str | None

    @classmethod
    def of(cls, result: FetchResult) -> FetchUrlResult:
        """The model's view of a :class:`FetchResult`."""
        return cls(
            url=result.url,
            status=result.status,
            headers=result.headers,
            content_type=result.content_type,
            truncated=result.truncated,
            bytes_total=result.bytes_total_known,
            text=result.text,
        )


@tool(name="fetch_url", capability="http.fetch", strict=False)
async def fetch_url(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> FetchUrlResult:
    """Make an HTTP request and return the status, headers and (capped) text of the response.

    Args:
        url: The absolute http or https URL.
        method: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
        headers: Request headers to send.
        body: The request body, sent as UTF-8.

    Returns:
        The status, the headers and the body's text (``None`` when binary).
    """
    client = current_tool_context().http
    if client is not None:
        result = await _fetch(client, url, method, headers, body)
    else:
        async with httpx.AsyncClient(trust_env=False) as own:
            result = await _fetch(own, url, method, headers, body)
    return FetchUrlResult.of(result)


async def _fetch(
    client: httpx.AsyncClient,
    url: str,
    method: str,
    headers: dict[str, str] | None,
    body: str | None,
) -> FetchResult:
    return await fetch(
        url,
        method=method,
        headers=headers,
        body=body,
        client=client,
        max_bytes=FETCH_MAX_BYTES,
        timeout=FETCH_TIMEOUT,
    )
