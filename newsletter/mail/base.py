"""The contract of an email transport, and the errors that tell the sender what to do next."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from newsletter.models import OutgoingEmail


class SendError(Exception):
    """A send did not go through."""


class TransientSendError(SendError):
    """Worth another try later (429, 5xx, timeout, connection): `retry_after` seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainSendError(TransientSendError):
    """The request reached SendGrid but no answer came back: it may or may not have been sent.

    A subclass of TransientSendError so a sender that does not know it still backs off; ours
    records `unknown` instead of retrying (see `newsletter.daily.send`).
    """


class PermanentSendError(SendError):
    """This message will never go through as it is (400, 403, 413): fail it and go on."""


class AuthSendError(SendError):
    """The provider rejected our credentials (401): stop the run, every send would fail."""


class Transport(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send one message; returns the provider's message id (or where it was written)."""
        ...


@runtime_checkable
class KeepsCopies(Protocol):
    """A transport whose result can be looked up afterwards (the outbox: a file or none), so a
    send a crash interrupted is settled for certain instead of left `unknown`."""

    def written(self, digest_id: str, address: str, digest_date: str) -> bool:
        """Whether this digest reached its destination whole."""
        ...

    def discard_partial(self, address: str, digest_date: str) -> None:
        """Remove what an interrupted write of this reader's digest left behind."""
        ...


def copies_of(transport: Transport) -> KeepsCopies | None:
    """The copies `transport` keeps, looking through wrappers that pass its sends on (`inner`,
    like the service's gate); None when it keeps none (SendGrid)."""
    seen: Transport | None = transport
    while seen is not None:
        if isinstance(seen, KeepsCopies):
            return seen
        seen = getattr(seen, "inner", None)
    return None
