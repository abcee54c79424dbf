"""The project's URLs plus the alerts endpoints (until controlplane/urls.py includes alerts.urls)."""

from django.urls import include, path

from controlplane.urls import urlpatterns as project_urls

urlpatterns = [*project_urls] + ([] if any(getattr(p, "app_name", None) == "alerts" for p in project_urls) else [
    path("alerts/", include("alerts.urls")),
])
