from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from compliance.dbroles import RoleError, app_role_grant


class Command(BaseCommand):
    help = (
        "Run as the tables' owner after migrate: grant the application's PostgreSQL role what it needs "
        "(no ownership, no UPDATE/DELETE on the append-only tables, no TRUNCATE); with --create, create it "
        "first with the password in $DATABASE_APP_PASSWORD."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the role the web, worker and beat processes connect as")
        parser.add_argument("--create", action="store_true", help="create the role when it does not exist")

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["create"]:
            password = os.environ.get("DATABASE_APP_PASSWORD", "")
            if len(password) < 16:
                raise CommandError("--create needs DATABASE_APP_PASSWORD (at least 16 characters)")
        try:
            statements = app_role_grant(connection, options["role"], create_with_password=password)
        except RoleError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{options['role']}: {len(statements)} statements"))
