from __future__ import annotations

from django.urls import path

from . import views

app_name = "delivery_api"

urlpatterns = [
    path("deliveries/", views.DeliveryListApi.as_view(), name="delivery_list"),
    path("deliveries/<int:delivery_id>/", views.DeliveryDetailApi.as_view(), name="delivery_detail"),
    path("deliveries/<int:delivery_id>/archive/", views.DeliveryArchiveApi.as_view(), name="delivery_archive"),
    path("deliveries/<int:delivery_id>/acknowledge/", views.DeliveryAcknowledgeApi.as_view(), name="delivery_acknowledge"),
]
