from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from agency.demo import demo_totp


class Command(BaseCommand):
    help = "Print a demo user's TOTP secret and the code valid now (demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        secret, code = demo_totp(username)
        self.stdout.write(f"{username}: {code}  (secret {secret})")
