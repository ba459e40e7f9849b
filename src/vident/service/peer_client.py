"""Calling a peer: one signed request, its signed answer checked, retried with backoff.

A peer that does not answer (down, restarting, overloaded: no connection, a timeout, 5xx or
429) is tried again after 0.5, 1, 2, 4... seconds up to ``retries`` times; each try is signed
afresh, so a retry is never refused as a replay. A refusal (4xx) is not retried: it says what
to fix. An answer whose signature does not verify with the peer's key is refused, so nothing
between the two instances can forge or alter what the peer said.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from vident.security.identity import Identity
from vident.security.signing import (
    NONCE,
    SIGNATURE,
    SignatureRefused,
    sign_request,
    verify_response,
)
from vident.service.errors import ServiceError

#: The largest answer read from a peer (a batch of 1,000 records is about 1 MB).
MAX_ANSWER = 64 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PeerUnavailable(ServiceError):
    """The peer did not answer after every retry: run the same command again later."""

    status = 503
    title = "peer unavailable"


class PeerRefused(ServiceError):
    """The peer refused the request, or its answer could not be trusted."""

    status = 502
    title = "peer refused"


@dataclass(frozen=True, slots=True)
class PeerAddress:
    name: str
    url: str
    signing_key: bytes


@dataclass
class Caller:
    """Signs and sends requests to one peer as ``identity``."""

    identity: Identity
    peer: PeerAddress
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    sleep: Callable[[float], None] = time.sleep

    def call(self, method: str, route: str, payload: object | None = None) -> object:
        """``route`` under the peer's ``/api/v1``; the decoded JSON answer."""
        body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        url = self.peer.url + "/api/v1" + route
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        last = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            headers = sign_request(self.identity, self.peer.name, method, path, body)
            headers["Content-Type"] = "application/json"
            request = urllib.request.Request(
                url, data=body if method != "GET" else None, method=method, headers=headers
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    raw = answer.read(MAX_ANSWER + 1)
                    status, signature = answer.status, answer.headers.get(SIGNATURE, "")
            except urllib.error.HTTPError as exc:
                detail = _detail(exc.read(4096))
                if exc.code in RETRY_STATUSES:
                    last = f"{exc.code} {detail}"
                    continue
                raise PeerRefused(
                    f"{self.peer.name} refused {route}: {exc.code} {detail}"
                ) from None
            except (OSError, urllib.error.URLError) as exc:
                last = str(getattr(exc, "reason", exc))[:200]
                continue
            if len(raw) > MAX_ANSWER:
                raise PeerRefused(f"{self.peer.name} answered more than {MAX_ANSWER} bytes")
            try:
                verify_response(signature, self.peer.signing_key, headers[NONCE], status, raw)
            except SignatureRefused as exc:
                raise PeerRefused(
                    f"the answer of {self.peer.name} is not signed by it: {exc}"
                ) from None
            try:
                found: object = json.loads(raw)
            except ValueError:
                raise PeerRefused(f"{self.peer.name} answered something that is not JSON") from None
            return found
        raise PeerUnavailable(
            f"{self.peer.name} did not answer at {self.peer.url} ({last}): try again later"
        )


def _detail(raw: bytes) -> str:
    try:
        problem = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:200]
    if isinstance(problem, dict):
        return str(problem.get("detail") or problem.get("title") or "")[:200]
    return ""
