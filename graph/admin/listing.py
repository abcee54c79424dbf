"""What keeps a mirrored-object list fast at 60k rows (docs/performance.md, *Admin pages*).

* **Counts are exact per change of the mirror.** The paginator's count is cached under the mirror's change token —
  every cluster's last full sync and last change to its mirror (``Cluster.mirror_changed_at``, moved in the same
  transaction as the rows by the full sync, the watch deltas and the hub relink) — and the SQL with its parameters of
  the rows it counts, which holds the user's visibility (access.rules puts the visible ids and namespaces in it), the
  filters and the search. The count a user reads is exact for the mirror they see. On the first page, the page's rows
  are read first: fewer than a page of them are their own count, and no COUNT is run.
* **The sidebar's namespace and kind choices are navigation aids** and change far less often than the mirror (pods
  come and go every second, namespaces and kinds seldom): they are kept under a coarser key — the clusters and their
  last full sync, with the SQL of the user's list — for at most ``FLUXPLANE_LIST_CHOICES_SECONDS`` (30 s): a namespace
  or kind that appears is offered within that time, one that has gone yields an empty list when chosen. The key holds
  the user's visibility as the counts' does, so a user is never offered a namespace they may not see.
* When the choices are worked out, one pass over the list's rows grouped by (namespace, kind) gives them and the
  count of the list's default view (its live rows) together.
* Rows: the selection checkbox and the row link are written directly, not through a form widget's template and one
  URL resolution per row; the cells with what is the same for every row worked out once per page (graph.admin.rows).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ALL_VAR, PAGE_VAR, ChangeList
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

from controlplane import live
from controlplane.models import Cluster
from graph.admin import rows

T = TypeVar("T")

# The token changes with every sync (periodic, every few minutes) and every batch of deltas, so an entry is never
# read after that anyway; the timeout only bounds what a quiet mirror keeps in the cache.
CACHE_SECONDS = 15 * 60
_STATE = "_fluxplane_mirror_state"
_CHOICES = "_fluxplane_list_choices"


def clock() -> float:
    """Seconds since the epoch (the choices' age; tests move it)."""
    return time.time()


class MirrorState(NamedTuple):
    """What the cached parts of a list are keyed on, read once per request from the clusters table."""

    token: str  # moves with every write to any mirror (a batch of watch deltas: every second on a busy cluster)
    clusters_token: str  # the clusters and their last full sync: moves when a cluster is added, removed or synced
    clusters: int


def mirror_state(request: HttpRequest) -> MirrorState:
    """The mirror's tokens and the number of clusters, read once per request.

    Read before anything cached under them is computed, so an entry never holds data older than its token: a change
    that commits in between is read by the computation (newer than the token says) and moves the token for every
    later request."""
    state = getattr(request, _STATE, None)
    if state is None:
        found = list(Cluster.objects.order_by("pk").values_list("pk", "last_sync_at", "mirror_changed_at"))
        state = MirrorState(live.token("mirror", *found), live.token("clusters", *[(pk, at) for pk, at, _ in found]),
                            len(found))
        setattr(request, _STATE, state)
    return state


def _key(what: str, token: str, queryset: QuerySet) -> str | None:
    """The cache key of ``what`` derived from ``queryset`` at ``token``; None when nothing can match (no grants:
    Django answers without a query)."""
    try:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:
        return None
    return f"fluxplane:list:{what}:" + hashlib.sha256(f"{token}|{sql}|{params!r}".encode()).hexdigest()


def cached(request: HttpRequest, what: str, queryset: QuerySet, compute: Callable[[], T]) -> T:
    """``compute()`` — a value derived from ``queryset`` alone — cached under the mirror's token and the queryset's
    SQL and parameters. Two requests share an entry only when they run the same query on the same mirror."""
    key = _key(what, mirror_state(request).token, queryset)
    if key is None:
        return compute()
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, CACHE_SECONDS)
    return found


def _rows(queryset: QuerySet) -> QuerySet:
    """The query that selects a queryset's rows (not their columns, joins or order): two querysets with the same
    rows have the same, so a count is shared by the default view and the sidebar's pass."""
    return queryset.order_by().values("pk")


def exact_count(request: HttpRequest, queryset: QuerySet) -> int:
    """``queryset.count()``, cached per change of the mirror."""
    return cached(request, "count", _rows(queryset), queryset.count)


def default_view(request: HttpRequest, model_admin) -> QuerySet:
    """The list's rows shown when no filter is chosen: the user's visible live objects of the list."""
    return model_admin.get_queryset(request).filter(deleted_at__isnull=True)


class Choices(NamedTuple):
    """What the sidebar offers of a list (namespaces, kinds) and when that was worked out."""

    namespaces: list[str]
    kinds: list[str]
    at: float


def choices_seconds() -> float:
    return max(float(settings.FLUXPLANE_LIST_CHOICES_SECONDS), 0.0)


