"""設定 › 集合契約: the administrator's pages for collective contracts (list, detail, registration, insurers
joining and leaving, institutions joining, price tables) and their CSV import. Every change goes
through ``agency.services`` and is audited there."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import access, selectors, services
from ..forms import (
    CollectiveContractForm,
    CollectiveImportForm,
    CollectiveInstitutionForm,
    CollectiveInsurerForm,
    CollectiveInsurerLeaveForm,
    CollectiveOtherItemFormSet,
    CollectivePriceTableForm,
)
from ..models import CollectiveContract, CollectiveInstitution, CollectiveInsurer, CollectivePriceTable
from ..permissions import Perm, permission_required_for_role
from .administration import _actor, _form_page, _refused


@require_GET
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_list(request: HttpRequest) -> HttpResponse:
    return render(request, "parties/collective_list.html", {"contracts": selectors.collective_contract_list()})


@require_GET
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    return render(request, "parties/collective_detail.html", {
        "contract": contract,
        "insurers": selectors.collective_insurer_list(contract=contract),
        "institutions": contract.institutions.select_related("institution").order_by("institution__number", "joined_on"),
        "tables": contract.price_tables.prefetch_related("other_items"),
    })


def _saved(request: HttpRequest, form: BaseForm, save: Any, done: str, back: str, title: str, intro: str = "") -> HttpResponse:
    """Validate the form, hand the unsaved row to ``save`` (a service), then go back to the contract."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(form)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, done)
            return redirect("parties:collective_detail", saved)
    return _form_page(request, form=form, title=title, back=back, submit=_("保存する"), intro=intro)


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_create(request: HttpRequest) -> HttpResponse:
    form = CollectiveContractForm(request.POST or None, instance=CollectiveContract())

    def save(form: CollectiveContractForm) -> int:
        return services.collective_contract_save(contract=form.save(commit=False), actor=_actor(request), request=request).pk

    return _saved(request, form, save, _("集合契約を登録しました。"), reverse("parties:collective_list"), _("集合契約の登録"),
                  _("代表保険者と契約取りまとめ機関を指定して登録し、続けて参加保険者・参加健診機関・単価表を登録します。"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_insurer_add(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    form = CollectiveInsurerForm(request.POST or None, instance=CollectiveInsurer(contract=contract))

    def save(form: CollectiveInsurerForm) -> int:
        services.collective_insurer_save(membership=form.save(commit=False), actor=_actor(request), request=request)
        return contract.pk

    return _saved(request, form, save, _("参加保険者を登録しました。"), reverse("parties:collective_detail", args=[contract.pk]),
                  _("参加保険者の登録: %(name)s") % {"name": contract.name})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_insurer_leave(request: HttpRequest, contract_id: int, membership_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    membership = access.access_collective_insurer(request, contract, membership_id)
    form = CollectiveInsurerLeaveForm(request.POST or None)

    def save(form: CollectiveInsurerLeaveForm) -> int:
        services.collective_insurer_leave(membership=membership, left_on=form.cleaned_data["left_on"], actor=_actor(request),
                                          request=request)
        return contract.pk

    return _saved(request, form, save, _("脱退日を登録しました。"), reverse("parties:collective_detail", args=[contract.pk]),
                  _("集合契約からの脱退: %(insurer)s") % {"insurer": membership.insurer})


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_institution_add(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    form = CollectiveInstitutionForm(request.POST or None, instance=CollectiveInstitution(contract=contract))

    def save(form: CollectiveInstitutionForm) -> int:
        services.collective_institution_save(membership=form.save(commit=False), actor=_actor(request), request=request)
        return contract.pk

    return _saved(request, form, save, _("参加健診機関を登録しました。"), reverse("parties:collective_detail", args=[contract.pk]),
                  _("参加健診機関の登録: %(name)s") % {"name": contract.name},
                  _("単価表の区分には、この機関の健診の単価を定める単価表の区分（都道府県番号または機関グループ名）を入力します。"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_price_add(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    return _price_form(request, contract, CollectivePriceTable(contract=contract))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_price_edit(request: HttpRequest, contract_id: int, table_id: int) -> HttpResponse:
    contract = access.access_collective_contract(request, contract_id)
    return _price_form(request, contract, access.access_collective_price_table(request, contract, table_id))


def _price_form(request: HttpRequest, contract: CollectiveContract, table: CollectivePriceTable) -> HttpResponse:
    created = table.pk is None
    form = CollectivePriceTableForm(request.POST or None, instance=table)
    formset = CollectiveOtherItemFormSet(request.POST or None, instance=table, prefix="items")
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        items = [(row["item_code"], row["price"]) for row in formset.cleaned_data
                 if row and not row.get("DELETE") and row.get("item_code")]
        if len({code for code, _price in items}) != len(items):
            form.add_error(None, _("同じ項目コードが2回入力されています。"))
        else:
            try:
                services.collective_price_table_save(table=form.save(commit=False), other_items=items, actor=_actor(request),
                                                     request=request)
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(request, _("単価表を保存しました。"))
                return redirect("parties:collective_detail", contract.pk)
    title = _("単価表の登録: %(name)s") if created else _("単価表の変更: %(name)s")
    return _form_page(request, form=form, formset=formset, title=title % {"name": contract.name},
                      back=reverse("parties:collective_detail", args=[contract.pk]), submit=_("保存する"),
                      intro=_("単価は円（税込）で入力します。改定した単価は、保存した後に受け付ける健診データから使われます。"))


@require_http_methods(["GET", "POST"])
@permission_required_for_role(Perm.PARTIES_MANAGE)
def collective_import(request: HttpRequest) -> HttpResponse:
    kinds = services.COLLECTIVE_IMPORT_KINDS
    form = CollectiveImportForm(request.POST or None, request.FILES or None, kinds=kinds)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            count = services.collective_import(kind=form.cleaned_data["kind"], data=upload.read(), file_name=upload.name,
                                               actor=_actor(request), request=request)
        except services.CollectiveImportRefused as refused:
            form.add_error(None, str(refused))
            problems = refused.lines
        else:
            messages.success(request, _("%(count)d行を取り込みました。") % {"count": count})
            return redirect("parties:collective_list")
    return render(request, "parties/collective_import.html", {
        "form": form, "problems": problems, "kinds": [(kind.label, kind.columns, kind.required) for kind in kinds.values()],
    })
