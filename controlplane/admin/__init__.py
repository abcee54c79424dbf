"""Admin for the core app: site branding, audit log, connections, runs and the RQ dashboard."""

from django.contrib import admin

from controlplane import extensions, live
from controlplane.admin import audit, connections, queues, runs  # noqa: F401  (registers the ModelAdmins)
from controlplane.security import ThrottledAdminAuthenticationForm

admin.site.site_header = "Fluxplane"
admin.site.site_title = "Fluxplane"
admin.site.index_title = "Flux control plane"
admin.site.login_form = ThrottledAdminAuthenticationForm

_app_list = admin.site.get_app_list


def get_app_list(request, app_label=None) -> list[dict]:
    """The admin's app list (sidebar and index) with what the apps add to it (controlplane.extensions.register_nav).
    Set on the default site instance rather than by swapping the site class, which would change the admin's app
    label in every installed app's URLs and templates."""
    return extensions.adjust_app_list(request, _app_list(request, app_label))


admin.site.get_app_list = get_app_list
live.install_dashboard(admin.site)  # the dashboard's panels refresh themselves (controlplane/live.py)


_stock_get_object = admin.ModelAdmin.get_object


def _get_visible_object(self, request, object_id, from_field=None):
    """Django's ModelAdmin.get_object, but an object the user may neither view nor change reads as one that does not
    exist: stock Django answers 403 for an existing object and "does not exist" for a missing one, which lets anybody
    signed in learn which ids exist. One patch here covers every model admin (ours and django.contrib's)."""
    obj = _stock_get_object(self, request, object_id, from_field)
    if obj is not None and not self.has_view_or_change_permission(request, obj):
        return None
    return obj


admin.ModelAdmin.get_object = _get_visible_object
