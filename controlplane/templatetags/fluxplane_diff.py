"""``{{ diff|diff_rows }}``: a unified diff as (css class, line) rows, coloured by run.css's ``.fp-diff-colored``
(the preview of a change, the run page and the Helm history show diffs the same way)."""

from django import template

from controlplane.presentation import diff_lines

register = template.Library()
register.filter("diff_rows", diff_lines)
