"""URLs as policies see them: ``http.fetch(url)`` binds a :class:`PolicyURL`.

A policy such as ``deny http.fetch(url) if not url.host_in(["api.github.com"])``
calls methods on the bound value. What each one guarantees:

================================  ==============================================
method                            meaning
================================  ==============================================
``eq(text)``                      the raw URL text equals ``text`` exactly
``starts_with`` / ``contains``    raw-text tests: fine for deny rules, never
                                  safe for allow rules (``https://a.com@evil``)
``scheme()``                      the scheme, lowercased (``"https"``)
``host()``                        the host, lowercased, IDNA-encoded, without
                                  a trailing dot; ``""`` when there is none
``host_in(hosts)``                the host equals one of ``hosts``; an entry
                                  starting with ``.`` also matches subdomains
                                  (``".github.com"``: ``api.github.com``)
``port()``                        the port given or the scheme's default
``has_credentials()``             the URL carries ``user[:password]@``
``is_ip()``                       the host is an IP address literal
``is_private()``                  the host is a loopback, private, link-local
                                  or reserved address, or ``localhost``
================================  ==============================================

A URL that cannot be parsed (bad port, bad IPv6 literal, a host that is not
valid IDNA, control characters) raises :class:`InvalidURL` when the value is
built, so the engine denies the call (fail closed).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("InvalidURL", "PolicyURL")

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


class InvalidURL(ValueError):
    """A URL that cannot be parsed; the message says why."""


def _host(parts: urllib.parse.SplitResult, raw: str) -> str:
    host = parts.hostname or ""
    host = host.rstrip(".")
    if not host:
        return ""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidURL(f"URL {raw[:200]!r}: host {host!r} is not a valid name") from None


@attrs.frozen
class PolicyURL:
    """A URL bound for a policy; see the module docstring for the methods.

    Attributes:
        raw: The URL exactly as given.
    """

    POLICY_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "eq",
            "starts_with",
            "contains",
            "scheme",
            "host",
            "host_in",
            "port",
            "has_credentials",
            "is_ip",
            "is_private",
        }
    )

    raw: str
    _scheme: str = attrs.field(alias="scheme_")
    _host: str = attrs.field(alias="host_")
    _port: int | None = attrs.field(alias="port_")
    _credentials: bool = attrs.field(alias="credentials_")

    @classmethod
    def parse(cls, raw: str) -> PolicyURL:
        """Parse ``raw``.

        Raises:
            InvalidURL: If it is not a string, holds control characters or
                whitespace, or its port, IPv6 literal or host is invalid.
        """
        if not isinstance(raw, str):
            raise InvalidURL(f"a URL must be a string, got {type(raw).__name__}")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
            raise InvalidURL(f"URL {raw[:200]!r}: control characters or whitespace")
        try:
            parts = urllib.parse.urlsplit(raw)
            port = parts.port
        except ValueError as exc:
            raise InvalidURL(f"URL {raw[:200]!r}: {exc}") from None
        scheme = parts.scheme.lower()
        return cls(
            raw,
            scheme_=scheme,
            host_=_host(parts, raw),
            port_=port if port is not None else _DEFAULT_PORTS.get(scheme),
            credentials_=parts.username is not None or parts.password is not None,
        )

    def eq(self, text: str) -> bool:
        """Whether the raw URL equals ``text`` exactly."""
        return self.raw == text

    def starts_with(self, prefix: str) -> bool:
        """Whether the raw URL starts with ``prefix`` (a raw-text test)."""
        return self.raw.startswith(prefix)

    def contains(self, text: str) -> bool:
        """Whether ``text`` occurs in the raw URL (a raw-text test)."""
        return text in self.raw

    def scheme(self) -> str:
        """The scheme, lowercased."""
        return self._scheme

    def host(self) -> str:
        """The host, lowercased and IDNA-encoded; ``""`` when there is none."""
        return self._host

    def host_in(self, hosts: Sequence[str]) -> bool:
        """Whether the host is one of ``hosts`` (``.example.com``: and subdomains)."""
        if isinstance(hosts, str) or not all(isinstance(h, str) for h in hosts):
            raise TypeError("host_in() takes a list of host names")
        host = self._host
        if not host:
            return False
        for entry in hosts:
            wanted = entry.lower().rstrip(".")
            if wanted.startswith("."):
                if host.endswith(wanted) or host == wanted[1:]:
                    return True
            elif host == wanted:
                return True
        return False

    def port(self) -> int | None:
        """The port given, or the scheme's default (``None`` if unknown)."""
        return self._port

    def has_credentials(self) -> bool:
        """Whether the URL carries ``user[:password]@``."""
        return self._credentials

    def is_ip(self) -> bool:
        """Whether the host is an IP address literal."""
        return self._address() is not None

    def is_private(self) -> bool:
        """Whether the host is ``localhost`` or a non-public address literal."""
        if self._host == "localhost" or self._host.endswith(".localhost"):
            return True
        address = self._address()
        return address is not None and not address.is_global

    def _address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self._host)
        except ValueError:
            return None

    def __str__(self) -> str:
        return self.raw
