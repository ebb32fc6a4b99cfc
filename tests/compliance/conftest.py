"""Fixtures of the compliance tests: officers, clients, an isolated storage directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from agency.models import Role, User

from ..conftest import login_verified


@pytest.fixture(autouse=True)
def _storage(settings: Any, tmp_path: Path) -> Path:
    settings.STORAGE_DIR = tmp_path / "storage"
    return settings.STORAGE_DIR


@pytest.fixture
def admin_a(make_user: Callable[..., User]) -> User:
    return make_user(Role.AGENCY_ADMIN, username="admin-a", email="admin-a@example.jp")


@pytest.fixture
def admin_b(make_user: Callable[..., User]) -> User:
    return make_user(Role.AGENCY_ADMIN, username="admin-b", email="admin-b@example.jp")


@pytest.fixture
def auditor(make_user: Callable[..., User]) -> User:
    return make_user(Role.AUDITOR, username="auditor-a")


@pytest.fixture
def admin_client(admin_a: User) -> Client:
    return login_verified(Client(), admin_a)


@pytest.fixture
def admin_b_client(admin_b: User) -> Client:
    return login_verified(Client(), admin_b)


@pytest.fixture
def auditor_client(auditor: User) -> Client:
    return login_verified(Client(), auditor)


@pytest.fixture
def clerk_client(user_client: Callable[..., Client]) -> Client:
    return user_client(Role.AGENCY_CLERK)
