"""The job runner of playbook runs."""

from __future__ import annotations

from controlplane.dispatch import register
from controlplane.kube import KubeError, KubeUnreachable
from controlplane.runners import JobFailed, JobRunner, RetryLater
from gitops import GitOpsError, ProviderUnavailable, PushConflict
from playbooks.library import get_playbook
from playbooks.models import PlaybookRun

MAX_PATCH_IN_LOG = 100_000


@register
class PlaybookRunner(JobRunner):
    """Executes one PlaybookRun: re-checks the permission rule (grants may have changed since the request), then
    lets the playbook do its work. Cluster errors are expected failures, with the API's message."""

    name = "playbook"
    model = PlaybookRun
    queue = "playbooks"  # their own worker: a run waiting minutes for a controller never delays cron jobs
    description = "Run a playbook"
    # Exec playbooks are idempotent (suspend/resume set a field, reconcile stamps an annotation); GitOps playbooks
    # resume from their durable steps: the branch is reused when it already holds the change, the pull request is
    # found rather than opened twice, a direct commit is found by its Fluxplane-Run trailer.
    retry_after_crash = True

    def run(self) -> dict:
        run: PlaybookRun = self.run_row
        playbook = get_playbook(run.playbook)
        if not playbook.enabled():
            raise JobFailed(f"the {playbook.title} playbook has been switched off")
        if run.target is None:
            raise JobFailed(f"{run.target_label} is no longer in the mirror")
        if run.requested_by is None or not playbook.allowed(run.requested_by, run.target):
            raise JobFailed(f"{run.requested_by_username or 'the requester'} may no longer run {playbook.title} on "
                            f"{run.target_label}")
        self.log(f"{playbook.title} on {run.target_label} (cluster {run.cluster.name}) requested by "
                 f"{run.requested_by_username}")
        try:
            return playbook(self).execute()
        except KubeUnreachable as exc:
            raise JobFailed(str(exc)) from None
        except KubeError as exc:
            raise JobFailed(f"the API server refused: {exc}") from None
        except ProviderUnavailable as exc:
            # GitOps playbooks resume from their durable steps (pushed branch reused, pull request found), so
            # trying again later duplicates nothing.
            raise RetryLater(str(exc)) from None
        except PushConflict as exc:
            if exc.patch:  # nothing is lost: the change stays on the run, ready for `git am`
                self.log(f"the change that was not pushed, as a patch:\n{exc.patch[:MAX_PATCH_IN_LOG]}", "warning")
            raise JobFailed(str(exc)) from None
        except GitOpsError as exc:
            raise JobFailed(str(exc)) from None
