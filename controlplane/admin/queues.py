"""django-rq's dashboard, reachable from the admin only with the ``django_rq.admin`` permission.

django-rq's own registration lets every staff user empty queues and requeue jobs; here the same views sit
behind an explicit permission (superusers have it implicitly).
"""

from __future__ import annotations

from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path
from django_rq import models as rq_models
from django_rq.admin import QueueAdmin

PERMISSION = "django_rq.admin"


def _require_permission(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


class GuardedQueueAdmin(QueueAdmin):
    """The RQ dashboard behind the ``django_rq.admin`` permission."""

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(PERMISSION)

    def changelist_view(self, request, extra_context=None):
        return _require_permission(super().changelist_view)(request, extra_context)

    def get_urls(self):
        from django.urls import URLPattern
        from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

        def wrap(view):
            guarded = _require_permission(view)

            @wraps(view)
            def wrapper(request, *args, **kwargs):
                request.current_app = self.admin_site.name
                return self.admin_site.admin_view(guarded)(request, *args, **kwargs)

            return wrapper

        # django-rq's stats API accepts any staff user; here it sits behind the same permission as the dashboard.
        api = [
            URLPattern(u.pattern, wrap(u.callback), u.default_args, u.name) for u in get_api_urlpatterns("django_rq_")
        ]
        views = get_admin_urlpatterns(name_prefix="django_rq_", view_wrapper=wrap)
        # Only the changelist of ModelAdmin's URLs: Dashboard is an unmanaged model without a table, so its
        # add/change/delete/history pages could only fail.
        changelist = path("", self.admin_site.admin_view(self.changelist_view), name="django_rq_dashboard_changelist")
        return [*api, *views, changelist]


admin.site.register(rq_models.Dashboard, GuardedQueueAdmin)
