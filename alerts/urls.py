"""Machine endpoints of the alerts app; included by the project's URL configuration under ``alerts/``."""

from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("hooks/alertmanager", views.alertmanager_webhook, name="alertmanager-webhook"),
    path("hooks/flux", views.flux_event, name="flux-event"),
]
