"""Compliance writes: the checklist and its evidence (``checklist``), break-glass and maintenance access
(``emergency_access``), backups (``backup``) and disposal (``disposal``)."""
