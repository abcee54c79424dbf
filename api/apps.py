from django.apps import AppConfig


class ApiConfig(AppConfig):
    """REST API under /api/ with personal API tokens, an OpenAPI schema and the CLI's endpoints."""

    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"
