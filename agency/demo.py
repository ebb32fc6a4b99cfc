"""Demo data: the seed disclosure form's agency, a few parties and one login per role.

Only for the embedded demo and the tests (``settings.PORTAL_DEMO``); idempotent. The months of history the
``seed_demo`` command adds on top, through the services of every app, are ``portal.demo``'s.
"""

from __future__ import annotations

import datetime as dt
from base64 import b32encode
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import services
from .models import (
    AgencyProfile,
    Contract,
    Institution,
    InstitutionEmailSender,
    Insurer,
    MaintenanceWindow,
    Role,
    User,
)

DEMO_PASSWORD = "Hx8!vQ2m#Tz5kW"  # noqa: S105 - published demo credential, refused outside PORTAL_DEMO


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    insurer: str = ""
    institution: str = ""


DEMO_LOGINS = (
    DemoLogin("demo-admin", Role.AGENCY_ADMIN),
    DemoLogin("demo-clerk", Role.AGENCY_CLERK),
    DemoLogin("demo-auditor", Role.AUDITOR),
    DemoLogin("demo-insurer", Role.INSURER_STAFF, insurer="06139992"),
    DemoLogin("demo-institution", Role.INSTITUTION_STAFF, institution="1319990014"),
    DemoLogin("demo-maintenance", Role.MAINTENANCE),
)

AGENCY = {
    "name": "ホームネット株式会社",
    "address": "東京都中野区中野2丁目24番11号 住友不動産中野駅前ビル19階",
    "phone": "03-5285-4537",
    "fax": "03-3380-5495",
    "website_url": "https://www.homenet-24.co.jp/service/medical_examination/",
    "contact_email": "info@homenet-24.co.jp",
    "agency_code": "91399055",
    "classification": AgencyProfile.Classification.INSURER_SIDE,
    "invoice_registration_number": "T7123456789012",
    "staff_dedicated_own": 12,
    "staff_dedicated_partner": 0,
    "staff_concurrent_own": 0,
    "staff_concurrent_partner": 0,
    "staff_total_own": 109,
    "staff_total_partner": 0,
    "sites_count": 1,
    "sites_prefectures": "東京都",
    "financial_reference": "ホームネット株式会社 経営管理部 TEL：03-5285-4536",
    "similar_services": False,
    "serves_insurers": True,
    "serves_institutions": False,
    "service_checking": True,
    "service_billing": True,
    "service_routing": True,
    "service_other": True,
    "selectable_by_insurers": True,
    "selectable_by_institutions": False,
    "service_start_date": dt.date(2013, 3, 1),
    "system_ownership": AgencyProfile.SystemOwnership.OWN,
    "system_operation": AgencyProfile.SystemOperation.PARTLY_OUTSOURCED,
    "system_facility": AgencyProfile.SystemFacility.CONTRACTOR_FACILITY,
    "system_engineers_own": 1,
    "system_engineers_contractor": 1,
    "capacity_per_year": 500_000,
    "capacity_per_day": 1_370,
    "hours_site": "平日 9:00-18:00、除く年末年始",
    "hours_system": "24 時間 365 日",
    "hours_helpdesk": "平日 9:00-18:00、除く年末年始",
    "inbound_online": True,
    "inbound_online_lines": "インターネット、メール",
    "inbound_offline": True,
    "inbound_offline_means": "追跡可能な宅急便",
    "outbound_online": True,
    "outbound_online_lines": "インターネット、メール",
    "outbound_offline": True,
    "outbound_offline_means": "追跡可能な宅急便",
    "security_online": "伝送相手の安全性を確保する SSL、データのパスワードロック",
    "security_offline": "データのパスワードロック",
    "fee_initial": 200_000,
    "fee_fixed": 200_000,
    "fee_per_checkup": 3_500,
}

INSURERS = (
    ("06139992", "デモ健康保険組合", dt.date(2024, 4, 1)),
    ("01139997", "デモ共済組合", dt.date(2025, 4, 1)),
)
INSTITUTIONS = (
    ("1319990014", "デモ健診クリニック", "東京都千代田区丸の内1-1-1", "clinic@example.jp"),
    ("2719990034", "デモ総合健診センター", "大阪府大阪市北区梅田1-1-1", "center@example.jp"),
)


def _require_demo() -> None:
    if not settings.PORTAL_DEMO:
        raise ImproperlyConfigured("Demo data may be loaded only with PORTAL_DEMO enabled, never in production.")


@transaction.atomic
def seed_demo() -> list[User]:
    """Create or refresh the demo data and return the demo users."""
    _require_demo()
    profile = AgencyProfile.objects.first() or AgencyProfile()
    for field, value in AGENCY.items():
        setattr(profile, field, value)
    profile.full_clean()
    profile.save()

    insurers = {}
    for number, name, start in INSURERS:
        insurer = Insurer.objects.filter(number=number).first() or Insurer(
            number=number, name=name, contract_start=start, billing_address="東京都", billing_contact_name="請求担当"
        )
        if insurer.pk is None:
            services.insurer_save(insurer=insurer, actor=None)
        insurers[number] = insurer
    institutions = {}
    for number, name, address, email in INSTITUTIONS:
        institution = Institution.objects.filter(number=number).first()
        if institution is None:
            institution = services.institution_save(
                institution=Institution(
                    number=number, name=name, address=address, bank_code="0001", branch_code="001",
                    account_type=Institution.AccountType.ORDINARY, account_number="1234567",
                    account_holder_kana="ﾃﾞﾓｹﾝｼﾝ",
                ),
                actor=None,
            )
            InstitutionEmailSender.objects.create(institution=institution, address=email)
        institutions[number] = institution
    for insurer in insurers.values():
        for institution in institutions.values():
            if not Contract.objects.filter(insurer=insurer, institution=institution).exists():
                services.contract_save(
                    contract=Contract(
                        insurer=insurer, institution=institution, valid_from=dt.date(2024, 4, 1),
                        commission_type=Contract.CommissionType.INDIVIDUAL, basic_price=9_310, anemia_price=220,
                        ecg_price=1_430, fundus_price=1_140, creatinine_price=120,
                    ),
                    actor=None,
                )

    users = []
    for login in DEMO_LOGINS:
        user = User.objects.filter(username=login.username).first()
        if user is None:
            user = services.user_create(
                username=login.username,
                password=DEMO_PASSWORD,
                role=login.role,
                actor=None,
                insurer=insurers.get(login.insurer),
                institution=institutions.get(login.institution),
                fields={"email": f"{login.username}@example.jp"},
            )
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(user=user, name="demo", confirmed=True)
        users.append(user)

    maintainer = User.objects.get(username="demo-maintenance")
    now = timezone.now()
    if services.maintenance_window_open_for(user=maintainer) is None:
        MaintenanceWindow.objects.create(
            user=maintainer, ticket="DEMO-0001", purpose="デモ用保守作業", approved_by=User.objects.get(username="demo-admin"),
            starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=12),
        )
    return users


def demo_totp(username: str) -> tuple[str, str]:
    """The demo user's TOTP secret (base32) and the code valid now."""
    _require_demo()

    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp()
    return b32encode(device.bin_key).decode("ascii"), f"{totp.token():0{device.digits}d}"
