"""Every permission rule of Fluxplane, written once and used by the admin, views and jobs alike.

A verb (``graph.<codename>``) is allowed when the user is a superuser, holds the Django permission globally, or holds
a django-guardian grant on the object, on any of its ancestors in the Flux tree (the Kustomization/HelmRelease that
created it, the Deployment that owns its ReplicaSet, …) or on its Namespace object and that Namespace's ancestors.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from access.models import KubeObjectGroupPermission, KubeObjectUserPermission

RUN_PLAYBOOK = "run_playbook"
REQUEST_CHANGE = "request_change"
APPROVE_RUN = "approve_run"
MERGE_CHANGE = "merge_change"
REQUEST_ACCESS = "request_access"
SILENCE = "silence"
VIEW = "view_kubeobject"
VERBS = (VIEW, RUN_PLAYBOOK, REQUEST_CHANGE, APPROVE_RUN, MERGE_CHANGE, REQUEST_ACCESS, SILENCE)

_MAX_DEPTH = 32  # the Flux tree is shallow; the bound only protects against a cycle in bad data


# access sits below graph (graph's pages check these rules), so it names graph's models instead of importing them.
def _objects() -> QuerySet:
    return apps.get_model("graph", "KubeObject").objects.all()


def _tree_edges() -> QuerySet:
    """Edges that make the Flux tree: created (Kustomization/HelmRelease → object) and owns (ownerReferences)."""
    edge = apps.get_model("graph", "Edge")
    return edge.objects.filter(type__in=edge.TREE_TYPES)


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def has_global(user, verb: str) -> bool:
    """The user holds ``verb`` for every object: a superuser, or the Django permission granted to them or a group."""
    return _active(user) and (user.is_superuser or user.has_perm(f"graph.{verb}"))


def ancestors(obj: Model) -> set[int]:
    """Primary keys of the object, everything above it in the Flux tree, and its Namespace object with that
    Namespace's own ancestors (a grant on a namespace covers what is in it)."""
    found = {obj.pk}
    if obj.namespace:
        namespace = _objects().filter(
            cluster_id=obj.cluster_id, api_group="", kind="Namespace", name=obj.namespace
        ).values_list("pk", flat=True).first()
        if namespace is not None:
            found.add(namespace)
    frontier = set(found)
    for _ in range(_MAX_DEPTH):
        parents = set(_tree_edges().filter(target_id__in=frontier).values_list("source_id", flat=True))
        frontier = parents - found
        if not frontier:
            break
        found |= frontier
    return found


def same_identity(object_ids: Iterable[int]) -> set[int]:
    """The given rows plus every row of the same Kubernetes object by identity (cluster, API group, kind, namespace,
    name). An object deleted and re-created (a cluster rebuilt, a Kustomization pruned and applied again) gets a new
    uid and so a new mirror row; grants are kept on the row they were given on, and follow the identity, as a user
    expects of a grant on "Kustomization flux-system/apps" (docs/permissions.md)."""
    ids = set(object_ids)
    if not ids:
        return ids
    condition = Q(pk__in=[])
    for cluster_id, group, kind, namespace, name in _objects().filter(pk__in=ids).values_list(
            "cluster_id", "api_group", "kind", "namespace", "name"):
        condition |= Q(cluster_id=cluster_id, api_group=group, kind=kind, namespace=namespace, name=name)
    return ids | set(_objects().filter(condition).values_list("pk", flat=True))


def _granted_on(user, verb: str, object_ids: Iterable[int]) -> bool:
    ids = list(same_identity(object_ids))
    if not ids:
        return False
    direct = KubeObjectUserPermission.objects.filter(
        user=user, permission__codename=verb, permission__content_type__app_label="graph", content_object_id__in=ids
    )
    if direct.exists():
        return True
    return KubeObjectGroupPermission.objects.filter(
        group__in=user.groups.all(), permission__codename=verb, permission__content_type__app_label="graph",
        content_object_id__in=ids,
    ).exists()


def has_verb(user, verb: str, obj: Model) -> bool:
    """May ``user`` do ``verb`` on ``obj``? Global permission, or a grant on the object or an ancestor."""
    if not _active(user):
        return False
    if has_global(user, verb):
        return True
    return _granted_on(user, verb, ancestors(obj))


def can_view(user, obj: Model) -> bool:
    """Users see an object when they may view it globally or it lies under an object they were granted view on."""
    return has_verb(user, VIEW, obj)


def can_run_playbook(user, obj: Model) -> bool:
    """Suspend, resume and reconcile need ``run_playbook`` on the object or an ancestor."""
    return has_verb(user, RUN_PLAYBOOK, obj)


def can_request_change(user, obj: Model) -> bool:
    """GitOps changes (edit, scale, image, values, …) need ``request_change`` on the object or an ancestor."""
    return has_verb(user, REQUEST_CHANGE, obj)


def can_request_access(user, namespace_obj: Model) -> bool:
    """Just-in-time access to a namespace needs ``request_access`` on it or an ancestor."""
    return has_verb(user, REQUEST_ACCESS, namespace_obj)


def can_silence(user, obj: Model) -> bool:
    """Silencing alerts of a subtree needs ``silence`` on its root or an ancestor."""
    return has_verb(user, SILENCE, obj)


def can_approve(user, run) -> bool:
    """Approving needs ``approve_run`` on the run's target or an ancestor, and the approver is never the requester
    (not even a superuser approves their own request)."""
    if not _active(user) or run.requested_by_id == user.pk:
        return False
    if run.target_id is None:
        return has_global(user, APPROVE_RUN)
    return has_verb(user, APPROVE_RUN, run.target)


