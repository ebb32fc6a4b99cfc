"""Shared plumbing of the portal's apps: PDFs, errors, HTTP helpers."""
