"""Admin for clusters and git connections; every change is audited."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.forms.models import model_to_dict

from controlplane.models import AuditEvent, Cluster, GitConnection


class AuditedModelAdmin(admin.ModelAdmin):
    """Writes an audit event with before/after for every add, change and delete made through the admin."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request, obj, form, change):
        before = None
        if change and obj.pk:
            before = model_to_dict(type(obj).objects.get(pk=obj.pk))
        super().save_model(request, obj, form, change)
        verb = f"{obj._meta.model_name}.{'changed' if change else 'created'}"
        AuditEvent.record(verb, obj, before=before, after=model_to_dict(obj), actor=request.user)

    def delete_model(self, request, obj):
        before = model_to_dict(obj)
        AuditEvent.record(f"{obj._meta.model_name}.deleted", obj, before=before, actor=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Cluster)
class ClusterAdmin(AuditedModelAdmin):
    list_display = ["name", "connection", "enabled", "last_sync_state", "last_sync_at"]
    list_filter = ["connection", "enabled", "last_sync_state"]
    search_fields = ["name", "description"]
    readonly_fields = ["last_sync_at", "last_sync_state", "last_sync_message"]
    fieldsets = [
        (None, {"fields": ["name", "description", "enabled", "sync_interval_seconds"]}),
        ("Connection", {"fields": ["connection", "kubeconfig_path", "kubeconfig_context", "server_url"]}),
        ("Remote target of a hub", {"fields": ["kubeconfig_secrets"]}),
        ("Last sync", {"fields": ["last_sync_state", "last_sync_at", "last_sync_message"]}),
    ]


@admin.register(GitConnection)
class GitConnectionAdmin(AuditedModelAdmin):
    """Git connections: the provider decides which fields count (a small static script hides the API fieldset for
    plain git; the model validates each provider's needs whatever the browser did). The token is a reference."""

    list_display = ["name", "provider", "repository_url", "base_branch", "create_pull_requests", "merge_policy"]
    list_filter = ["provider", "create_pull_requests", "merge_policy"]
    search_fields = ["name", "repository_url", "github_repository"]
    fieldsets = [
        (None, {"fields": ["name", "provider", "repository_url", "base_branch"]}),
        ("Provider API", {
            "classes": ["fp-provider-api"],
            "description": "GitHub: owner/name and a token (API URL only for GitHub Enterprise). GitLab: the project "
                           "path or id and a token with the api scope (API URL only for self-managed GitLab). "
                           "Gitea/Forgejo: the server URL, owner/name and a token with repository write access. The "
                           "token is never entered here: give env:VARIABLE or file:/path where Fluxplane reads it.",
            "fields": ["api_url", "github_repository", "token_ref"],
        }),
        ("Pull requests", {"fields": ["create_pull_requests", "merge_policy"]}),
    ]

    class Media:
        js = ["controlplane/gitconnection.js"]
