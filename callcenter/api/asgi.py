"""ASGI entry point for uvicorn: ``callcenter.api.asgi:app``."""

from callcenter.api.app import create_app

app = create_app()
