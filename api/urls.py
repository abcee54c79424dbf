"""URLs of the API (mounted at /api/ by controlplane/urls.py)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import views

router = DefaultRouter()
router.register("clusters", views.ClusterViewSet, basename="cluster")
router.register("objects", views.ObjectViewSet, basename="object")
router.register("runs", views.RunViewSet, basename="run")
router.register("approvals", views.ApprovalViewSet, basename="approval")
router.register("alerts", views.AlertViewSet, basename="alert")
router.register("silences", views.SilenceViewSet, basename="silence")
router.register("grants", views.GrantViewSet, basename="grant")
router.register("audit", views.AuditViewSet, basename="audit")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the strict CSP (no inline script) holds.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include(router.urls)),
]
