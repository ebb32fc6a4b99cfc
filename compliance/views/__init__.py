"""Compliance pages: the dashboard and its records (``console``), the auditor's review of the audit log
(``audit``) and the public disclosure (``public``)."""
