"""The auditor's review of the audit log, mounted at /audit/."""

from __future__ import annotations

from django.urls import path

from compliance.views import audit as views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("events/<int:seq>/", views.event_detail, name="event_detail"),
    path("export.csv", views.event_export, name="event_export"),
    path("verify/", views.verify_chain, name="verify_chain"),
    path("anomalies/", views.anomaly_report, name="anomalies"),
    path("reviews/", views.review_list, name="review_list"),
    path("reviews/sign/", views.review_sign, name="review_sign"),
]
