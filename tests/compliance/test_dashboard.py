"""The checklist dashboard: every item of the form, status rules, attestations, exports, probe runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agency.celery import app as celery_app
from agency.models import User
from audit.models import AuditEvent
from compliance import probes, selectors
from compliance.checklist import CONTROLS, checklist
from compliance.data.build_checklist import parse
from compliance.export import as_text, form_context
from compliance.models import ControlItem, ItemStatus, ProbeResult, ProbeStatus
from compliance.services import checklist as services

pytestmark = pytest.mark.django_db

SECTION_SIZES = {
    "organisational": 5, "physical": 6, "technical": 24, "human_staff": 3, "human_contractor": 5, "disposal": 4,
    "maintenance": 10, "takeout": 10, "emergency": 9, "exchange": 14,
}


def _pass(key: str, at: dt.datetime | None = None) -> ProbeResult:
    return ProbeResult.objects.create(probe=key, status=ProbeStatus.PASS, value="ok", measured_at=at or timezone.now())


def _state(code: str) -> selectors.ItemState:
    state = selectors.item_state(code=code)
    assert state is not None
    return state


def test_every_item_of_the_form_is_there_verbatim() -> None:
    form = checklist()
    assert {s.key: len(s.items) for s in form.sections} == SECTION_SIZES
    assert len(form.items) == 90
    assert form.items["technical-09"].text == "アクセスの記録に用いる時刻情報は信頼できるものである。 注3)"
    assert form.items["organisational-05"].text.splitlines()[1] == "(b) 医療機関等の体制"
    assert "TLS1.3のみに限定した上で、クライアント証明書を利用したTLSクライアント認証" in form.items["exchange-12"].text
    notes = dict(next(s for s in form.sections if s.key == "technical").notes)
    assert sorted(notes) == [1, 2, 3, 4, 5, 6, 7]
    assert set(CONTROLS) <= set(form.items)
    assert all(key in probes.PROBES for control in CONTROLS.values() for key in control.probes)


def test_probe_backed_item_is_done_only_while_its_probes_pass_and_are_fresh() -> None:
    state = _state("technical-09")
    assert not state.done
    assert "未測定" in state.reasons[0]
    _pass("clock")
    assert _state("technical-09").done
    ProbeResult.objects.create(probe="clock", status=ProbeStatus.UNKNOWN, value="NTP不明", measured_at=timezone.now())
    state = _state("technical-09")
    assert not state.done
    assert "判定不能" in state.reasons[0]
    _pass("clock")
    with time_machine.travel(timezone.now() + dt.timedelta(hours=27)):
        state = _state("technical-09")
        assert not state.done
        assert "古く" in state.reasons[0]


def test_organisational_item_needs_a_current_attestation(admin_a: User) -> None:
    assert not _state("physical-01").done
    services.attestation_record(code="physical-01", statement="サーバ室と保管庫の施錠を確認", actor=admin_a)
    state = _state("physical-01")
    assert state.done
    assert state.attestation.valid_until == timezone.localdate() + dt.timedelta(days=182)
    with time_machine.travel(timezone.now() + dt.timedelta(days=183)):
        state = _state("physical-01")
        assert not state.done
        assert state.attestation_overdue
        assert "見直し期限" in state.reasons[0]


def test_hybrid_item_needs_both(admin_a: User) -> None:
    services.attestation_record(code="emergency-08", statement="オフライン媒体に週次で複製", actor=admin_a)
    assert not _state("emergency-08").done
    _pass("backup_age")
    assert not _state("emergency-08").done
    _pass("restore_drill")
    assert _state("emergency-08").done


def test_refresh_records_status_changes_and_audits_them(admin_a: User) -> None:
    services.checklist_refresh()
    assert ControlItem.objects.count() == 90
    assert set(ControlItem.objects.values_list("status", flat=True)) == {ItemStatus.PLANNED}
    services.attestation_record(code="physical-02", statement="入退室管理を確認", actor=admin_a)
    row = ControlItem.objects.get(code="physical-02")
    assert row.status == ItemStatus.DONE
    event = AuditEvent.objects.filter(action="compliance.item.status_changed").get()
    assert event.object_ids == ["physical-02"]
    assert event.detail["new"] == ItemStatus.DONE


def test_dashboard_shows_every_item_with_status_owner_and_reasons(admin_client: Client, admin_a: User,
                                                                  django_assert_max_num_queries: Any) -> None:
    services.control_item_update(code="technical-05", owner="情報システム部長", planned_date=dt.date(2027, 3, 31),
                                 review_interval_days=None, actor=admin_a)
    services.attestation_record(code="technical-06", statement="ロール表を確認", actor=admin_a)
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse("compliance:dashboard"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-item="') == 90
    assert "情報システム部長" in body
    assert "2027-03-31" in body
    assert "実施済 1 / 90 項目" in body
    assert "責任者による実施確認が登録されていません" in body
    assert "最低限のガイドラインを遵守していない" in body


def test_attestation_with_evidence_through_the_pages(admin_client: Client, auditor_client: Client) -> None:
    url = reverse("compliance:item_attest", args=["human_staff-02"])
    response = admin_client.post(url, {"statement": "年次教育を実施（出席簿添付）",
                                       "evidence": SimpleUploadedFile("出席簿.pdf", b"%PDF-1.4 attendance")})
    assert response.status_code == 302
    state = _state("human_staff-02")
    assert state.done
    attestation = state.attestation
    assert attestation.evidence_name == "出席簿.pdf"
    detail = auditor_client.get(reverse("compliance:item_detail", args=["human_staff-02"]))
    assert "年次教育を実施" in detail.content.decode()
    download = auditor_client.get(reverse("compliance:evidence_download", args=[attestation.pk]))
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4 attendance"
    assert AuditEvent.objects.filter(action="compliance.evidence.downloaded", object_ids=[str(attestation.pk)]).exists()
    # auditors read, they do not attest
    assert auditor_client.post(url, {"statement": "x"}).status_code == 403


def test_manage_planned_date(admin_client: Client) -> None:
    response = admin_client.post(reverse("compliance:item_manage", args=["takeout-05"]),
                                 {"owner": "総務課", "planned_date": "2027-06-30", "review_interval_days": "30"})
    assert response.status_code == 302
    state = _state("takeout-05")
    assert (state.owner, state.planned_date, state.review_days) == ("総務課", dt.date(2027, 6, 30), 30)
    assert AuditEvent.objects.filter(action="compliance.item.updated", object_ids=["takeout-05"]).exists()


def test_unknown_item_is_404_and_audited(admin_client: Client) -> None:
    assert admin_client.get(reverse("compliance:item_detail", args=["technical-99"])).status_code == 404
    assert AuditEvent.objects.filter(outcome="denied", object_type="checklist_item", object_ids=["technical-99"]).exists()


def test_text_export_is_the_form_with_marks_dates_and_last_update(admin_client: Client, admin_a: User) -> None:
    services.control_item_update(code="physical-05", owner="", planned_date=dt.date(2027, 3, 31),
                                 review_interval_days=None, actor=admin_a)
    with time_machine.travel(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)):
        services.attestation_record(code="physical-01", statement="施錠を確認", actor=admin_a)
    response = admin_client.get(reverse("compliance:export_text"))
    assert response.status_code == 200
    text = response.content.decode()
    lines = text.splitlines()
    assert lines[0].startswith("別添 医療情報システムの安全管理に関するガイドライン 第5.2版")
    assert any(line.startswith("更新情報\t最終更新日\t") and "年" in line for line in lines)
    assert "1.\t個人情報が保存されている機器の設置場所及び記録媒体の保存場所には施錠している。\t■\t□()" in lines
    assert "5.\t個人情報が存在するPC等の重要な機器に盗難防止用チェーンを設置している。\t□\t■(2027年3月31日)" in lines
    assert "注8:手順は、破棄を行う条件、破棄を行うことができる従業者の特定、具体的な破棄の方法を含む必要がある。" in lines
    # the export reads back as the same form: every item, the same texts
    parsed = parse(text)
    reparsed = {i["code"]: i["text"] for s in parsed["sections"] for i in s["items"]}
    assert set(reparsed) == set(checklist().items)
    assert reparsed["physical-01"] == checklist().items["physical-01"].text


def test_last_update_is_the_latest_change(admin_a: User) -> None:
    moment = dt.datetime(2026, 10, 1, 3, 0, tzinfo=dt.UTC)
    with time_machine.travel(moment):
        services.attestation_record(code="physical-03", statement="入退室簿", actor=admin_a)
    context = form_context()
    assert context["last_updated"] == dt.date(2026, 10, 1)
    assert context["last_updated_text"] == "2026年10月1日"
    assert "2026年10月1日" in as_text(context)


def test_pdf_export(admin_client: Client) -> None:
    pytest.importorskip("weasyprint", reason="WeasyPrint is not installed")
    response = admin_client.get(reverse("compliance:export_pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_pdf_export_explains_when_weasyprint_is_missing(admin_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_weasyprint(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "weasyprint":
            raise ImportError("No module named 'weasyprint'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    response = admin_client.get(reverse("compliance:export_pdf"))
    assert response.status_code == 503
    assert "No module named" in response.content.decode()


def test_probes_run_on_demand(admin_client: Client, auditor_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "run_command", lambda argv: None)
    assert auditor_client.post(reverse("compliance:probes_run")).status_code == 403
    response = admin_client.post(reverse("compliance:probes_run"))
    assert response.status_code == 302
    assert set(ProbeResult.objects.values_list("probe", flat=True)) == set(probes.PROBES)
    assert ProbeResult.objects.filter(trigger=ProbeResult.Trigger.MANUAL).count() == len(probes.PROBES)
    page = admin_client.get(reverse("compliance:probes_run")).content.decode()
    assert "判定不能" in page  # the clock on a host without timedatectl/chronyc
    event = AuditEvent.objects.get(action="compliance.probes.run")
    assert event.detail["results"]["clock"] == ProbeStatus.UNKNOWN


def test_run_probes_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(probes, "run_command", lambda argv: "NTPSynchronized=no\n" if argv[0] == "timedatectl" else None)
    call_command("run_probes", "clock", "idle_timeout")
    out = capsys.readouterr().out
    assert "fail" in out and "clock" in out
    with pytest.raises(CommandError, match="clock"):
        call_command("run_probes", "clock", "--fail-on-fail")
    with pytest.raises(CommandError, match="unknown probes"):
        call_command("run_probes", "nonsense")


def test_beat_schedule_names_registered_tasks() -> None:
    celery_app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    compliance_entries = {name: entry for name, entry in schedule.items() if name.startswith("compliance-")}
    assert {e["task"] for e in compliance_entries.values()} >= {
        "compliance.probes_run", "compliance.probes_run_frequent", "compliance.emergency_expire_due",
        "compliance.maintenance_close_expired", "compliance.backup_create", "compliance.restore_drill_run",
    }
    for entry in compliance_entries.values():
        assert entry["task"] in celery_app.tasks


def test_frequent_task_runs_the_frequent_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    from compliance.tasks import probes_run_frequent_task

    monkeypatch.setattr(probes, "run_command", lambda argv: None)
    result = probes_run_frequent_task.delay().get()
    assert set(result) == {"clock", "tls_served", "emergency_accounts", "maintenance_windows", "access_reviews"}


def test_clerks_cannot_see_the_dashboard(clerk_client: Client, make_user: Callable[..., Any]) -> None:
    assert clerk_client.get(reverse("compliance:dashboard")).status_code == 403
