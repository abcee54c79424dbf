"""What playbooks add to other apps' pages (controlplane.extensions): the approvals inbox and recent runs on the
dashboard, the playbook buttons on an object's page, and the bulk playbooks on the object lists."""

from __future__ import annotations

from django.urls import reverse

from access import rules
from controlplane import extensions
from playbooks.choices import PlaybookRunStatus
from playbooks.library import all_playbooks, playbooks_for
from playbooks.models import PlaybookRun
from playbooks.runpage import state_words


@extensions.register_panel("dashboard", "admin/playbooks/dashboard_runs.html", order=10)
def dashboard_runs(request) -> dict | None:
    """Approvals waiting for the user and the user's recent runs (every staff user sees only their own)."""
    user = request.user
    pending = PlaybookRun.objects.filter(status=PlaybookRunStatus.PENDING_APPROVAL).exclude(
        requested_by=user).select_related("target", "cluster").order_by("-created_at")[:50]
    return {
        "approvals": [run for run in pending if rules.can_approve(user, run)][:10],
        "my_runs": [(run, *state_words(run)) for run in
                    PlaybookRun.objects.filter(requested_by=user).order_by("-created_at")[:8]],
    }


GROUPS = (
    ("operate", "Operate", "acts on the cluster now, as the flux CLI does"),
    ("change", "Change in git", "a pull request with the exact diff, approved by someone else, then merged"),
    ("create", "Create in git", "adds new files by pull request, approved by someone else"),
    ("access", "Access", "time-boxed access to this namespace, approved by someone else"),
)


@extensions.register_panel("object", "admin/playbooks/object_panel.html", order=10)
def object_playbooks(request, object) -> dict | None:  # noqa: A002 - the page's own name for it
    """The playbooks the user may start on this object in its current state (Suspend only when it is not suspended,
    Resume only when it is, …), grouped, each a link to its form with one line on what it does."""
    offered = [p for p in playbooks_for(request.user, object) if p.offered(object)]
    groups = []
    for key, title, hint in GROUPS:
        items = [(p, reverse("admin:playbooks_start", args=[p.name, object.pk])) for p in offered if p.group() == key]
        if items:
            groups.append({"key": key, "title": title, "hint": hint, "playbooks": items})
    return {"groups": groups} if groups else None


def bulk_actions(request) -> dict:
    """Bulk playbooks (suspend, resume, reconcile) the user may run somewhere; each goes to a confirmation page that
    lists every selected object and whether it will run."""
    found = {}
    for playbook in all_playbooks():
        if playbook.bulk and rules.request_has_any_grant(request, playbook.verb):
            found[f"playbook_{playbook.name}"] = (_bulk_action(playbook.name), f"playbook_{playbook.name}",
                                                  f"{playbook.title} selected …")
    return found


def _bulk_action(name: str):
    def action(modeladmin, request, queryset):
        from playbooks.admin import PlaybookRunAdmin  # the admin module registers models: import it when used

        return PlaybookRunAdmin(PlaybookRun, modeladmin.admin_site).bulk_view(request, name)

    action.__name__ = f"playbook_{name}"
    return action


extensions.register_actions("bulk", bulk_actions)
