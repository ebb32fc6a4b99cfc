"""The insurer portal, 過誤 for institutions, the clerks' routing pages and notification settings (/insurer/)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "insurer"

urlpatterns = [
    path("", views.delivery_list, name="delivery_list"),
    path("deliveries.csv", views.delivery_list_csv, name="delivery_list_csv"),
    path("deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery_detail"),
    path("deliveries/<int:delivery_id>/download/", views.delivery_download, name="delivery_download"),
    path("deliveries/<int:delivery_id>/acknowledge/", views.delivery_acknowledge, name="delivery_acknowledge"),
    path("deliveries/<int:delivery_id>/media/", views.delivery_media, name="delivery_media"),
    path("deliveries/<int:delivery_id>/media/archive/", views.delivery_media_archive, name="delivery_media_archive"),
    path("records/", views.record_search, name="record_search"),
    path("records.csv", views.record_search_csv, name="record_search_csv"),
    path("records/<int:record_id>/", views.record_detail, name="record_detail"),
    path("records/<int:record_id>/return/", views.record_return, name="record_return"),
    path("guidance-targets/", views.guidance_targets, name="guidance_targets"),
    path("guidance-targets.csv", views.guidance_targets_csv, name="guidance_targets_csv"),
    path("annual-report/", views.annual_report_page, name="annual_report"),
    path("annual-report/generate/", views.annual_report_generate, name="annual_report_generate"),
    path("annual-report/<int:generation_id>/download/", views.annual_report_download, name="annual_report_download"),
    path("returns/", views.return_list, name="return_list"),
    path("returns.csv", views.return_list_csv, name="return_list_csv"),
    path("returns/<int:return_id>/archive/", views.return_archive, name="return_archive"),
    path("eligibility/", views.eligibility_upload, name="eligibility_upload"),
    path("eligibility/template.csv", views.eligibility_template, name="eligibility_template"),
    path("other-checkups/", views.other_checkup_list, name="other_checkup_list"),
    path("other-checkups/<int:submission_id>/", views.other_checkup_detail, name="other_checkup_detail"),
    path("other-checkups/<int:submission_id>/errors.csv", views.other_checkup_errors_csv, name="other_checkup_errors_csv"),
    path("routing/", views.routing_run, name="routing_run"),
    path("routing/submissions/<int:submission_id>/", views.routing_dry_run, name="routing_dry_run"),
    path("notifications/", views.notification_settings, name="notification_settings"),
]
