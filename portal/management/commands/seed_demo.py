from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from agency.demo import DEMO_PASSWORD, demo_totp
from portal.demo import seed_demo


class Command(BaseCommand):
    help = (
        "Load the demo data (idempotent): parties, one login per role and, once, months of history made through "
        "the services; print the logins. Refused unless PORTAL_DEMO is on."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        users = seed_demo()
        self.stdout.write("デモ用ログイン（パスワードは共通）: " + DEMO_PASSWORD)
        for user in users:
            secret, code = demo_totp(user.username)
            self.stdout.write(f"  {user.username:<18} {user.get_role_display():<16} TOTP秘密鍵 {secret}  現在のコード {code}")
        self.stdout.write("確認コードは `python manage.py demo_totp <利用者名>` でいつでも表示できます。")
