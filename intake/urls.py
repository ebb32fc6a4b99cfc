"""Intake pages, mounted at /intake/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("", views.submission_list, name="submission_list"),
    path("submissions.csv", views.submission_list_csv, name="submission_list_csv"),
    path("upload/", views.upload, name="upload"),
    path("import/", views.media_import, name="media_import"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission_detail"),
    path("submissions/<int:submission_id>/progress/", views.submission_progress, name="submission_progress"),
    path("submissions/<int:submission_id>/receipt/", views.receipt, name="receipt"),
    path("submissions/<int:submission_id>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("submissions/<int:submission_id>/receipt.json", views.receipt_json, name="receipt_json"),
    path("submissions/<int:submission_id>/errors/", views.error_list, name="error_list"),
    path("submissions/<int:submission_id>/errors.csv", views.error_list_csv, name="error_list_csv"),
    path("submissions/<int:submission_id>/errors.pdf", views.error_list_pdf, name="error_list_pdf"),
    path("submissions/<int:submission_id>/returned/", views.returned_archive, name="returned_archive"),
    path("records/<int:record_id>/", views.record_detail, name="record_detail"),
    path("records/<int:record_id>/override/", views.record_override, name="record_override"),
    path("workbench/", views.workbench, name="workbench"),
    path("workbench.csv", views.workbench_csv, name="workbench_csv"),
    path("returns/", views.return_list, name="return_list"),
    path("returns.csv", views.return_list_csv, name="return_list_csv"),
    path("records/", views.record_search, name="record_search"),
    path("records.csv", views.record_search_csv, name="record_search_csv"),
    path("warnings/", views.warning_queue, name="warning_queue"),
    path("warnings.csv", views.warning_queue_csv, name="warning_queue_csv"),
    path("rules/", views.rule_catalogue, name="rule_catalogue"),
]
