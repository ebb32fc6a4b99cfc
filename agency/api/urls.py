from __future__ import annotations

from django.urls import path

from . import views

app_name = "agency_api"

urlpatterns = [
    path("insurers/", views.InsurerListApi.as_view(), name="insurer_list"),
    path("insurers/<str:number>/", views.InsurerDetailApi.as_view(), name="insurer_detail"),
    path("institutions/", views.InstitutionListApi.as_view(), name="institution_list"),
    path("institutions/<str:number>/", views.InstitutionDetailApi.as_view(), name="institution_detail"),
    path("contracts/", views.ContractListApi.as_view(), name="contract_list"),
    path("contracts/<int:contract_id>/", views.ContractDetailApi.as_view(), name="contract_detail"),
]
