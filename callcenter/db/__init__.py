"""Database layer: SQLAlchemy 2 models, sessions and Alembic migrations."""

from callcenter.db.base import Base
from callcenter.db.session import get_engine, get_sessionmaker, session_scope

__all__ = ["Base", "get_engine", "get_sessionmaker", "session_scope"]
