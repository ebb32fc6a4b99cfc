"""Machine clients of the REST API and the TLS client certificates registered for them.

A machine client acts for exactly one institution or one insurer. It authenticates with two things
at once: a TLS client certificate that nginx has verified (identified here by the SHA-256 of its
DER encoding, registered explicitly) and a bearer token of which only the SHA-256 is stored.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import TimeStampedModel
from .parties import Institution, Insurer


class ApiClient(TimeStampedModel):
    """A system of an institution or insurer that calls the REST API."""

    name = models.CharField(_("名称"), max_length=100)
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("健診機関"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_clients",
    )
    insurer = models.ForeignKey(
        Insurer,
        verbose_name=_("保険者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_clients",
    )
    is_active = models.BooleanField(_("有効"), default=True)
    # SHA-256 (hex) of the token; the token itself is shown once, when it is issued.
    token_hash = models.CharField(_("トークンのハッシュ"), max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登録者"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(_("最終利用日時"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("APIクライアント")
        verbose_name_plural = _("APIクライアント")
        ordering: ClassVar[list[str]] = ["name", "id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=(Q(institution__isnull=False) & Q(insurer__isnull=True))
                | (Q(institution__isnull=True) & Q(insurer__isnull=False)),
                name="api_client_exactly_one_party",
                violation_error_message=_("健診機関か保険者のどちらか一方だけを選んでください。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.party_label})"

    @property
    def party_label(self) -> str:
        if self.institution_id:
            return f"institution:{self.institution.number}"
        if self.insurer_id:
            return f"insurer:{self.insurer.number}"
        return "-"


class ClientCertificate(TimeStampedModel):
    """A TLS client certificate accepted for one API client, identified by its DER SHA-256."""

    api_client = models.ForeignKey(
        ApiClient, verbose_name=_("APIクライアント"), on_delete=models.PROTECT, related_name="certificates"
    )
    fingerprint_sha256 = models.CharField(_("SHA-256 フィンガープリント"), max_length=64, unique=True)
    serial_hex = models.CharField(_("シリアル番号"), max_length=64)
    subject_dn = models.TextField(_("サブジェクト"))
    issuer_dn = models.TextField(_("発行者"))
    not_before = models.DateTimeField(_("有効期間の開始"))
    not_after = models.DateTimeField(_("有効期間の終了"), db_index=True)
    revoked_at = models.DateTimeField(_("失効日時"), null=True, blank=True)
    revoked_reason = models.CharField(_("失効理由"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("クライアント証明書")
        verbose_name_plural = _("クライアント証明書")
        ordering: ClassVar[list[str]] = ["api_client_id", "-not_after"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(not_after__gt=models.F("not_before")), name="client_certificate_validity_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject_dn} [{self.fingerprint_sha256[:16]}…]"
