"""The exec playbooks: suspend, resume and reconcile, for every Flux kind that has ``spec.suspend`` and the Flux
Operator's kinds (paused by annotation, see playbooks.fluxexec)."""

from __future__ import annotations

from django import forms
from django.conf import settings

from controlplane.kube import KubeAdapter
from controlplane.runners import JobFailed
from graph.kinds import FLUX_KINDS, HELM_GROUP, KUSTOMIZE_GROUP
from playbooks.fluxexec import FluxExecutor
from playbooks.library import Playbook, register

SUSPENDABLE = frozenset((k.group, k.kind) for k in FLUX_KINDS if k.kind != "ExternalArtifact")
RECONCILABLE = frozenset(k for k in SUSPENDABLE if k[1] not in ("Alert", "Provider"))
MAX_TIMEOUT_MINUTES = 30


class TimeoutForm(forms.Form):
    timeout = forms.IntegerField(
        label="Timeout (seconds)", min_value=5, max_value=MAX_TIMEOUT_MINUTES * 60, initial=300,
        help_text=f"how long to wait for the controller (at most {MAX_TIMEOUT_MINUTES} minutes)",
    )


class SuspendForm(forms.Form):
    silence_until_resumed = forms.BooleanField(
        required=False, label="Silence alerts until resumed",
        help_text="open a silence on this object and everything it created; resuming it ends the silence "
                  "(needs the silence permission)",
    )


class ReconcileWithSourceForm(TimeoutForm):
    with_source = forms.BooleanField(required=False, label="Reconcile the source first",
                                     help_text="fetch its source (GitRepository, OCIRepository, …) before applying")


class ReconcileForm(ReconcileWithSourceForm):
    """The HelmRelease form: force and reset exist only for Helm releases."""

    with_source = forms.BooleanField(required=False, label="Reconcile the source first",
                                     help_text="HelmRepository → HelmChart before the release")
    force = forms.BooleanField(required=False, help_text="one-off upgrade even without changes")
    reset = forms.BooleanField(required=False, help_text="reset the failure counters (after RetriesExceeded)")


class ExecPlaybook(Playbook):
    """Shared plumbing: an executor bound to the run's cluster and log."""

    kinds = SUSPENDABLE
    bulk = True

    def executor(self) -> FluxExecutor:
        adapter = KubeAdapter(self.run.cluster)
        return FluxExecutor(adapter, self.log, poll_seconds=settings.FLUXPLANE_EXEC_POLL_SECONDS)

    def target(self) -> tuple[str, str, str, str]:
        run = self.run
        return run.target_api_group, run.target_kind, run.target_namespace, run.target_name


@register
class Suspend(ExecPlaybook):
    name = "suspend"
    setting = "suspend"
    title = "Suspend"
    description = ("Stop Flux reconciling it until resumed (sets spec.suspend: true, as `flux suspend` does; "
                   "Flux Operator kinds: the fluxcd.controlplane.io/reconcile: disabled annotation).")
    bulk_dependencies_first = False  # dependents are suspended before what they depend on

    @classmethod
    def refusal(cls, obj) -> str | None:
        return f"{obj} is already suspended." if obj.suspended else None

    @classmethod
    def offered(cls, obj) -> bool:
        return not obj.suspended

    form_class = SuspendForm

    def execute(self) -> dict:
        result = self.executor().suspend(*self.target())
        if self.params.get("silence_until_resumed"):
            from alerts.maintenance import open_for_suspend

            silence = open_for_suspend(self.run)
            self.log(f"alerts silenced until resumed ({silence})" if silence else
                     "no silence opened: the requester may not silence this object", "info" if silence else "warning")
            result["silence"] = silence.pk if silence else None
        return result


@register
class Resume(ExecPlaybook):
    name = "resume"
    setting = "resume"
    title = "Resume"
    description = ("Let Flux reconcile the object again (spec.suspend removed, as `flux resume` does) and wait until "
                   "it is Ready, reporting the applied revision.")
    form_class = TimeoutForm

    @classmethod
    def refusal(cls, obj) -> str | None:
        return None if obj.suspended else f"{obj} is not suspended."

    @classmethod
    def offered(cls, obj) -> bool:
        return obj.suspended

    def execute(self) -> dict:
        ended = []

        def end_maintenance_window() -> None:
            # spec.suspend is gone from the cluster: the maintenance window is over whatever the wait brings, so
            # the alerts the resume may bring back (a failing health check) must be seen, not silenced.
            from alerts.maintenance import close_for_resume

            ended.append(close_for_resume(self.run))
            if ended[0]:
                self.log("the maintenance silence opened by the suspend has ended")

        try:
            result = self.executor().resume(*self.target(), timeout=float(self.params.get("timeout", 300)),
                                            on_resumed=end_maintenance_window)
        except JobFailed as exc:
            if ended and ended[0]:
                raise JobFailed(f"{exc} (resumed all the same: the maintenance silence has ended)") from None
            raise
        return {**result, "silences_ended": ended[0]} if ended and ended[0] else result


@register
class Reconcile(ExecPlaybook):
    name = "reconcile"
    setting = "reconcile"
    title = "Reconcile"
    description = ("Ask Flux to reconcile now (reconcile.fluxcd.io/requestedAt, as `flux reconcile` does), wait until "
                   "the controller handled it, and report the revision or the reason it failed.")
    kinds = RECONCILABLE
    form_class = ReconcileForm

    @classmethod
    def refusal(cls, obj) -> str | None:
        return f"{obj} is suspended: resume it before reconciling." if obj.suspended else None

    @classmethod
    def offered(cls, obj) -> bool:
        return not obj.suspended

    @classmethod
    def form_for(cls, obj) -> type[forms.Form]:
        if (obj.api_group, obj.kind) == (HELM_GROUP, "HelmRelease"):
            return ReconcileForm
        if (obj.api_group, obj.kind) == (KUSTOMIZE_GROUP, "Kustomization") or obj.kind == "HelmChart":
            return ReconcileWithSourceForm
        return TimeoutForm

    def execute(self) -> dict:
        group, kind, _ns, _name = self.target()
        force, reset = bool(self.params.get("force")), bool(self.params.get("reset"))
        if (force or reset) and (group, kind) != (HELM_GROUP, "HelmRelease"):
            self.log("force/reset only apply to HelmReleases; ignored", "warning")
            force = reset = False
        with_source = bool(self.params.get("with_source"))
        if with_source and (group, kind) not in ((HELM_GROUP, "HelmRelease"), (KUSTOMIZE_GROUP, "Kustomization")) \
                and kind != "HelmChart":
            with_source = False
        return self.executor().reconcile(*self.target(), timeout=float(self.params.get("timeout", 300)),
                                         with_source=with_source, force=force, reset=reset)
