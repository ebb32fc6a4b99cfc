"""設定: the administrator's pages for accounts, insurers, institutions (bank account, archive password,
registered e-mail senders), contracts and the API's machine clients with their certificates.

Every change goes through a service of ``agency.services`` and is audited in the same transaction; reads
of people's details are audited as personal data. The Django admin is for superusers only.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from audit.middleware import personal_data
from core.http import request_audit

from .. import access, selectors, services
from ..forms import (
    ApiClientForm,
    ArchivePasswordForm,
    CertificateForm,
    ContractEndForm,
    ContractForm,
    EmailSenderForm,
    IdentityVerificationForm,
    InstitutionForm,
    InsurerForm,
    OtherItemFormSet,
    ReasonForm,
    UserCreateForm,
    UserEditForm,
)
from ..models import Contract, Institution, Insurer, User
from ..permissions import Perm, permission_required_for_role, user_has_perm
from ..services.accounts import USER_FIELDS

FORM = "parties/settings_form.html"


def _actor(request: HttpRequest) -> User:
    """The administrator acting (the permission check before every view has refused anyone else)."""
    return cast(User, request.user)


def _refused(form: BaseForm, error: ValidationError) -> None:
    """Put a service's refusal on the form: on the fields it names, otherwise above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _form_page(request: HttpRequest, *, form: BaseForm, title: str, back: str, submit: str, intro: str = "",
               formset: Any = None, danger: bool = False) -> HttpResponse:
    return render(request, FORM, {"form": form, "title": title, "back": back, "submit": submit, "intro": intro,
                                  "formset": formset, "danger": danger})


# --- users ---------------------------------------------------------------------------------------------------------


