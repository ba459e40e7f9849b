"""Time-based one-time passwords (RFC 6238): the second factor every user needs.

A code is accepted one 30-second step early or late (clocks drift), and never twice: the
caller keeps the last step accepted and passes it back, so a code seen over a shoulder or in a
proxy log cannot be replayed, even within its window.
"""

from __future__ import annotations

import hmac
import time

import pyotp
import segno

ISSUER = "vident"
STEP_SECONDS = 30
#: Steps either side of now that are accepted.
WINDOW = 1


def new_secret() -> str:
    """A random base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app enrols from."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment URI as an SVG QR code, to show on a screen (never written to disk)."""
    return segno.make(uri, error="m").svg_inline(scale=4)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    """The code of ``secret`` for time step ``step``."""
    return pyotp.TOTP(secret).generate_otp(step)


def verify(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The step ``code`` belongs to when it is valid and newer than ``last_step``, else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    here = current_step(now)
    for step in range(here - WINDOW, here + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None
