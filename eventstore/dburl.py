"""Database URLs: which recorder one names, and a form of it that is safe to show.

The password in ``postgresql://user:password@host/db`` (or ``?password=``) must never reach a
log line, an error or the terminal: everything shown goes through :func:`redact`.
"""

from __future__ import annotations

from urllib.parse import unquote, unquote_plus, urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")
HIDDEN = "***"


def is_postgres_url(url: str) -> bool:
    return url.partition("://")[0].lower() in POSTGRES_SCHEMES and "://" in url


def secrets_in(url: str) -> list[str]:
    """The password of ``url`` as written and percent-decoded (empty when it has none)."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
        netloc_password = parts.password
    except ValueError:  # unparsable: hide everything between "://" and "@"
        userinfo = url.partition("://")[2].rpartition("@")[0]
        return [userinfo] if userinfo else []
    if netloc_password:
        raw = parts.netloc.rpartition("@")[0].partition(":")[2]
        found += [raw, unquote(raw)]
    for pair in parts.query.split("&"):
        key, _, raw = pair.partition("=")
        if unquote_plus(key) == "password":
            found += [raw, unquote_plus(raw)]
    # Longest first, so a password containing another one is hidden whole.
    return sorted({s for s in found if s}, key=len, reverse=True)


def redact(text: str, url: str) -> str:
    """``text`` with every form of ``url``'s password replaced by ``***``."""
    for secret in secrets_in(url):
        text = text.replace(secret, HIDDEN)
    return text
