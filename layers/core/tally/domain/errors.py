"""Why a request is refused as a whole, in the domain's words; the API answers each with its status.

Services raise these and know nothing of HTTP; `tally.api.problem_handlers` maps each to its
RFC 9457 answer, and the CLI prints the message. Nothing of a refused request has been written.
"""

from __future__ import annotations


class RequestRefused(Exception):  # noqa: N818 (an outcome for the caller, not a programming error)
    """A request refused as a whole; `detail` says why, for the caller."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TooLarge(RequestRefused):
    """More records, bytes or nesting than the limits allow."""


class NotAuthenticated(RequestRefused):
    """No API key, or one that is unknown or revoked."""


class ForeignSite(RequestRefused):
    """The key belongs to another site (or other resources) than the records it sends."""


class MalformedBody(RequestRefused):
    """A body that is not what its type says (no line of it parses as JSON)."""


class NotAllowed(RequestRefused):
    """A request this caller may not make (a signer off the site's list, a message left unsigned)."""


class Unusable(RequestRefused):
    """A well-formed body that holds nothing usable (a message without records)."""


class Unsupported(RequestRefused):
    """A body in a form this deployment cannot read (a signature with no verifier at hand)."""


class NotFound(RequestRefused):
    """A named thing (a custom kind) that does not exist."""


class Conflict(RequestRefused):
    """A change that contradicts what is stored (a kind's type or identity), or races another."""
