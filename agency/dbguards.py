"""The 本人確認記録 (credential reset ledger) is append-only in the database (see ``audit.dbguards``).

Truncating it is refused while it holds a record; an empty table may be flushed.
"""

from __future__ import annotations

from audit.dbguards import AppendOnlyGuard

TABLE = "agency_credentialreset"
GUARD = AppendOnlyGuard(TABLE, "credential reset ledger", allow_empty_truncate=True)
install = GUARD.install
remove = GUARD.remove
installed = GUARD.installed
