"""Django's PostgreSQL backend, with the tenant scope (``core.tenancy``) set in every transaction.

- A transaction (``atomic``, ``ATOMIC_REQUESTS``) gets ``set_config('portal.scope', …, true)`` before
  its first statement (after ``SET TRANSACTION …``, which must come first), and again before the next
  statement whenever the scope changes inside it (a machine client authenticated in the view).
- A statement outside any transaction (autocommit: middleware, the audit writer outside a request's
  transaction, ``.iterator()`` outside ``atomic``) that reads or writes rows is run inside a short
  transaction of its own that carries the scope: a value set with ``is_local`` lasts only for its
  transaction, so this is the only way such a statement sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.backends.postgresql import base

from core import tenancy

_ROW_STATEMENTS = frozenset({"select", "insert", "update", "delete", "with", "declare", "merge"})


def _keyword(sql: str) -> str:
    head = sql.lstrip(" \t\r\n(").split(None, 1)
    return head[0].lower() if head else ""


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._scope_pending = False
        self.execute_wrappers.append(self._scoped_execute)

    def tenant_scope_changed(self) -> None:
        if self.connection is not None and not self.get_autocommit():
            self._scope_pending = True

    def _set_autocommit(self, autocommit: bool) -> None:
        super()._set_autocommit(autocommit)  # type: ignore[misc]  # defined by the PostgreSQL backend, not in the stubs
        self._scope_pending = not autocommit

    def _apply_scope(self) -> None:
        self._scope_pending = False
        self.connection.execute("SELECT set_config(%s, %s, true)", [tenancy.SETTING, tenancy.current()])

    def _scoped_execute(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        keyword = _keyword(sql)
        if not self.get_autocommit():
            if self._scope_pending and not sql.lstrip().upper().startswith("SET TRANSACTION"):
                self._apply_scope()
            return execute(sql, params, many, context)
        if keyword not in _ROW_STATEMENTS:
            return execute(sql, params, many, context)
        with transaction.atomic(using=self.alias):
            self._apply_scope()
            return execute(sql, params, many, context)
