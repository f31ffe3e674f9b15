"""Errors with a stable JSON shape: {"error": {"status", "code", "message", "request_id", "details"?}}."""


class AppError(Exception):
    status, code = 500, "internal_error"

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message, self.details = message, details


class NotFound(AppError):
    status, code = 404, "not_found"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class Unavailable(AppError):
    """A dependency is down, slow (timeout) or its circuit is open."""
    status, code = 503, "dependency_unavailable"


def body(status, code, message, request_id, details=None):
    error = {"status": status, "code": code, "message": message, "request_id": request_id}
    if details is not None:
        error["details"] = details
    return {"error": error}
