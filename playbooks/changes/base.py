"""GitOps playbooks: a change computed in a working copy, previewed as a diff, approved, then committed on a
branch by the requesting user and opened as a pull request (or committed to the base branch when pull requests
are off). The git engine (gitops) does the git work; this module ties it to runs and the mirror."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.urls import reverse

from access import rules
from controlplane import context
from controlplane.models import AuditEvent, GitConnection
from controlplane.runners import JobFailed
from gitops import GitOpsError, NotEditable, locate
from gitops.errors import MergeConflict
from gitops.impact import Impact, impacts, others_changed
from gitops.providers import PullRequestProvider
from gitops.render import FluxKustomization
from gitops.repo import WorkingCopy, branch_name, commit_message
from gitops.validate import build_check
from gitops.yamledit import Change
from graph.kinds import KUSTOMIZE_GROUP, SOURCE_GROUP
from graph.models import KubeObject
from playbooks.changes.context import ChangeContext, context_for
from playbooks.changes.gitwork import identity_of, request_source_reconcile, working_copy  # noqa: F401 - jit.sweep imports them from here
from playbooks.changes.variables import cluster_variables
from playbooks.choices import ChangeState, Mode
from playbooks.library import Playbook

MAX_DIFF_IN_PR = 20_000


@dataclass
class Preview:
    """The change a request would make: its diff, touched files and build errors (empty when it builds)."""

    diff: str = ""
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summary: str = ""
    notes: list[str] = field(default_factory=list)  # verification and aliases: shown beside the diff
    impacts: list[Impact] = field(default_factory=list)  # every Kustomization building the changed files
    impact_warning: str = ""  # set when Kustomizations other than the picked one change

    def rendered_text(self) -> str:
        """The rendered diffs as one text, stored on the run."""
        parts = []
        for item in self.impacts:
            head = f"# {item.kustomization.label}{' (picked)' if item.picked else ''}"
            head += "".join(f"\n# not substituted: {why}" for why in item.kustomization.unresolved)
            body = item.error or item.rendered_diff or "(renders the same)"
            parts.append(f"{head}\n{body}")
        return "\n\n".join(parts)


def _changed_lines(diff: str) -> list[str]:
    """The +/- lines of a diff: what must match between the approved preview and the change made."""
    return [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


class GitOpsPlaybook(Playbook):
    """Base of the ClickOps playbooks. Subclasses implement :meth:`apply` (edit files in a working copy) and may
    override :meth:`edit_target` (which object's source to edit) and :meth:`context` (where in git)."""

    mode = Mode.GITOPS
    verb = rules.REQUEST_CHANGE
    preview_required: ClassVar[bool] = True

    @classmethod
    def edit_target(cls, obj: KubeObject) -> KubeObject:
        return obj

    @classmethod
    def context(cls, obj: KubeObject) -> ChangeContext:
        return context_for(cls.edit_target(obj))

    @classmethod
    def refusal(cls, obj: KubeObject) -> str | None:
        try:
            cls.context(obj)
        except NotEditable as exc:
            return str(exc)
        except GitOpsError as exc:
            return str(exc)
        return None

    @classmethod
    def warnings(cls, obj: KubeObject) -> list[str]:
        return []

    @classmethod
    def form_initial(cls, obj: KubeObject) -> dict[str, Any]:
        return {}

    @classmethod
    def comparable(cls, diff: str) -> list[str]:
        """The lines that must be the same in the approved diff and the change the job makes."""
        return _changed_lines(diff)

    @classmethod
    def apply(cls, repo_dir: str, ctx: ChangeContext, params: dict[str, Any]) -> Change:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def locate(cls, repo_dir: str, ctx: ChangeContext):
        return locate(repo_dir, ctx.object_ref, ctx.kustomization_ref)

    @classmethod
    def overlay(cls, repo_dir: str, ctx: ChangeContext, params: dict[str, Any]):
        """With the "only in this Kustomization" option: the source of the picked Flux Kustomization, whose
        ``spec.patches`` get the change (None without the option)."""
        if not params.get("overlay"):
            return None
        parent = context_for(ctx.kustomization)  # the Kustomization is itself applied by a Kustomization
        return locate(repo_dir, parent.object_ref, parent.kustomization_ref)

    @classmethod
    def preview(cls, obj: KubeObject, params: dict[str, Any]) -> Preview:
        """Compute the change in the preview working copy and return its diff (nothing is committed)."""
        ctx = cls.context(obj)
        wc = working_copy(ctx.connection, ctx.repository_url, "preview")
        with wc.lock():
            wc.prepare()
            change = cls.apply(str(wc.path), ctx, params)
            errors = build_check(str(wc.path), change.build_paths)
            preview = Preview(diff=wc.diff(), files=wc.changed_files(), errors=errors, summary=change.summary,
                              notes=list(change.notes))
            if not errors and preview.files:
                preview.impacts, preview.impact_warning = cls.impact(wc, ctx, preview.files)
            wc.prepare()  # leave the copy clean for the next preview
        if not preview.diff.strip():
            preview.errors.append("This change would not modify anything.")
        return preview

    @classmethod
    def impact(cls, wc: WorkingCopy, ctx: ChangeContext, files: list[str]) -> tuple[list[Impact], str]:
        """Build every mirrored Kustomization (all clusters) that reads a changed file, before and after; a warning
        when any but the picked one renders differently."""
        originals: dict[str, str | None] = {}
        for rel in files:
            shown = wc.git("show", f"HEAD:{rel}", check=False)
            originals[rel] = shown.stdout if shown.returncode == 0 else None
        mirrored = flux_kustomizations_of(ctx.repository_url, ctx.kustomization_ref.source_ref)
        picked = next((k for k in mirrored if (k.cluster, k.namespace, k.name) == (
            ctx.kustomization.cluster.name, ctx.kustomization.namespace, ctx.kustomization.name)), None)
        variables = cluster_variables()
        try:
            found = impacts(str(wc.path), mirrored, originals, picked, variables=variables)
        finally:
            variables.close()
        others = others_changed(found, picked)
        warning = ""
        if others:
            warning = (f"This change also changes {len(others)} other Kustomization(s), not only the one you picked: "
                       + "; ".join(f"{i.kustomization.label}: {', '.join(i.changed_objects or []) or i.error}"
                                   for i in others)
                       + ". The edited file is shared; to change only the Kustomization you picked, tick “Only in "
                         "this Kustomization” (the change becomes a patch in its spec.patches).")
        return found, warning

    # ------------------------------------------------------------------ execution (in the worker)
    def execute(self) -> dict:
        run = self.run
        ctx = self.context(run.target)
        wc = working_copy(ctx.connection, ctx.repository_url, "runs")
        author = identity_of(run.requested_by)
        with wc.lock():
            base = wc.prepare()
            self.log(f"working copy of {ctx.repository_url} at {base[:12]}")
            change = self.apply(str(wc.path), ctx, self.params)
            errors = build_check(str(wc.path), change.build_paths)
            if errors:
                raise JobFailed("the change does not build: " + "; ".join(errors))
            diff = wc.diff()
            if run.diff and self.comparable(diff) != self.comparable(run.diff):
                raise JobFailed("the files changed since this request was approved (the change no longer matches "
                                "the approved diff): request it again")
            message = commit_message(ctx.obj.kind, ctx.obj.name, change.summary, self.body_text(diff), run.pk)
            use_pr = ctx.connection.create_pull_requests and settings.FLUXPLANE_CREATE_PULL_REQUEST
            if use_pr:
                result = wc.commit_branch(branch_name(run.playbook, run.pk), author, message)
                self.log(f"{'pushed' if result.created else 'found'} branch {result.branch} at {result.sha[:12]}")
                fields = {"branch": result.branch, "commit_sha": result.sha, "git_connection": ctx.connection}
                opened = self._open_pull_request(ctx, wc, change, diff, fields)
            else:
                opened = None
                result = wc.commit_to_base(author, message, run.pk)
        if opened is not None:
            # Outside the working copy's lock: a plain-git merge takes it again.
            from playbooks.changes.merging import auto_merge

            if auto_merge(run, self.log):
                opened["merge"] = run.merge_sha
            return opened
        self.log(f"committed {result.sha[:12]} to {ctx.connection.base_branch}")
        run.advance_change(ChangeState.COMMITTED, f"committed to {ctx.connection.base_branch} as {result.sha[:12]}",
                           commit_sha=result.sha, merge_sha=result.sha, git_connection=ctx.connection)
        request_source_reconcile(run.cluster, ctx.kustomization, self.log)
        return {"commit": result.sha, "branch": ctx.connection.base_branch, "summary": change.summary}

    def _open_pull_request(self, ctx: ChangeContext, wc: WorkingCopy, change: Change, diff: str,
                           fields: dict) -> dict:
        run = self.run
        connection = ctx.connection
        title = f"{self.title}: {change.summary}"[:250]
        # Durable step: the pushed branch is on the run before the provider is asked for anything, so a provider
        # outage leaves a run that says which branch waits for its pull request (and a retry reuses it).
        for name, value in fields.items():
            setattr(run, name, value)
        run.save(update_fields=list(fields))
        if connection.hosted:
            provider = connection.pull_requests()
            pr = provider.open_pull_request(fields["branch"], title, self.pr_body(change, diff), labels=("fluxplane",))
            what = connection.change_request_label(pr.number)
            self.log(f"{'opened' if pr.created else 'found'} {what}: {pr.url}")
            run.advance_change(ChangeState.PR_OPEN, f"{what} open: {pr.url}", pr_number=pr.number, pr_url=pr.url,
                               **fields)
            merged = merge_by_policy(run, connection, provider, pr.number, self.log)
            if merged:
                request_source_reconcile(run.cluster, ctx.kustomization, self.log)
            return {"pr_number": pr.number, "pr_url": pr.url, "branch": fields["branch"], "summary": change.summary}
        # Plain git: the pushed branch is the change request, tracked in Fluxplane and merged by Fluxplane (the
        # Merge button, or the connection's merge policy).
        run.advance_change(ChangeState.PR_OPEN, f"branch {fields['branch']} pushed: waiting to be merged into "
                           f"{ctx.connection.base_branch}", **fields)
        return {"branch": fields["branch"], "summary": change.summary}

    def body_text(self, diff: str) -> str:
        run = self.run
        return f"Requested by {run.requested_by_username} in Fluxplane (run #{run.pk})."

    def pr_body(self, change: Change, diff: str) -> str:
        run = self.run
        link = settings.FLUXPLANE_BASE_URL.rstrip("/") + reverse("admin:playbooks_playbookrun_change", args=[run.pk])
        approvers = ", ".join(f"{a.username} ({a.reason or 'no comment'})" for a in run.approvals.all()) or \
            "no approval required"
        params = "\n".join(f"- `{k}`: `{v}`" for k, v in (run.parameters or {}).items()) or "- (none)"
        shown = diff if len(diff) <= MAX_DIFF_IN_PR else diff[:MAX_DIFF_IN_PR] + "\n… (diff truncated)"
        return (f"{change.summary}\n\nRequested by **{run.requested_by_username}** in Fluxplane: {link}\n\n"
                f"Approved by: {approvers}\n\nParameters:\n{params}\n\nFiles: {', '.join(change.files)}\n\n"
                f"```diff\n{shown}\n```\n")


def _normalise(url: str) -> str:
    url = url.strip().rstrip("/")
    return url[:-4] if url.endswith(".git") else url


def flux_kustomizations_of(repository_url: str, branch: str) -> list[FluxKustomization]:
    """Every mirrored Kustomization (any cluster) that builds from ``repository_url`` at ``branch``."""
    wanted = _normalise(repository_url)
    sources = {}
    for repo in KubeObject.objects.filter(api_group=SOURCE_GROUP, kind="GitRepository", deleted_at__isnull=True):
        spec = repo.spec or {}
        if _normalise(str(spec.get("url") or "")) == wanted and ((spec.get("ref") or {}).get("branch") or "main") \
                == branch:
            sources[(repo.cluster_id, repo.namespace, repo.name)] = repo
    out = []
    for ks in KubeObject.objects.filter(api_group=KUSTOMIZE_GROUP, kind="Kustomization",
                                        deleted_at__isnull=True).select_related("cluster"):
        ref = (ks.spec or {}).get("sourceRef") or {}
        if ref.get("kind") == "GitRepository" and (ks.cluster_id, ref.get("namespace") or ks.namespace,
                                                   ref.get("name")) in sources:
            out.append(FluxKustomization.from_spec(ks.name, ks.namespace, ks.spec or {}, cluster=ks.cluster.name))
    return out


def log_once(run, message: str, level: str = "info") -> None:
    """Append ``message`` unless it is already the run's last line (a periodic sweep repeats its findings)."""
    if not run.log or run.log[-1].get("message") != message:
        run.append_log(message, level)


def merge_by_policy(run, connection: GitConnection, provider: PullRequestProvider, number: int, log=None) -> bool:
    """Apply the connection's merge policy to an open pull request: ``on-approval`` merges now, ``on-checks``
    merges once every check passed (GitLab: asks GitLab to merge when the pipeline succeeds), ``manual`` leaves it
    to a person. Records MERGED on the run and returns True when it is merged. A refused merge (conflict, head
    moved) or a failed check is logged once and leaves the request open for a person."""
    policy = connection.effective_merge_policy
    if policy == GitConnection.MergePolicy.MANUAL:
        return False
    what = connection.change_request_label(number)
    message = f"Merge {what} (Fluxplane run #{run.pk}, approved in Fluxplane)"
    log = log or run.append_log
    try:
        if policy == GitConnection.MergePolicy.ON_APPROVAL:
            pr = provider.merge(number, message)
        else:
            pr = provider.merge_when_checks_pass(number, message)
    except MergeConflict as exc:
        log_once(run, f"{what} was not merged: {exc}", "warning")
        return False
    if pr.merged:
        # Fluxplane's own act: the audit names Fluxplane on behalf of the requester, like a Merge pressed for them.
        text = (f"{what} merged automatically by Fluxplane on behalf of {run.requested_by_username} (merge policy "
                f"{policy}) as {pr.merge_sha[:12]}")
        with context.on_behalf_of(run.requested_by_username):
            AuditEvent.record("change.merge", run, message=text, after={
                "merge_sha": pr.merge_sha, "policy": policy, "on_behalf_of": run.requested_by_username})
            run.advance_change(ChangeState.MERGED, text, merge_sha=pr.merge_sha)
        return True
    checks = pr.checks.get("state", "none")
    if checks == "failure":
        failed = ", ".join(name for name, state in _check_states(pr.checks) if state in _FAILED_WORDS) or "a check"
        log_once(run, f"{what} is not merged: {failed} failed (merge policy on-checks)", "warning")
    elif pr.auto_merge:
        log_once(run, f"{what}: {connection.provider_name} merges it when the pipeline succeeds")
    elif pr.state == "open":
        log_once(run, f"{what} waits for its checks ({checks}) before it is merged (merge policy on-checks)")
    return False


_FAILED_WORDS = {"failure", "failed", "error", "cancelled", "canceled", "timed_out", "action_required"}


def _check_states(checks: dict) -> list[tuple[str, str]]:
    pipeline = checks.get("pipeline") or {}
    found = [(f"pipeline #{pipeline['id']}", pipeline.get("status", ""))] if pipeline else []
    for key in ("statuses", "check_runs"):
        found += [(name, str(state)) for name, state in (checks.get(key) or {}).items()]
    return found

