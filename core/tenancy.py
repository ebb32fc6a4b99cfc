"""The tenant scope of the current request or task, for PostgreSQL row-level security.

Every tenant-owned table carries a policy (``core.rls``) that lets a row through only when the
transaction's ``portal.scope`` allows it: ``agency`` (agency staff, tasks, commands: every row),
``insurer:<id>``, ``institution:<id>``, or nothing (no scope set: no row at all). The scope lives
in a context variable here; the database backend (``core.db.postgresql``) copies it into each
transaction with ``set_config('portal.scope', …, true)`` — transaction-scoped, so it never outlives
the transaction on a pooled connection:

- a request: ``agency.middleware.TenantScopeMiddleware`` sets the user's scope, and a machine client
  gets its own once its certificate and token are accepted;
- a Celery task: ``agency.celery`` sets ``agency`` before it runs and restores afterwards (eagerly
  run tasks included);
- a management command: ``manage.py`` sets ``agency``.

On SQLite nothing reaches the database; the Django-level scoping (selectors, access functions)
is the only layer there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

from django.db import connections

SETTING = "portal.scope"
AGENCY = "agency"
NONE = ""

_scope: ContextVar[str] = ContextVar("portal_scope", default=NONE)


def insurer(insurer_id: int) -> str:
    return f"insurer:{int(insurer_id)}"


def institution(institution_id: int) -> str:
    return f"institution:{int(institution_id)}"


def current() -> str:
    return _scope.get()


def _mark_connections() -> None:
    """A transaction already open takes the new scope before its next statement."""
    for connection in connections.all(initialized_only=True):
        mark = getattr(connection, "tenant_scope_changed", None)
        if mark is not None:
            mark()


def activate(value: str) -> Token[str]:
    token = _scope.set(value)
    _mark_connections()
    return token


def restore(token: Token[str]) -> None:
    _scope.reset(token)
    _mark_connections()


@contextlib.contextmanager
def scope(value: str) -> Iterator[None]:
    token = activate(value)
    try:
        yield
    finally:
        restore(token)
