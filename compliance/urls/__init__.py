"""Compliance pages, mounted at /compliance/."""

from __future__ import annotations

from django.urls import path

from compliance.views import console as views

app_name = "compliance"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("items/<str:code>/", views.item_detail, name="item_detail"),
    path("items/<str:code>/manage/", views.item_manage, name="item_manage"),
    path("items/<str:code>/attest/", views.item_attest, name="item_attest"),
    path("attestations/<int:pk>/evidence/", views.evidence_download, name="evidence_download"),
    path("probes/", views.probes_run, name="probes_run"),
    path("export/checklist.txt", views.export_text, name="export_text"),
    path("export/checklist.pdf", views.export_pdf, name="export_pdf"),
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("emergency-accounts/", views.emergency_accounts, name="emergency_accounts"),
    path("maintenance/", views.maintenance_list, name="maintenance_list"),
    path("maintenance/<int:pk>/", views.maintenance_detail, name="maintenance_detail"),
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/<int:pk>/", views.review_detail, name="review_detail"),
    path("reviews/<int:pk>/complete/", views.review_complete, name="review_complete"),
    path("backups/", views.backups, name="backups"),
    path("disposal/", views.disposal_list, name="disposal_list"),
    path("disposal/policies/<str:data_class>/", views.retention_policy_edit, name="retention_policy_edit"),
    path("disposal/request/", views.disposal_request, name="disposal_request"),
    path("disposal/<int:pk>/", views.disposal_detail, name="disposal_detail"),
    path("disposal/certificates/<int:seq>/", views.certificate_detail, name="certificate_detail"),
    path("disposal/certificates/<int:seq>/certificate.pdf", views.certificate_pdf, name="certificate_pdf"),
]