@personal_data("account.view")
@require_GET
@permission_required_for_role(Perm.USERS_VIEW)
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    person = access.access_user(request, user_id)
    request_audit(request).touch("user", [person.pk])
    return render(request, "parties/user_detail.html", {
        "person": person, "resets": selectors.credential_reset_list(person=person)[:20],
        "can_manage": user_has_perm(request.user, Perm.USERS_MANAGE),
        "has_totp": services.user_has_confirmed_totp(user=person),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.USERS_MANAGE)
def user_create(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        tenant = {"insurer": data["insurer"], "institution": data["institution"]}
        try:
            with transaction.atomic():
                if data["password_mode"] == UserCreateForm.TEMPORARY:
                    person = services.user_create(
                        username=data["username"], password=data["password1"], role=data["role"], actor=_actor(request),
                        fields=form.person_fields(), temporary=True, request=request, **tenant,
                    )
                    done = _("利用者 %(name)s を登録しました。仮パスワードを本人に安全な方法で伝えてください（最初のログインで変更が必要です）。")
                else:
                    person, _entry = services.user_invite(
                        username=data["username"], role=data["role"], actor=_actor(request), method=data["method"],
                        document_reference=data["document_reference"], verified_at=data["verified_at"], request=request,
                        fields=form.person_fields(), **tenant,
                    )
                    done = _("利用者 %(name)s を登録し、パスワード設定リンクを登録メールアドレスに送りました。")
        except ValidationError as error:
            if hasattr(error, "error_dict") and "password" in error.error_dict:
                error = ValidationError({"password1": error.error_dict["password"]})
            elif not hasattr(error, "error_dict") and data["password_mode"] == UserCreateForm.TEMPORARY:
                error = ValidationError({"password1": error.error_list})
            _refused(form, error)
        else:
            messages.success(request, done % {"name": person.username})
            return redirect("parties:user_detail", person.pk)
    return _form_page(request, form=form, title=_("利用者の登録"), back=reverse("parties:user_list"),
                      submit=_("登録する"), intro=_(
                          "役割に応じて所属を選びます。パスワードは、本人確認のうえ本人がリンクから設定するのが原則です。"))


@personal_data("account.view")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.USERS_MANAGE)
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    person = access.access_user(request, user_id)
    request_audit(request).touch("user", [person.pk])
    initial = {name: getattr(person, name) for name in (*USER_FIELDS, "role", "insurer", "institution")}
    form = UserEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update(user=person, actor=_actor(request), role=data["role"], insurer=data["insurer"],
                                 institution=data["institution"], fields=form.person_fields(), request=request)
        except ValidationError as error:
            person.refresh_from_db()
            _refused(form, error)
        else:
            messages.success(request, _("利用者 %(name)s を変更しました。") % {"name": person.username})
            return redirect("parties:user_detail", person.pk)
    return _form_page(request, form=form, title=_("利用者の変更: %(name)s") % {"name": person.username},
                      back=reverse("parties:user_detail", args=[person.pk]), submit=_("保存する"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.USERS_MANAGE)
def user_status(request: HttpRequest, user_id: int) -> HttpResponse:
    person = access.access_user(request, user_id)
    form = ReasonForm(request.POST or None)
    enable = not person.is_active
    if request.method == "POST" and form.is_valid():
        try:
            services.user_set_active(user=person, active=enable, reason=form.cleaned_data["reason"], actor=_actor(request),
                                     request=request)
        except ValidationError as error:
            person.refresh_from_db()
            _refused(form, error)
        else:
            messages.success(request, (_("利用者 %(name)s を有効にしました。") if enable else
                                       _("利用者 %(name)s を無効にしました。ログイン中の画面も次の操作で終了します。")) % {"name": person.username})
            return redirect("parties:user_detail", person.pk)
    title = (_("利用者を有効にする: %(name)s") if enable else _("利用者を無効にする: %(name)s")) % {"name": person.username}
    intro = _("有効にすると、この利用者は再びログインできます。") if enable else _(
        "無効にした利用者はログインできず、ログイン中の画面も次の操作で終了します。記録は残ります。")
    return _form_page(request, form=form, title=title, back=reverse("parties:user_detail", args=[person.pk]),
                      submit=_("有効にする") if enable else _("無効にする"), intro=intro, danger=not enable)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.USERS_MANAGE)
def user_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    person = access.access_user(request, user_id)
    form = IdentityVerificationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.credential_reset_issue(user=person, actor=_actor(request), method=data["method"],
                                            document_reference=data["document_reference"], verified_at=data["verified_at"],
                                            request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("本人確認を記録し、パスワード再設定リンクを %(name)s の登録メールアドレスに送りました。") % {
                "name": person.username})
            return redirect("parties:user_detail", person.pk)
    return _form_page(request, form=form, title=_("パスワード再設定（本人確認）: %(name)s") % {"name": person.username},
                      back=reverse("parties:user_detail", args=[person.pk]), submit=_("本人確認を記録してリンクを送る"),
                      intro=_("本人であることを確認した方法と記録を入力してください。現在のパスワードは無効になり、本人の登録メールアドレスに"
                              "一度だけ使える再設定リンクを送ります。管理者がパスワードを知ることはありません。"))


# --- insurers and institutions ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def insurer_create(request: HttpRequest) -> HttpResponse:
    return _insurer_form(request, Insurer())


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def insurer_edit(request: HttpRequest, number: str) -> HttpResponse:
    return _insurer_form(request, access.access_insurer(request, number))


def _insurer_form(request: HttpRequest, insurer: Insurer) -> HttpResponse:
    created = insurer.pk is None
    form = InsurerForm(request.POST or None, instance=insurer)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.insurer_save(insurer=form.save(commit=False), actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("保険者 %(name)s を保存しました。") % {"name": saved})
            return redirect("parties:insurer_detail", saved.number)
    back = reverse("parties:insurer_list") if created else reverse("parties:insurer_detail", args=[insurer.number])
    return _form_page(request, form=form, title=_("保険者の登録") if created else _("保険者の変更: %(name)s") % {"name": insurer},
                      back=back, submit=_("保存する"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def institution_create(request: HttpRequest) -> HttpResponse:
    return _institution_form(request, Institution())


@personal_data("party.institution.view")
@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def institution_edit(request: HttpRequest, number: str) -> HttpResponse:
    institution = access.access_institution(request, number)
    request_audit(request).touch("institution", [institution.pk])
    return _institution_form(request, institution)


def _institution_form(request: HttpRequest, institution: Institution) -> HttpResponse:
    created = institution.pk is None
    form = InstitutionForm(request.POST or None, instance=institution)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.institution_save(institution=form.save(commit=False), actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("健診機関 %(name)s を保存しました。") % {"name": saved})
            return redirect("parties:institution_detail", saved.number)
    back = reverse("parties:institution_list") if created else reverse("parties:institution_detail", args=[institution.number])
    return _form_page(request, form=form, title=_("健診機関の登録") if created else _("健診機関の変更: %(name)s") % {"name": institution},
                      back=back, submit=_("保存する"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def institution_archive_password(request: HttpRequest, number: str) -> HttpResponse:
    institution = access.access_institution(request, number)
    form = ArchivePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        password = "" if form.cleaned_data["clear"] else form.cleaned_data["password"]
        services.institution_archive_password_set(institution=institution, password=password, actor=_actor(request),
                                                  request=request)
        messages.success(request, _("アーカイブのパスワードを登録しました。") if password else _("アーカイブのパスワードを削除しました。"))
        return redirect("parties:institution_detail", institution.number)
    state = _("登録済み") if institution.archive_password else _("未登録")
    return _form_page(request, form=form, title=_("アーカイブのパスワード: %(name)s") % {"name": institution},
                      back=reverse("parties:institution_detail", args=[institution.number]), submit=_("保存する"),
                      intro=_("現在: %(state)s。パスワードロックされたアーカイブは、送付時に入力がなければこのパスワードで開きます。") % {
                          "state": state})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def institution_senders(request: HttpRequest, number: str) -> HttpResponse:
    institution = access.access_institution(request, number)
    form = EmailSenderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sender = services.institution_email_sender_add(institution=institution, address=form.cleaned_data["address"],
                                                           actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("送信元アドレス %(address)s を登録しました。") % {"address": sender.address})
            return redirect("parties:institution_senders", institution.number)
    return render(request, "parties/institution_senders.html", {
        "institution": institution, "senders": selectors.email_sender_list(institution=institution), "form": form,
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def institution_sender_delete(request: HttpRequest, number: str, sender_id: int) -> HttpResponse:
    institution = access.access_institution(request, number)
    sender = access.access_email_sender(request, institution, sender_id)
    if request.method == "POST":
        services.institution_email_sender_remove(sender=sender, actor=_actor(request), request=request)
        messages.success(request, _("送信元アドレス %(address)s の登録を削除しました。") % {"address": sender.address})
        return redirect("parties:institution_senders", institution.number)
    return render(request, "parties/confirm.html", {
        "title": _("送信元アドレスの削除"),
        "message": _("%(address)s からのメールは、今後は受け付けません。") % {"address": sender.address},
        "submit": _("削除する"), "back": reverse("parties:institution_senders", args=[institution.number]),
    })


# --- contracts --------------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def contract_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    if request.method == "GET":
        insurer = Insurer.objects.filter(number=request.GET.get("insurer", "")).first()
        institution = Institution.objects.filter(number=request.GET.get("institution", "")).first()
        initial = {"insurer": insurer, "institution": institution}
    return _contract_form(request, Contract(), initial)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def contract_edit(request: HttpRequest, contract_id: int) -> HttpResponse:
    return _contract_form(request, access.access_contract(request, contract_id), {})


def _contract_form(request: HttpRequest, contract: Contract, initial: dict[str, Any]) -> HttpResponse:
    created = contract.pk is None
    form = ContractForm(request.POST or None, instance=contract, initial=initial)
    formset = OtherItemFormSet(request.POST or None, instance=contract, prefix="items")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        items = [
            (row["item_code"], row["price"]) for row in formset.cleaned_data
            if row and not row.get("DELETE") and row.get("item_code")
        ]
        codes = [code for code, _price in items]
        if len(codes) != len(set(codes)):
            form.add_error(None, _("同じ項目コードが2回入力されています。"))
        else:
            try:
                saved = services.contract_save(contract=form.save(commit=False), other_items=items, actor=_actor(request),
                                               request=request)
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(request, _("契約を保存しました。"))
                return redirect("parties:contract_detail", saved.pk)
    back = reverse("parties:contract_list") if created else reverse("parties:contract_detail", args=[contract.pk])
    return _form_page(request, form=form, formset=formset, title=_("契約の登録") if created else _("契約の変更"), back=back,
                      submit=_("保存する"), intro=_(
                          "単価は円（税込）、負担率は%で入力します。料金を改定するときは、現在の契約を終了してから新しい契約を登録すると、"
                          "改定前の健診には元の単価が使われます。"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def contract_end(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_contract(request, contract_id)
    form = ContractEndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.contract_end(contract=contract, valid_to=form.cleaned_data["valid_to"], actor=_actor(request),
                                  request=request)
        except ValidationError as error:
            contract.refresh_from_db()
            _refused(form, error)
        else:
            messages.success(request, _("契約の終了日を登録しました。"))
            return redirect("parties:contract_detail", contract.pk)
    return _form_page(request, form=form, title=_("契約の終了: %(insurer)s × %(institution)s") % {
        "insurer": contract.insurer.name, "institution": contract.institution.name},
        back=reverse("parties:contract_detail", args=[contract.pk]), submit=_("終了日を登録する"), danger=True)


# --- machine clients of the API and their certificates ----------------------------------------------------------------


@require_GET
@permission_required_for_role(Perm.PARTIES_MANAGE)
def api_client_list(request: HttpRequest) -> HttpResponse:
    return render(request, "parties/api_client_list.html", {"clients": selectors.api_client_list()})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def api_client_create(request: HttpRequest) -> HttpResponse:
    initial = {
        "institution": Institution.objects.filter(number=request.GET.get("institution", "")).first(),
        "insurer": Insurer.objects.filter(number=request.GET.get("insurer", "")).first(),
    }
    form = ApiClientForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            client, token = services.api_client_create(name=data["name"], institution=data["institution"],
                                                       insurer=data["insurer"], actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            # The token is shown on this answer only (the portal's pages are never cached); only its hash is kept.
            return render(request, "parties/api_client_issued.html", {"client": client, "token": token})
    return _form_page(request, form=form, title=_("APIクライアントの登録"), back=reverse("parties:api_client_list"),
                      submit=_("登録してトークンを発行する"), intro=_(
                          "健診機関または保険者のシステム1つにつき1件登録します。トークンは次の画面で一度だけ表示されます。"
                          "続けてクライアント証明書を登録すると、APIを使えるようになります。"))


@require_GET
@permission_required_for_role(Perm.PARTIES_MANAGE)
def api_client_detail(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.access_api_client(request, client_id)
    return render(request, "parties/api_client_detail.html", {
        "client": client, "certificates": client.certificates.order_by("revoked_at", "-not_after"),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def api_client_deactivate(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.access_api_client(request, client_id)
    if request.method == "POST" and client.is_active:
        services.api_client_deactivate(api_client=client, actor=_actor(request), request=request)
        messages.success(request, _("APIクライアント %(name)s を無効にしました。") % {"name": client.name})
        return redirect("parties:api_client_detail", client.pk)
    return render(request, "parties/confirm.html", {
        "title": _("APIクライアントの無効化: %(name)s") % {"name": client.name},
        "message": _("無効にすると、このクライアントのトークンと証明書によるAPIの利用はすべて拒否されます。元に戻せません。")
        if client.is_active else _("このAPIクライアントは既に無効です。"),
        "submit": _("無効にする") if client.is_active else "", "back": reverse("parties:api_client_detail", args=[client.pk]),
    })


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def certificate_create(request: HttpRequest, client_id: int) -> HttpResponse:
    client = access.access_api_client(request, client_id)
    form = CertificateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registered = services.client_certificate_register(api_client=client, pem=form.cleaned_data["pem"],
                                                              actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, ValidationError({"pem": error.messages}))
        else:
            messages.success(request, _("クライアント証明書（シリアル番号 %(serial)s）を登録しました。") % {"serial": registered.serial_hex})
            return redirect("parties:api_client_detail", client.pk)
    return _form_page(request, form=form, title=_("クライアント証明書の登録: %(name)s") % {"name": client.name},
                      back=reverse("parties:api_client_detail", args=[client.pk]), submit=_("登録する"), intro=_(
                          "TLSプロキシが検証する証明書です。SHA-256 フィンガープリントで識別します。CA証明書・期限切れ・"
                          "クライアント認証用でない証明書は登録できません。"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def certificate_revoke(request: HttpRequest, certificate_id: int) -> HttpResponse:
    certificate = access.access_client_certificate(request, certificate_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.client_certificate_revoke(certificate=certificate, reason=form.cleaned_data["reason"],
                                               actor=_actor(request), request=request)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, _("証明書を失効させました。TLSプロキシの失効リストも更新してください。"))
            return redirect("parties:api_client_detail", certificate.api_client_id)
    return _form_page(request, form=form, title=_("クライアント証明書の失効"),
                      back=reverse("parties:api_client_detail", args=[certificate.api_client_id]), submit=_("失効させる"),
                      intro=_("シリアル番号 %(serial)s（%(subject)s）を失効させます。以後この証明書によるAPIの利用は拒否されます。") % {
                          "serial": certificate.serial_hex, "subject": certificate.subject_dn}, danger=True)
