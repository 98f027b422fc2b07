"""The UI's request guard: Host and Origin checks, the access token, and a body cap enforced while streaming.

One ASGI middleware in front of every route (pages, static files, JSON), so no view can forget a check:

1. Host: the Host header must name an allowed host (loopback names, the bound address, the operator's
   `--allowed-host` names), else 421. This is what stops DNS rebinding: a page of evil.example whose DNS
   now points at this server still sends `Host: evil.example`.
2. Token: a `public` server (bound beyond loopback, or told `--require-token`) answers 401 to any request
   without the token. The token is accepted as `Authorization: Bearer T`, `X-Curation-Token: T`, or the
   HttpOnly, SameSite=Strict cookie that a one-time visit to any page with `?token=T` sets (the visit is
   redirected to the same address without the token, so it leaves the address bar and history). The
   cookie holds an HMAC of the token, not the token, and is named after the port.
   A loopback server may also have a token: reading needs none, writing labels does (see views/pdfs.py).
3. Origin: a request other than GET/HEAD that carries an Origin header must come from this server's own
   origin (same host and port as the Host header) or from an operator-listed host, else 403.
4. Body: a Content-Length over `max_body` is answered 413 before a byte is read; otherwise the body is
   counted while the app streams it and the app is stopped with 413 (Connection: close) as soon as the
   count passes `max_body`, chunked bodies included.
Every answer gets the security headers: CSP, nosniff, no framing, no-store by default, and
Referrer-Policy same-origin (no referrer leaves the site; with no-referrer a browser's own form posts
would carry `Origin: null` and fail the Origin check).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"0.0.0.0", "::", ""})
COOKIE = "curation_ui_token"  # + "_<port>": two UIs on one machine keep their own cookies
MIN_TOKEN_CHARS = 16
MAX_BODY = 16 * 1024  # the only body the UI takes is the A/B label form: a task id, a choice, a name, a token
SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]


def host_name(value: str) -> str:
    """The host part of a Host header or bind address, normalised: lower case, no port, no brackets, no
    trailing dot; "" (allowed nowhere) when what follows the name is not a port."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8765
        value, _, rest = value[1:].partition("]")
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return ""
    elif value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        value, port = value.split(":")
        if not port.isdigit():
            return ""
    return value.rstrip(".")


def is_loopback(bind: str) -> bool:
    """True for the addresses the UI treats as loopback: 127.0.0.1, localhost, ::1."""
    return host_name(bind) in LOOPBACK_NAMES


def check_token(token: str | None) -> None:
    """Refuse a token too short to resist guessing (ValueError with the reason)."""
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the UI token must be at least {MIN_TOKEN_CHARS} characters long "
                         f"(this one has {len(token)}); leave it unset to have a random one generated")


