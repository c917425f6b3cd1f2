"""Failures of a whole request, answered as RFC 9457 problem details by the API layer."""

from __future__ import annotations


class Problem(Exception):  # noqa: N818 (named for RFC 9457, not an error class)
    """A request refused as a whole; nothing of it has been written."""

    def __init__(self, status: int, title: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def as_dict(self, instance: str | None = None) -> dict[str, object]:
        slug = self.title.lower().replace(" ", "-")
        body: dict[str, object] = {
            "type": f"https://tally.dev/problems/{slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def bad_request(detail: str) -> Problem:
    return Problem(400, "Malformed request body", detail)


def unprocessable(detail: str) -> Problem:
    return Problem(422, "Unusable batch", detail)


def too_large(detail: str) -> Problem:
    return Problem(413, "Request too large", detail)


def unsupported(detail: str) -> Problem:
    return Problem(415, "Unsupported media type", detail)


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


def not_found(detail: str) -> Problem:
    return Problem(404, "Not found", detail)