def list_choices(request: HttpRequest, model_admin) -> Choices:
    """The list's namespaces and kinds (the user's visible objects of the list, tombstones included: the presence
    filter may show them), at most ``FLUXPLANE_LIST_CHOICES_SECONDS`` old. When they are worked out, the same pass —
    the list's rows grouped by (namespace, kind) with the number of live ones — gives the count of the list's
    default view, which is cached as every count is (:func:`exact_count`). At most 500 namespaces are offered."""
    memo = request.__dict__.setdefault(_CHOICES, {})  # asked twice per page (two filters): once per request
    found = memo.get(model_admin.opts.label)
    if found is not None:
        return found
    visible = model_admin.get_queryset(request)
    state = mirror_state(request)
    key = _key("choices", state.clusters_token, visible)
    found = cache.get(key) if key is not None else None
    if found is None or clock() - found.at >= choices_seconds():
        at = clock()
        groups = list(visible.order_by().values_list("namespace", "kind").annotate(
            live=Count("pk", filter=Q(deleted_at__isnull=True))))
        found = Choices(sorted({ns for ns, _kind, _n in groups})[:500], sorted({kind for _ns, kind, _n in groups}), at)
        if key is not None:
            cache.set(key, found, max(1, int(choices_seconds())))
            count_key = _key("count", state.token, _rows(default_view(request, model_admin)))
            cache.set(count_key, sum(n for _ns, _kind, n in groups), CACHE_SECONDS)
    memo[model_admin.opts.label] = found
    return found


def first_page(request: HttpRequest) -> bool:
    """Whether the change list shows its first page (read from the query string as Django's ChangeList reads it)."""
    if ALL_VAR in request.GET:
        return False
    try:
        return int(request.GET.get(PAGE_VAR, 1)) == 1
    except ValueError:
        return True


def _filled(queryset: QuerySet, found: list) -> QuerySet:
    """``queryset`` with ``found`` as its rows, read already by the same query."""
    queryset._result_cache = found
    return queryset


class CachedCountPaginator(Paginator):
    """Django's paginator whose first page is read once, before the count: a first page with fewer rows than a page
    is the count; else the count comes from :func:`exact_count` (set by the admin's ``get_paginator``)."""

    request: HttpRequest | None = None
    first_page = False

    @cached_property
    def head(self) -> list:
        """The first page's rows (the query Django runs for page 1)."""
        return list(self.object_list[:self.per_page])

    @cached_property
    def count(self) -> int:
        queryset, request = self.object_list, self.request
        if request is None or not isinstance(queryset, QuerySet):
            return super().count
        if self.first_page and len(self.head) < self.per_page:
            return len(self.head)
        return exact_count(request, queryset)

    def page(self, number):
        if self.first_page and not self.orphans and self.validate_number(number) == 1 \
                and isinstance(self.object_list, QuerySet):
            return self._get_page(_filled(self.object_list[:self.per_page], self.head), 1, self)
        return super().page(number)


class MirrorChangeList(ChangeList):
    """The change list with the row link built from one resolved URL (one ``reverse`` per page, not per row), and
    the first page's rows read once (:class:`CachedCountPaginator`)."""

    _marker = 987654321987654321

    def get_results(self, request):
        super().get_results(request)
        paginator = self.paginator
        # A list of one page shows all its rows (Django's query without LIMIT): those the paginator read for page 1.
        if isinstance(paginator, CachedCountPaginator) and "head" in paginator.__dict__ and not self.multi_page \
                and len(paginator.head) == self.result_count and isinstance(self.result_list, QuerySet):
            _filled(self.result_list, paginator.head)

    @cached_property
    def _change_url(self) -> tuple[str, str]:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=(self._marker,),
                      current_app=self.model_admin.admin_site.name)
        before, _, after = url.partition(str(self._marker))
        return before, after

    def url_for_result(self, result: Any) -> str:
        before, after = self._change_url
        return f"{before}{int(result.pk)}{after}"  # integer keys need no quoting


class FastListMixin:
    """For a ModelAdmin of mirrored objects: the pieces above."""

    def get_changelist(self, request: HttpRequest, **kwargs):
        return MirrorChangeList

    def get_paginator(self, request: HttpRequest, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = CachedCountPaginator(queryset, per_page, orphans, allow_empty_first_page)
        paginator.request, paginator.first_page = request, first_page(request)
        return paginator

    def result_rows(self, cl):
        """The page's rows for controlplane's ``fluxplane_result_list`` (graph.admin.rows)."""
        return rows.result_rows(cl)

    def action_checkbox(self, obj) -> str:
        """Django's selection checkbox, the same HTML, without rendering a form widget's template per row (its
        column header is Django's: the admin recognises the column by this name)."""
        return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
                           helpers.ACTION_CHECKBOX_NAME, obj.pk,
                           format_html(_("Select this object for an action - {}"), str(obj)))