def can_merge(user, run) -> bool:
    """Merging an approved change from Fluxplane needs ``merge_change`` on the run's target or an ancestor. The
    requester may merge too: the approvals by others already happened (whether they are met is the run's check)."""
    if not _active(user):
        return False
    if run.target_id is None:
        return has_global(user, MERGE_CHANGE)
    return has_verb(user, MERGE_CHANGE, run.target)


def has_any_grant(user, verb: str) -> bool:
    """Whether the user holds ``verb`` anywhere (globally or on at least one object), e.g. to show a menu."""
    if not _active(user):
        return False
    if has_global(user, verb):
        return True
    return KubeObjectUserPermission.objects.filter(user=user, permission__codename=verb).exists() or \
        KubeObjectGroupPermission.objects.filter(group__in=user.groups.all(), permission__codename=verb).exists()


def request_has_any_grant(request, verb: str) -> bool:
    """``has_any_grant`` for the request's user, asked once per request and verb: the admin's navigation asks every
    registered list whether to show itself (≈ 40 times a page), and the answer cannot change within a request."""
    memo = request.__dict__.setdefault("_fluxplane_any_grant", {})
    if verb not in memo:
        memo[verb] = has_any_grant(request.user, verb)
    return memo[verb]


def granted_object_ids(user, verb: str) -> set[int]:
    """Objects the user holds ``verb`` on directly (user or group grants), without inheritance."""
    ids = set(KubeObjectUserPermission.objects.filter(user=user, permission__codename=verb).values_list(
        "content_object_id", flat=True))
    ids |= set(KubeObjectGroupPermission.objects.filter(group__in=user.groups.all(), permission__codename=verb)
               .values_list("content_object_id", flat=True))
    return ids


def visible_filter(user, verb: str = VIEW) -> Q | None:
    """A filter selecting the objects the user may ``verb``: None means everything, ``Q(pk__in=[])`` nothing.

    Grants are expanded down the Flux tree in memory from one query of the relevant clusters' tree edges; a grant
    on a Namespace object covers every object in that namespace.
    """
    if not _active(user):
        return Q(pk__in=[])
    if has_global(user, verb):
        return None
    roots = same_identity(granted_object_ids(user, verb))
    if not roots:
        return Q(pk__in=[])
    root_rows = list(_objects().filter(pk__in=roots).values_list("pk", "cluster_id", "kind", "name"))
    clusters = {c for _pk, c, _k, _n in root_rows}
    children: dict[int, list[int]] = defaultdict(list)
    for source, target in _tree_edges().filter(cluster_id__in=clusters).values_list("source_id", "target_id"):
        children[source].append(target)
    seen = set(roots)
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    condition = Q(pk__in=seen)
    for _pk, cluster_id, kind, name in root_rows:
        if kind == "Namespace":
            condition |= Q(cluster_id=cluster_id, namespace=name)
    return condition


def visible_objects(user, queryset: QuerySet, verb: str = VIEW) -> QuerySet:
    """Restrict a KubeObject queryset to what the user may see (list pages, the graph, the dashboard)."""
    condition = visible_filter(user, verb)
    return queryset if condition is None else queryset.filter(condition)


def visible_runs(user, queryset: QuerySet) -> QuerySet:
    """Runs (any model with ``requested_by`` and ``target``) a user sees: every run with the model's view permission,
    else their own and those on objects they may view."""
    opts = queryset.model._meta
    if not _active(user):
        return queryset.none()
    if user.has_perm(f"{opts.app_label}.view_{opts.model_name}"):
        return queryset
    condition = visible_filter(user)
    targets = _objects() if condition is None else _objects().filter(condition)
    return queryset.filter(Q(requested_by=user) | Q(target__in=targets))


def can_view_run(user, run) -> bool:
    """One run: visible to its requester, to whoever may view its target, and to holders of the view permission."""
    if not _active(user):
        return False
    opts = run._meta
    if user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or run.requested_by_id == user.pk:
        return True
    return run.target is not None and can_view(user, run.target)


def reachable_filter(user, verb: str = VIEW) -> Q | None:
    """Objects whose existence the user may learn: those they may view, or hold ``verb`` on (someone granted only
    ``silence`` on a subtree still silences it). None means everything."""
    seen, acting = visible_filter(user, VIEW), visible_filter(user, verb) if verb != VIEW else None
    if seen is None or (verb != VIEW and acting is None):
        return None
    return seen if acting is None else seen | acting


def reachable_objects(user, queryset: QuerySet, verb: str = VIEW) -> QuerySet:
    """Restrict a KubeObject queryset to the objects the user may learn exist (see :func:`reachable_filter`).

    Every endpoint that takes object ids from a request (bulk actions' ``_selected_action``, graph roots, start
    pages) goes through this, so an id outside the user's grants reads exactly like an id that does not exist.
    """
    condition = reachable_filter(user, verb)
    return queryset if condition is None else queryset.filter(condition)


def object_or_404(user, object_id, verb: str = VIEW, **filters) -> Model:
    """The mirrored object ``object_id`` when the user may view it or holds ``verb`` on it; otherwise Http404 with
    the same message as for an id that does not exist. The caller still checks ``verb`` (a 403 then only says
    "not allowed" about an object the user can see anyway)."""
    try:
        pk = int(object_id)
    except (TypeError, ValueError):
        raise Http404("No such object") from None
    obj = _objects().filter(pk=pk, **filters).first()
    if obj is None or not (can_view(user, obj) or (verb != VIEW and has_verb(user, verb, obj))):
        raise Http404("No such object")
    return obj
