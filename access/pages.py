"""Server-rendered HTML bits of access: the login page and the CSRF meta tag pages embed.

No inline script or style anywhere (the CSP forbids both): pages link /static files. Every
value is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from access.principal import Principal

LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ticketflow: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/login.css">
</head>
<body>
<main>
<h1>ticketflow</h1>
{message}
<form method="post" action="/login">
  <input type="hidden" name="csrf_token" value="{csrf}">
  <input type="hidden" name="next" value="{next}">
  <label>Username <input name="username" autocomplete="username" required autofocus
    value="{username}" maxlength="100"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"
    required maxlength="1024"></label>
  <button type="submit">Log in</button>
</form>
</main>
</body>
</html>
"""


def csrf_meta(token: str | Principal | None) -> str:
    """``<meta name="csrf-token" content="...">`` for a page's scripts to send back as
    X-CSRF-Token; empty for a caller without a session."""
    value = token.csrf_token if isinstance(token, Principal) else token
    return f'<meta name="csrf-token" content="{escape(value)}">' if value else ""


def login_page(csrf: str, next_url: str = "/ui", message: str = "", username: str = "") -> str:
    shown = f'<p class="message" role="alert">{escape(message)}</p>' if message else ""
    return LOGIN_PAGE.format(
        message=shown, csrf=escape(csrf), next=escape(next_url), username=escape(username)
    )


def safe_next(value: str | None, default: str = "/ui") -> str:
    """Where to go after login: a path on this site only (no "//host" or "https://...")."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(c in value for c in "\r\n\t"):
        return default
    return value
