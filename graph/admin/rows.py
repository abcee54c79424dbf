"""The rows of a mirrored-object list, written as Django's admin writes them (``items_for_result``), with what is the
same for every row worked out once per page: how each column is read, its CSS class, the row link's URL around the
primary key. Django does all of it per cell, which was a third of a list's time at 100 rows
(docs/performance.md, *Admin pages*). The HTML is Django's (tests/graph/test_admin_lists.py compares them); a list
this does not cover (editable columns, popups, a column that is neither a field nor a ModelAdmin method) gets
Django's rows (``None``).

controlplane's ``fluxplane_result_list`` tag asks the ModelAdmin for ``result_rows(cl)``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.templatetags.admin_list import ResultList, _coerce_field_name
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import _get_non_gfk_field, display_for_field, display_for_value
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

MARKER = 987654321987654321  # a primary key no row has: the link is built around it once per page


@dataclass
class _Column:
    name: str
    css: list[str]
    link: bool
    empty: str
    field: models.Field | None = None
    method: Callable[[Any], Any] | None = None
    boolean: bool = False


def _columns(cl) -> list[_Column] | None:
    model_admin, opts = cl.model_admin, cl.lookup_opts
    links = cl.list_display_links
    columns, first = [], True
    default_empty = model_admin.get_empty_value_display()
    for index, name in enumerate(cl.list_display):
        if not isinstance(name, str):
            return None
        link = links is not None and ((first and not links) or name in links)
        first = first and not link
        column = _Column(name, [f"field-{_coerce_field_name(name, index)}"], link, default_empty)
        try:
            column.field = _get_non_gfk_field(opts, name)
        except FieldDoesNotExist:
            if name == "__str__" or not callable(getattr(model_admin, name, None)):
                return None  # a model attribute or a lookup path: Django's rows
            column.method = getattr(model_admin, name)
            column.empty = getattr(column.method, "empty_value_display", default_empty)
            column.boolean = getattr(column.method, "boolean", False)
            if name == "action_checkbox":
                column.css = ["action-checkbox"]
        else:
            if column.field.auto_created:
                return None
            if isinstance(column.field, (models.DateField, models.TimeField, models.ForeignKey)):
                column.css.append("nowrap")
        columns.append(column)
    return columns


def _cell(column: _Column, obj) -> tuple[str, list[str]]:
    """(the cell's HTML, its CSS classes) as items_for_result makes them."""
    css = column.css
    if column.method is not None:
        value = column.method(obj)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        html = display_for_value(value, column.empty, column.boolean)
        if isinstance(value, (datetime.date, datetime.time)):
            css = [*css, "nowrap"]
    elif isinstance(column.field.remote_field, models.ManyToOneRel):
        related = getattr(obj, column.field.name)
        html = column.empty if related is None else related
    else:
        value = getattr(obj, column.name)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        html = display_for_field(value, column.field, column.empty, avoid_link=column.link)
    return conditional_escape(html), css


def result_rows(cl) -> list[ResultList] | None:
    """The page's rows (one ResultList per row, each holding the row's cells as one piece of HTML), or None for
    Django's."""
    if cl.formset or cl.is_popup or cl.to_field:
        return None
    columns = _columns(cl)
    if columns is None:
        return None
    marker = _Marker()
    setattr(marker, cl.pk_attname, MARKER)
    url = add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts},
                                cl.url_for_result(marker))
    before, _, after = conditional_escape(url).partition(str(MARKER))
    rows = []
    for obj in cl.result_list:
        cells, tag = [], "th"
        for column in columns:
            html, css = _cell(column, obj)
            classes = " ".join(css)
            if column.link:
                cells.append(f'<{tag} class="{classes}"><a href="{before}{int(obj.pk)}{after}">{html}</a></{tag}>')
                tag = "td"
            else:
                cells.append(f'<td class="{classes}">{html}</td>')
        rows.append(ResultList(None, [SafeString("".join(cells))]))
    return rows


class _Marker:
    """Stands in for a row when the change list builds the row link once per page."""

    pk = MARKER
