"""What keeps a mirrored-object list fast at 60k rows (docs/performance.md, *Admin pages*).

* The paginator's exact count and the sidebar's namespace and kind choices are the list's costly queries (each reads
  every live row of the list). The choices and the count of the list's default view come from one pass
  (:func:`list_summary`), another view's count from its own. They are cached under the mirror's change token — every
  cluster's last full sync and last change to its mirror (``Cluster.mirror_changed_at``, moved in the same
  transaction as the rows by the full sync, the watch deltas and the hub relink) — and the SQL with its parameters of
  the query they answer, which holds the user's visibility (access.rules puts the visible ids and namespaces in it),
  the filters and the search. A list is so counted once per change of the mirror, and the count a user reads is
  exact for the mirror they see.
* Rows: the selection checkbox and the row link are written directly, not through a form widget's template and one
  URL resolution per row; the cells with what is the same for every row worked out once per page (graph.admin.rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
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
_SUMMARY = "_fluxplane_list_summary"


def mirror_state(request: HttpRequest) -> tuple[str, int]:
    """(the mirror's change token, the number of clusters), read once per request from the clusters table.

    Read before anything cached under it is computed, so an entry never holds data older than its token: a change
    that commits in between is read by the computation (newer than the token says) and moves the token for every
    later request."""
    state = getattr(request, _STATE, None)
    if state is None:
        rows = list(Cluster.objects.order_by("pk").values_list("pk", "last_sync_at", "mirror_changed_at"))
        state = (live.token("mirror", *rows), len(rows))
        setattr(request, _STATE, state)
    return state


def cached(request: HttpRequest, what: str, queryset: QuerySet, compute: Callable[[], T]) -> T:
    """``compute()`` — a value derived from ``queryset`` alone — cached under the mirror's token and the queryset's
    SQL and parameters. Two requests share an entry only when they run the same query on the same mirror."""
    token, _clusters = mirror_state(request)
    try:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # nothing can match (no grants): Django answers without a query
        return compute()
    digest = hashlib.sha256(f"{token}|{sql}|{params!r}".encode()).hexdigest()
    key = f"fluxplane:list:{what}:{digest}"
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, CACHE_SECONDS)
    return found


class Summary(NamedTuple):
    """What the sidebar offers of a list (namespaces, kinds) and how many of its objects are live."""

    namespaces: list[str]
    kinds: list[str]
    live: int


def list_summary(request: HttpRequest, model_admin) -> Summary:
    """The list's namespaces and kinds (the user's visible objects of the list, tombstones included: the presence
    filter may show them) and its number of live objects, from one pass over its rows grouped by (namespace, kind),
    cached per change of the mirror. The sidebar's two filters ask for it, and the paginator when the page is the
    list's default view (its count is then ``live``): one scan where three (two DISTINCTs, a COUNT) read the rows.
    At most 500 namespaces are offered."""
    memo = request.__dict__.setdefault(_SUMMARY, {})  # asked three times per page: once per request
    found = memo.get(model_admin.opts.label)
    if found is None:
        qs = model_admin.get_queryset(request).order_by().values_list("namespace", "kind").annotate(
            live=Count("pk", filter=Q(deleted_at__isnull=True)))

        def compute() -> Summary:
            groups = list(qs)
            return Summary(sorted({ns for ns, _kind, _n in groups})[:500], sorted({kind for _ns, kind, _n in groups}),
                           sum(n for _ns, _kind, n in groups))

        found = memo[model_admin.opts.label] = cached(request, "summary", qs, compute)
    return found


def _where(queryset: QuerySet) -> tuple[str, tuple] | None:
    """The SQL that selects a queryset's rows (not their columns or order), to tell two querysets' rows the same."""
    try:
        return queryset.order_by().values("pk").query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:
        return None


class CachedCountPaginator(Paginator):
    """Django's paginator whose exact count comes from the list's summary when the page is the list's default view
    (its rows are exactly the live ones of the list), else from :func:`cached` (set by the admin's
    ``get_paginator``)."""

    request: HttpRequest | None = None
    model_admin = None

    @cached_property
    def count(self) -> int:
        queryset, request = self.object_list, self.request
        if request is None or not isinstance(queryset, QuerySet):
            return super().count
        default_view = self.model_admin.get_queryset(request).filter(deleted_at__isnull=True)
        where = _where(queryset)
        if where is not None and where == _where(default_view):
            return list_summary(request, self.model_admin).live
        return cached(request, "count", queryset, queryset.count)


class MirrorChangeList(ChangeList):
    """The change list with the row link built from one resolved URL (one ``reverse`` per page, not per row)."""

    _marker = 987654321987654321

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
        paginator.request, paginator.model_admin = request, self
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
