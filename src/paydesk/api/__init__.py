"""The HTTP API: ``create_app(services)`` builds the FastAPI app; routes are thin shells over
the domain, one router per feature."""

from paydesk.api.app import create_app

__all__ = ["create_app"]
