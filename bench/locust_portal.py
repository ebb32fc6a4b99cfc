"""Locust users of the portal bench (``bench/bench_portal.py`` writes their accounts and pages, then runs this
file headless): each simulated person logs in with password and TOTP once, then reads its role's main pages
and downloads, one request per think time.

Plain Python besides Locust: no Django here (the TOTP code comes from django-otp's ``oath`` module, which
needs no settings). ``BENCH_PORTAL_PLAN`` names the JSON file with the accounts; ``BENCH_PORTAL_THINK`` the
think time in seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from typing import Any

from django_otp.oath import totp
from locust import HttpUser, constant, task

PLAN: dict[str, Any] = json.loads(open(os.environ["BENCH_PORTAL_PLAN"], encoding="utf-8").read())  # noqa: SIM115 - read once at start
ACCOUNTS: list[dict[str, Any]] = PLAN["accounts"]
NEXT_ACCOUNT = itertools.count()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class PortalUser(HttpUser):
    wait_time = constant(float(os.environ.get("BENCH_PORTAL_THINK", "1")))

    def on_start(self) -> None:
        self.account = ACCOUNTS[next(NEXT_ACCOUNT) % len(ACCOUNTS)]
        self.pages: list[tuple[str, list[str]]] = [
            (page["name"], page["paths"]) for page in self.account["pages"] for _ in range(page.get("weight", 1))]
        self._post_form("/accounts/login/", {"username": self.account["username"], "password": self.account["password"]},
                        name="login (password)")
        code = f"{totp(bytes.fromhex(self.account['totp_key'])):06d}"
        response = self._post_form("/accounts/otp/", {"token": code}, name="login (TOTP)")
        if response is None or "/accounts/" in response.url:
            raise RuntimeError(f"{self.account['username']} could not log in")

    def _post_form(self, path: str, data: dict[str, str], *, name: str) -> Any:
        page = self.client.get(path, name=name)
        match = CSRF.search(page.text)
        if match is None:
            return None
        return self.client.post(path, {**data, "csrfmiddlewaretoken": match[1]}, headers={"Referer": page.url}, name=name)

    @task
    def read(self) -> None:
        name, paths = random.choice(self.pages)
        path = random.choice(paths)
        with self.client.get(path, name=name, catch_response=True, allow_redirects=False) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {path}")