@dataclass(frozen=True)
class Policy:
    """Who may reach the UI: the token, whether every request needs it, the allowed Host names, the body cap."""

    token: str | None
    public: bool
    hosts: frozenset[str]
    operator_hosts: frozenset[str] = field(default_factory=frozenset)
    max_body: int = MAX_BODY

    @classmethod
    def make(cls, bind: str, token: str | None, public: bool | None = None, allowed_hosts: Iterable[str] = (),
             max_body: int = MAX_BODY) -> Policy:
        """The policy of a server bound to `bind`: public unless loopback (or `public` says otherwise)."""
        token = token or None
        check_token(token)
        public = (not is_loopback(bind)) if public is None else public
        if public and token is None:
            raise ValueError("a UI reachable beyond loopback needs a token (--token or $CURATION_UI_TOKEN)")
        extra = frozenset(host_name(h) for h in allowed_hosts if host_name(h))
        bound = host_name(bind)
        hosts = LOOPBACK_NAMES | extra | (frozenset() if bound in WILDCARD else {bound})
        return cls(token=token, public=public, hosts=hosts, operator_hosts=extra, max_body=max_body)

    def token_ok(self, given: str | None) -> bool:
        """Constant-time comparison with the token (False when there is none to compare with)."""
        return bool(self.token) and given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def cookie_value(self) -> str:
        """What the token cookie holds: a digest of the token (cookie-safe, and not the token itself)."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"curation-ui-cookie", hashlib.sha256).hexdigest()

    def cookie_ok(self, given: str | None) -> bool:
        """Whether `given` is the token cookie's value (constant-time)."""
        return bool(self.token) and given is not None and hmac.compare_digest(given.encode(), self.cookie_value().encode())


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes the cap; the app's handler renders the 413."""

    def __init__(self, limit: int):
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class Guard:
    """ASGI middleware applying `Policy` to every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, policy: Policy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # the UI has none; never accept one
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        pol = self.policy
        headers = _headers(scope)
        method = scope["method"]
        host = headers.get("host", "")
        if host_name(host) not in pol.hosts:
            await _plain(send, 421, "this server does not answer for that host name (see --allowed-host)")
            return
        given, cookie, query = _given_token(headers, scope)
        authed = pol.token_ok(given) or pol.cookie_ok(cookie)
        if query is not None and pol.token is not None and method in SAFE_METHODS:
            if not pol.token_ok(query):
                await _plain(send, 401, "wrong token", [(b"www-authenticate", b"Bearer")])
                return
            await _set_cookie_redirect(scope, send, pol.cookie_value())
            return
        if pol.public and not authed:
            await _plain(send, 401, "this server needs its access token: open the address `curation ui` printed "
                                    "(it ends in ?token=...), or send `Authorization: Bearer <token>`",
                         [(b"www-authenticate", b"Bearer")])
            return
        if method not in SAFE_METHODS and "origin" in headers and not self._origin_ok(headers["origin"], host):
            await _plain(send, 403, "cross-origin request refused")
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _plain(send, 400, "bad Content-Length")
                return
            if int(length) > pol.max_body:
                await _plain(send, 413, f"request body larger than {pol.max_body} bytes", close=True)
                return
        scope.setdefault("state", {})["token_ok"] = authed
        await self.app(scope, self._capped(receive), self._with_headers(send))

    def _origin_ok(self, origin: str, host: str) -> bool:
        """Same origin as the request's Host (host and port), or an operator-listed host."""
        try:
            parts = urlsplit(origin.strip())
            name, port = (parts.hostname or "").rstrip("."), parts.port
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not name:
            return False  # includes "null" (sandboxed frames, file: pages)
        if name in self.policy.operator_hosts:
            return True
        default = 443 if parts.scheme == "https" else 80
        return name == host_name(host) and (port or default) == _port(host, default)

    def _capped(self, receive: Receive) -> Receive:
        limit, seen = self.policy.max_body, 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return capped

    def _with_headers(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(message, close=message.get("status") == 413)
            await send(message)

        return sending


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        if name == "cookie" and name in out:
            out[name] += "; " + v.decode("latin-1")
        else:
            out.setdefault(name, v.decode("latin-1"))
    return out


def cookie_name(scope: Scope) -> str:
    """The token cookie's name for the server answering `scope` (cookies do not tell ports apart)."""
    server = scope.get("server") or ("", 0)
    return f"{COOKIE}_{server[1]}" if server[1] else COOKIE


def _port(host: str, default: int) -> int:
    """The port of a Host header value ("name:8765", "[::1]:8765"), else `default`."""
    tail = host.rsplit("]", 1)[-1] if host.startswith("[") else host
    if tail.count(":") == 1 and tail.rsplit(":", 1)[1].isdigit():
        return int(tail.rsplit(":", 1)[1])
    return default


def _given_token(headers: dict[str, str], scope: Scope) -> tuple[str | None, str | None, str | None]:
    """(token from a header, token cookie, token from the query string) as the client gave them."""
    given = None
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        given = auth[7:].strip()
    elif headers.get("x-curation-token"):
        given = headers["x-curation-token"].strip()
    cookie = None
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers["cookie"])
        except Exception:  # noqa: BLE001  (a malformed cookie header is no token)
            jar = SimpleCookie()
        name = cookie_name(scope)
        if name in jar:
            cookie = jar[name].value
    query = None
    for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True):
        if k == "token":
            query = v
    return given, cookie, query


def _add_headers(message: Message, close: bool = False) -> None:
    have = {k.lower() for k, _ in message.get("headers", [])}
    extra = [(k, v) for k, v in HEADERS if k not in have]
    if b"cache-control" not in have:
        extra.append((b"cache-control", b"no-store"))
    if close and b"connection" not in have:
        extra.append((b"connection", b"close"))  # stop a client that is still sending the body
    message["headers"] = list(message.get("headers", [])) + extra


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None,
                 close: bool = False) -> None:
    body = (text + "\n").encode()
    start: dict[str, Any] = {"type": "http.response.start", "status": status,
                             "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                         (b"content-length", str(len(body)).encode()), *(headers or [])]}
    _add_headers(start, close=close)
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _set_cookie_redirect(scope: Scope, send: Send, value: str) -> None:
    """303 to the same address without `token`, setting the HttpOnly, SameSite=Strict token cookie."""
    rest = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            if k != "token"]
    location = quote(scope.get("root_path", "") + scope["path"]) + ("?" + urlencode(rest) if rest else "")
    if not location.startswith("/") or location.startswith("//"):
        location = "/"  # never a redirect to another site ("//evil.example/")
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    cookie = f"{cookie_name(scope)}={value}; Path=/; HttpOnly; SameSite=Strict{secure}"
    start: dict[str, Any] = {"type": "http.response.start", "status": 303,
                             "headers": [(b"location", location.encode("ascii")),
                                         (b"set-cookie", cookie.encode("latin-1")),
                                         (b"content-length", b"0")]}
    _add_headers(start)
    await send(start)
    await send({"type": "http.response.body", "body": b""})
