from __future__ import annotations

from django.urls import path

from . import views

app_name = "intake_api"

urlpatterns = [
    path("submissions/", views.SubmissionListCreateApi.as_view(), name="submission_list"),
    path("submissions/<int:submission_id>/", views.SubmissionDetailApi.as_view(), name="submission_detail"),
    path("submissions/<int:submission_id>/receipt/", views.SubmissionReceiptApi.as_view(), name="submission_receipt"),
    path("submissions/<int:submission_id>/errors/", views.SubmissionErrorsApi.as_view(), name="submission_errors"),
]
