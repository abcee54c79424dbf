"""Admin for API tokens: users create their own (the key is shown once, on the page that follows), see when each
was last used, and revoke them. Administrators with the model permissions see everyone's."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken


class TokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["name", "read_only", "expires_at"]

    def clean_expires_at(self):
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return value


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal API tokens. Every staff user manages their own; the key is never stored or shown again."""

    form = TokenForm
    list_display = ["name", "user", "key_prefix", "read_only", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["read_only"]
    readonly_fields = ["user", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def _sees_all(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("api.view_apitoken")

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user")
        return qs if self._sees_all(request) else qs.filter(user=request.user)

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_staff and (obj is None or obj.user_id == request.user.pk or self._sees_all(request))

    def has_add_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a token is created, used and revoked; never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, kept for the audit trail

    def get_fields(self, request, obj=None):
        return ["name", "read_only", "expires_at"] if obj is None else [
            "name", "user", "key_prefix", "read_only", "expires_at", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change) -> None:
        token, key = ApiToken.issue(request.user, form.cleaned_data["name"], read_only=form.cleaned_data["read_only"],
                                    expires_at=form.cleaned_data["expires_at"])
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(request, f"Your new token (copy it now, it is not shown again): {key}")

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:api_apitoken_changelist"))

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        count = 0
        for token in queryset:
            if token.user_id == request.user.pk or request.user.is_superuser or request.user.has_perm(
                    "api.change_apitoken"):
                token.revoke(request.user)
                count += 1
        messages.success(request, f"{count} token(s) revoked.")
