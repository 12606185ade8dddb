"""What a request must show before the server answers it.

A local server is reachable from every web page the user visits: such a page can send requests
to 127.0.0.1 (cross-site request forgery) or make its own host name resolve to 127.0.0.1 (DNS
rebinding). The checks here answer both:

- the Host header must name this server exactly: a loopback address literal (``127.x.y.z``,
  ``[::1]``) or ``localhost`` in any case, with an optional numeric port, when the server listens
  on loopback without a token; a page on ``127.evil.example`` never gets an answer;
- a request that changes state (anything but GET, HEAD and OPTIONS) must come from the page the
  server itself serves: a browser's ``Sec-Fetch-Site`` must say same-origin (or none, typed by
  the user), an ``Origin`` (else ``Referer``) header must name the same host and port as the Host
  header, and the body must be declared JSON, which no cross-site form or simple request can send
  without a CORS preflight that this server never grants;
- tokens are compared in constant time as bytes, so a token with any characters is refused, not
  a crash.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PORT = re.compile(r"[0-9]{1,5}")


def split_host(header: str) -> tuple[str, str | None] | None:
    """``"[::1]:80"`` -> ``("::1", "80")``; ``"LocalHost"`` -> ``("localhost", None)``; None when
    the header is not a well-formed host with an optional numeric port."""
    header = header.strip()
    if header.startswith("["):
        end = header.find("]")
        if end < 0:
            return None
        name, rest = header[1:end], header[end + 1 :]
        if rest and not (rest.startswith(":") and _PORT.fullmatch(rest[1:])):
            return None
        return name.lower(), rest[1:] or None
    name, sep, port = header.rpartition(":")
    if not sep:
        name, port = header, ""
    elif not _PORT.fullmatch(port):
        return None
    if not name:
        return None
    return name.lower(), port or None


def is_loopback_name(name: str) -> bool:
    """Exactly ``localhost`` or a loopback IP literal (127.0.0.0/8, ::1); nothing that merely
    starts like one."""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_refusal(header: str | None) -> str | None:
    """Why a Host header is refused on a loopback server without a token, or None."""
    parsed = split_host(header or "")
    if parsed is None or not is_loopback_name(parsed[0]):
        shown = (header or "")[:100]
        return (
            f"This server answers only requests to 127.0.0.1 or localhost, not {shown!r}. To "
            "serve other machines, start it with --host and use the URL with the token that it "
            "prints."
        )
    return None


def cross_site_refusal(method: str, headers) -> tuple[int, str] | None:
    """(status, message) when a state-changing request may come from another site, or None.

    `headers` is a case-insensitive mapping (Starlette's Headers)."""
    if method.upper() in SAFE_METHODS:
        return None
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return 403, (
            f"Refused a {method} request sent from another site (Sec-Fetch-Site: {fetch_site}). "
            "Start jobs from the pathlens page itself."
        )
    source = headers.get("origin") or headers.get("referer")
    if source is not None and not _same_origin(source, headers.get("host") or ""):
        return 403, (
            f"Refused a {method} request from {source[:100]!r}: only the page this server "
            "serves may change its state."
        )
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return 415, (
            f"Send the request body as JSON with Content-Type: application/json (got "
            f"{content_type or 'none'!r})."
        )
    return None


def _same_origin(source: str, host_header: str) -> bool:
    if source == "null":  # sandboxed frames and some redirects: never this server's page
        return False
    try:
        parts = urlsplit(source)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = split_host(host_header)
    if host is None:
        return False
    default = "443" if parts.scheme == "https" else "80"
    return parts.hostname.lower() == host[0] and str(port or default) == (host[1] or default)


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison of any given string (non-ASCII included) with the token."""
    if not given:
        return False
    return secrets.compare_digest(
        given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")
    )


def is_loopback(host: str) -> bool:
    """Whether a bind address (``127.0.0.1``, ``::1``, ``[::1]``, ``localhost``) is loopback."""
    return is_loopback_name(host.strip().strip("[]").lower())
