"""Billing pages, mounted at /billing/."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("", views.home, name="home"),
    path("statements/", views.statement_list, name="statement_list"),
    path("statements.csv", views.statement_list_csv, name="statement_list_csv"),
    path("statements/<int:statement_id>/", views.statement_detail, name="statement_detail"),
    path("statements/<int:statement_id>/statement.csv", views.statement_csv, name="statement_csv"),
    path("statements/<int:statement_id>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices.csv", views.invoice_list_csv, name="invoice_list_csv"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:invoice_id>/invoice.pdf", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:invoice_id>/invoice.csv", views.invoice_csv, name="invoice_csv"),
    path("invoices/<int:invoice_id>/cancel/", views.invoice_cancel, name="invoice_cancel"),
    path("payment-statements/", views.payment_statement_list, name="payment_statement_list"),
    path("payment-statements.csv", views.payment_statement_list_csv, name="payment_statement_list_csv"),
    path("payment-statements/<int:payment_statement_id>/", views.payment_statement_detail, name="payment_statement_detail"),
    path("payment-statements/<int:payment_statement_id>/statement.pdf", views.payment_statement_pdf, name="payment_statement_pdf"),
    path("payment-statements/<int:payment_statement_id>/statement.csv", views.payment_statement_csv, name="payment_statement_csv"),
    path("receipts/", views.insurer_payment_list, name="insurer_payment_list"),
    path("receipts.csv", views.insurer_payment_list_csv, name="insurer_payment_list_csv"),
    path("receipts/<int:payment_id>/reverse/", views.insurer_payment_reverse, name="insurer_payment_reverse"),
    path("receipts/import/", views.bank_csv_import, name="bank_csv_import"),
    path("months/", views.month_list, name="month_list"),
    path("months/<str:period>/", views.month_detail, name="month_detail"),
    path("adjustments/", views.adjustment_list, name="adjustment_list"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("transfers.csv", views.transfer_list_csv, name="transfer_list_csv"),
    path("transfers/<int:batch_id>/zengin.txt", views.transfer_file, name="transfer_file"),
    path("settings/", views.billing_settings, name="settings"),
    path("settings/insurers/<str:number>/", views.insurer_terms, name="insurer_terms"),
]
