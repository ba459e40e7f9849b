"""Private matching of exact hashes: which of our hashes a peer holds, and nothing more.

Elliptic-curve Diffie-Hellman private set intersection (the ``openmined-psi`` package): the
querying instance blinds each of its hashes with a secret key of its own and sends them; the
answering instance blinds them again with its key, and sends back those and its own set
blinded with its key only. Only the querier can finish: it removes its blinding and sees which
of its hashes meet the answering set. The answering instance sees blinded points it cannot
invert, so it learns how many hashes were asked and nothing of those that do not match. See
docs/interconnect.md for what this protects and what it does not.

Items are ``kind:hex`` strings, so an MD5 never meets a SHA-256 that happens to share digits.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import private_set_intersection.python as psi
from google.protobuf.message import DecodeError

#: The false-positive rate the setup is built for (raw sets have none: exact comparison).
_FPR = 1e-9


def psi_item(kind: str, value: bytes) -> str:
    return f"{kind}:{value.hex()}"


class PrivateMatchError(ValueError):
    """A message of the private matching protocol that cannot be read."""


class PrivateQuery:
    """The querying side: blinds its items, then finds which the answer matched."""

    def __init__(self, items: list[str]) -> None:
        self.items = items
        self._client = psi.client.CreateWithNewKey(True)

    def request(self) -> bytes:
        return bytes(self._client.CreateRequest(self.items).SerializeToString())

    def matched(self, setup: bytes, response: bytes) -> list[str]:
        """The items of this query that the answering set holds."""
        server_setup, server_response = psi.ServerSetup(), psi.Response()
        try:
            server_setup.ParseFromString(setup)
            server_response.ParseFromString(response)
            found = self._client.GetIntersection(server_setup, server_response)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise PrivateMatchError(f"the answer cannot be read: {str(exc)[:100]}") from None
        return [self.items[i] for i in sorted(found) if 0 <= i < len(self.items)]


class PrivateAnswerer:
    """The answering side, one key per process; its blinded set is kept while unchanged.

    Blinding a set costs one curve multiplication per hash (about 0.13 ms), so a hub holding
    a million exact hashes builds it once per change of its shared list, not per query.
    """

    def __init__(self) -> None:
        self._server = psi.server.CreateWithNewKey(True)
        self._setups: dict[tuple[object, ...], bytes] = {}
        self._lock = threading.Lock()

    def answer(
        self, version: tuple[object, ...], items: Callable[[], list[str]], request: bytes
    ) -> tuple[bytes, bytes]:
        """(setup, response) for ``request`` against the set ``items()`` at ``version``."""
        client_request = psi.Request()
        try:
            client_request.ParseFromString(request)
            response = self._server.ProcessRequest(client_request)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise PrivateMatchError(f"the request cannot be read: {str(exc)[:100]}") from None
        with self._lock:
            setup = self._setups.get(version)
            if setup is None:
                made = self._server.CreateSetupMessage(_FPR, 1, items(), psi.DataStructure.RAW)
                setup = bytes(made.SerializeToString())
                self._setups = {version: setup}
        return setup, bytes(response.SerializeToString())


#: The answerer of this process (its key lives as long as the server).
ANSWERER = PrivateAnswerer()
