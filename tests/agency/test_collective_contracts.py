"""設定 › 集合契約: the administrator registers a collective contract, its insurers (joining, leaving), its
institutions and price tables in the portal, or imports them from CSV — every line checked, all or nothing,
every change audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from agency.contracts import contract_for
from agency.models import (
    CollectiveContract,
    CollectiveInstitution,
    CollectiveInsurer,
    CollectivePriceTable,
    Role,
)
from audit.models import AuditEvent

from ..conftest import login_verified
from ..factories import (
    CollectiveContractFactory,
    CollectiveInsurerFactory,
    CollectivePriceTableFactory,
    InstitutionFactory,
    InsurerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user: Callable[..., Any]) -> Client:
    return login_verified(Client(), make_user(Role.AGENCY_ADMIN, username="kanri-shudan"))


NO_ITEMS = {"items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 50}


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


def test_the_administrator_builds_a_collective_contract_in_the_portal(admin: Client) -> None:
    representative, member = InsurerFactory(), InsurerFactory()
    institution = InstitutionFactory()
    response = admin.post(reverse("parties:collective_create"), {
        "name": "大阪府市町村国保集合契約", "representative": representative.pk, "coordinator": "大阪府医師会",
        "valid_from": "2024-04-01", "issues_tickets": "on",
    })
    contract = CollectiveContract.objects.get(name="大阪府市町村国保集合契約")
    assert response.status_code == 302 and response["Location"] == reverse("parties:collective_detail", args=[contract.pk])
    for insurer in (representative, member):
        admin.post(reverse("parties:collective_insurer_add", args=[contract.pk]),
                   {"insurer": insurer.pk, "joined_on": "2024-04-01"})
    admin.post(reverse("parties:collective_institution_add", args=[contract.pk]),
               {"institution": institution.pk, "price_group": "27", "joined_on": "2024-05-01"})
    admin.post(reverse("parties:collective_price_add", args=[contract.pk]), {
        "price_group": "27", "commission_type": 1, "basic_price": 7_480, "anemia_price": 200, "ecg_price": 1_300,
        "fundus_price": 1_140, "creatinine_price": 110, **NO_ITEMS,
    })
    membership = CollectiveInsurer.objects.get(contract=contract, insurer=member)
    admin.post(reverse("parties:collective_insurer_leave", args=[contract.pk, membership.pk]), {"left_on": "2024-09-30"})

    assert contract_for(member.number, institution, 1, dt.date(2024, 9, 30)).table.basic_price == 7_480  # type: ignore[union-attr]
    assert contract_for(member.number, institution, 1, dt.date(2024, 10, 1)) is None
    assert contract_for(representative.number, institution, 1, dt.date(2024, 4, 30)) is None  # before the institution joined
    actions = _actions()
    for action in ("party.collective_contract.created", "party.collective_insurer.created",
                   "party.collective_institution.created", "party.collective_price_table.created",
                   "party.collective_insurer.updated"):
        assert action in actions
    page = admin.get(reverse("parties:collective_detail", args=[contract.pk])).content.decode()
    assert "大阪府医師会" in page and "2024-09-30" in page and "7480" in page


def test_leaving_before_joining_is_refused_in_japanese(admin: Client) -> None:
    membership = CollectiveInsurerFactory(joined_on=dt.date(2024, 4, 1))
    response = admin.post(reverse("parties:collective_insurer_leave", args=[membership.contract.pk, membership.pk]),
                          {"left_on": "2024-03-31"})
    assert response.status_code == 200
    assert "脱退日は参加日 2024-04-01 以降にしてください。" in response.content.decode()
    membership.refresh_from_db()
    assert membership.left_on is None


def test_overlapping_membership_is_refused(admin: Client) -> None:
    membership = CollectiveInsurerFactory(joined_on=dt.date(2024, 4, 1))
    response = admin.post(reverse("parties:collective_insurer_add", args=[membership.contract.pk]),
                          {"insurer": membership.insurer.pk, "joined_on": "2024-06-01"})
    assert "この保険者は同じ集合契約に重なる期間で参加しています。" in response.content.decode()
    assert CollectiveInsurer.objects.filter(contract=membership.contract).count() == 1


def _upload(admin: Client, kind: str, text: str, encoding: str = "utf-8") -> Any:
    return admin.post(reverse("parties:collective_import"), {
        "kind": kind, "file": SimpleUploadedFile(f"{kind}.csv", text.encode(encoding), content_type="text/csv"),
    })


def test_csv_import_builds_everything_and_an_update_is_an_upsert(admin: Client) -> None:
    representative, a, b = InsurerFactory(), InsurerFactory(), InsurerFactory()
    institution = InstitutionFactory()
    name = "健保連集合契約A"
    response = _upload(admin, "contracts", "契約名,代表保険者番号,契約取りまとめ機関,契約開始日,契約終了日,受診券を発行する\n"
                                           f"{name},{representative.number},健康保険組合連合会,2024-04-01,,1\n")
    assert response.status_code == 302
    _upload(admin, "insurers", "契約名,保険者番号,参加日,脱退日\n"
                               f"{name},{a.number},2024-04-01,\n{name},{b.number},2024-04-01,2024-12-31\n")
    _upload(admin, "institutions", f"契約名,機関番号,単価表の区分,参加日\n{name},{institution.number},13,2024-04-01\n",
            encoding="cp932")
    _upload(admin, "prices", "契約名,単価表の区分,委託料単価区分,基本,貧血,心電図,眼底,血清クレアチニン,人間ドック,追加健診項目\n"
                             f"{name},13,1,7000,200,1300,1100,110,38000,3F077000002327101:500\n"
                             f"{name},13,集団,6500,200,1300,1100,110,,\n")
    contract = CollectiveContract.objects.get(name=name)
    assert contract.insurers.count() == 2 and contract.institutions.get().institution == institution
    table = CollectivePriceTable.objects.get(contract=contract, commission_type=1)
    assert (table.basic_price, table.dock_price) == (7_000, 38_000)
    assert dict(table.other_items.values_list("item_code", "price")) == {"3F077000002327101": 500}
    applied = contract_for(b.number, institution, 2, dt.date(2024, 12, 31))
    assert applied is not None and applied.table is not None and applied.table.basic_price == 6_500
    # Again with a new price and a leaving date: rows are updated, not duplicated.
    _upload(admin, "prices", "契約名,単価表の区分,委託料単価区分,基本,貧血,心電図,眼底,血清クレアチニン,人間ドック,追加健診項目\n"
                             f"{name},13,1,7200,200,1300,1100,110,,\n")
    _upload(admin, "insurers", f"契約名,保険者番号,参加日,脱退日\n{name},{a.number},2024-04-01,2025-03-31\n")
    table.refresh_from_db()
    assert (table.basic_price, table.dock_price, table.other_items.count()) == (7_200, None, 0)
    assert CollectiveInsurer.objects.get(contract=contract, insurer=a).left_on == dt.date(2025, 3, 31)
    imported = AuditEvent.objects.filter(action="party.collective.imported")
    assert imported.count() == 6 and {e.detail["kind"] for e in imported} == {"contracts", "insurers", "institutions", "prices"}


def test_a_csv_with_one_bad_line_imports_nothing_and_names_each_bad_line(admin: Client) -> None:
    contract = CollectiveContractFactory(name="市町村国保集合契約")
    good, institution = InsurerFactory(), InstitutionFactory()
    before = AuditEvent.objects.count()
    response = _upload(admin, "insurers", "契約名,保険者番号,参加日,脱退日\n"
                                          f"市町村国保集合契約,{good.number},2024-04-01,\n"
                                          "市町村国保集合契約,99999999,2024-04-01,\n"
                                          f"市町村国保集合契約,{good.number},2024/13/01,\n"
                                          f"存在しない契約,{good.number},2024-04-01,\n"
                                          f"市町村国保集合契約,,2024-04-01,2024-03-01\n")
    page = response.content.decode()
    assert response.status_code == 200
    assert "CSVに誤りがあるため、1件も取り込んでいません（4件）。" in page
    assert "3行目: 保険者番号 99999999 の保険者が登録されていません" in page
    assert "4行目: 参加日「2024/13/01」は日付（YYYY-MM-DD）ではありません" in page
    assert "5行目: 契約名「存在しない契約」の集合契約がありません" in page
    assert "6行目: 必須の列が空です: 保険者番号" in page
    assert not CollectiveInsurer.objects.filter(contract=contract).exists()
    assert not AuditEvent.objects.filter(action__startswith="party.collective", seq__gt=before).exists()
    # A missing column is refused before any line.
    response = _upload(admin, "institutions", f"契約名,機関番号,参加日\n市町村国保集合契約,{institution.number},2024-04-01\n")
    assert "見出し行に列がありません: 単価表の区分" in response.content.decode()
    assert not CollectiveInstitution.objects.exists()
    response = _upload(admin, "prices", "契約名,単価表の区分,委託料単価区分,基本\n市町村国保集合契約,13,3,-5\n")
    assert "2行目: 委託料単価区分は 1（個別）または 2（集団）です" in response.content.decode()


def test_a_price_table_is_revised_with_its_additional_items(admin: Client) -> None:
    table = CollectivePriceTableFactory(basic_price=7_000)
    url = reverse("parties:collective_price_edit", args=[table.contract.pk, table.pk])
    form = {
        "price_group": "99", "commission_type": 2, "basic_price": 7_350, "anemia_price": 200, "ecg_price": 1_300,
        "fundus_price": 1_100, "creatinine_price": 110, "dock_price": "",
        "items-TOTAL_FORMS": 2, "items-INITIAL_FORMS": 0, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 50,
        "items-0-item_code": "3F077000002327101", "items-0-price": 500, "items-1-item_code": "", "items-1-price": "",
    }
    assert admin.post(url, form).status_code == 302
    table.refresh_from_db()
    assert (table.basic_price, table.price_group, table.commission_type) == (7_350, "13", 1)  # the table's key stays
    assert dict(table.other_items.values_list("item_code", "price")) == {"3F077000002327101": 500}
    assert {"party.collective_price_table.updated", "party.collective_price_table.other_items_set"} <= set(_actions())
    unknown = {**form, "items-0-item_code": "9Z999000000000001"}
    page = admin.post(url, unknown).content.decode()
    assert "項目コード 9Z999000000000001 は項目マスタにありません。" in page
