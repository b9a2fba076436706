"""What every HTTP server of ours shares: who may listen where, the bearer token, one-line errors.

Errors are JSON in the OpenAI shape, ``{"error": {"message": …, "type": …, "code": <status>}}``,
with a one-line message; a library error maps to a status by its kind (a full queue is 429 with
Retry-After, a bad request 400).
"""
from __future__ import annotations

import hmac
import ipaddress

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from .admission import QueueFull
from .errors import (BusyError, ConfigError, CorpusError, IndexCorruptError, IndexLockedError, IndexMismatchError,
                     IndexMissingError, RagError)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ConfigError(f"listening on {host} would answer other machines: set a token with "
                          "--token or RAG_API_TOKEN (clients send it as 'Authorization: Bearer …')")


def token_ok(authorization: str | None, token: str) -> bool:
    """Does an Authorization header carry the bearer ``token``? (compared in constant time)"""
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def unauthorized() -> JSONResponse:
    return error(401, "a valid bearer token is required (Authorization: Bearer …)", "authentication_error",
                 {"WWW-Authenticate": "Bearer"})


def bearer_only(app, token: str):
    """An ASGI app that lets only requests with the bearer ``token`` reach ``app``."""
    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if not token_ok(headers.get("authorization"), token):
                await unauthorized()(scope, receive, send)
                return
        await app(scope, receive, send)
    return guarded


def error(status: int, message: str, kind: str = "invalid_request_error", headers: dict | None = None) -> JSONResponse:
    message = " ".join(str(message).split()) or "error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


def validation_message(exc: RequestValidationError) -> str:
    errs = exc.errors()
    if not errs:
        return "the request is not valid"
    e = errs[0]
    if e.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "body"
    return f"{where}: {e.get('msg', 'invalid')}"


def rag_error(exc: RagError) -> JSONResponse:
    """The response for a library error: its one-line message, with the status its kind calls for."""
    from ui.corpus import UploadRejected

    if isinstance(exc, QueueFull):
        return error(429, str(exc), "rate_limit_error", {"Retry-After": str(exc.retry_after)})
    if isinstance(exc, BusyError):
        return error(503, str(exc), "server_busy", {"Retry-After": "10"})
    if isinstance(exc, (ConfigError, UploadRejected)):
        return error(400, str(exc))
    if isinstance(exc, (IndexMissingError, IndexMismatchError, IndexCorruptError, IndexLockedError, CorpusError)):
        return error(409, str(exc), "not_ready")
    return error(500, str(exc), "server_error")


def _host_of(value: str) -> str:
    """The host of a Host header or an Origin (``http://[::1]:8000`` → ``::1``)."""
    value = value.split("://", 1)[-1].split("/", 1)[0]
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def foreign_browser_request(host_header: str | None, origin: str | None) -> str:
    """Why a request to a server without a token cannot be from this computer's own clients, or ''.

    Without a token, only loopback callers are expected. A web page in a browser could still reach
    127.0.0.1: a form posted from another site carries that site's Origin, and a site that rebinds
    its own name to 127.0.0.1 sends its name as Host. Both are refused."""
    if host_header and not is_loopback(_host_of(host_header)):
        return f"requests for host {_host_of(host_header)!r} are not served without a token"
    if origin and (origin == "null" or not is_loopback(_host_of(origin))):
        return "requests from web pages of other sites are not served without a token"
    return ""


def check_port(host: str, port: int) -> None:
    """A clear error now, instead of the server's own after start-up, when ``host:port`` is taken."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                              "choose another port with --port") from None
