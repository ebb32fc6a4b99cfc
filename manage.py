#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agency.settings.dev")
    # Imported after the settings module is chosen, as Django's own manage.py does.
    from django.core.management import execute_from_command_line

    from core import tenancy  # with the Django import above: after the settings module is chosen

    # Commands act for the agency: every tenant's rows (requests served by runserver get their own scope).
    tenancy.activate(tenancy.AGENCY)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
