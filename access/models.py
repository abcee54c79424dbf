"""Object-level permission tables (django-guardian, direct foreign keys) for mirrored Flux objects.

Direct-FK tables instead of guardian's generic ones: the permission rules query them with plain joins on
integer keys, and rows go away with the object they protect.
"""

from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

# graph is above access (its pages check access.rules), so its models are named by string here.


class KubeObjectUserPermission(UserObjectPermissionBase):
    """A verb granted to one user on one mirrored object (and, by inheritance, everything below it)."""

    content_object = models.ForeignKey("graph.KubeObject", on_delete=models.CASCADE, related_name="user_grants")

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "user grant"


class KubeObjectGroupPermission(GroupObjectPermissionBase):
    """A verb granted to a group on one mirrored object (and everything below it)."""

    content_object = models.ForeignKey("graph.KubeObject", on_delete=models.CASCADE, related_name="group_grants")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = "group grant"
from access.jit.models import AccessGrant, ActiveAccessGrant, MyAccessGrant  # noqa: E402,F401  (JIT access)
