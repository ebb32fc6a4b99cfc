"""The disposal-certificate table is append-only in the database (see ``audit.dbguards``).

Truncating it is refused while it holds a certificate; an empty table may be flushed.
"""

from __future__ import annotations

from audit.dbguards import AppendOnlyGuard

TABLE = "compliance_disposalcertificate"
GUARD = AppendOnlyGuard(TABLE, "disposal certificates", allow_empty_truncate=True)
install = GUARD.install
remove = GUARD.remove
installed = GUARD.installed
