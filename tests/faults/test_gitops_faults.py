"""The GitOps rows of the fault matrix, against real processes (gunicorn, the RQ workers, the scheduler,
redis-server) with the Flux demo and the GitHub simulator: the playbook worker SIGKILLed after the push and after
the pull request was opened, GitHub answering 5xx then recovering, and the push rejected. Each row asserts the
run's final state, that the run ended (nothing lost), that there is exactly one branch, commit and pull request
(or none), and records the time to recover (docs/operations.md)."""

from __future__ import annotations

import time

from tests.faults.conftest import record
from tests.faults.gitstack import REPO, GitOpsStack, gitops_stack  # noqa: F401 - the fixture is used below
from tests.graph.conftest import wait_for

ENDED = ("succeeded", "failed", "errored", "cancelled")


def ended(g: GitOpsStack, run: int) -> bool:
    return g.run(run)["status"] in ENDED


def assert_one_change(g: GitOpsStack, row: dict, main_before: str) -> None:
    """Exactly one branch holding one commit, exactly one pull request from it, and the base branch untouched."""
    pulls = g.github.pulls(REPO)
    assert [(p.head, p.head_sha, p.number) for p in pulls] == [(row["branch"], row["commit_sha"], row["pr_number"])]
    assert g.fluxplane_branches() == [row["branch"]]
    assert g.commits_ahead(row["branch"]) == 1
    assert g.main_sha() == main_before
    assert g.stack.sql("SELECT COUNT(*) FROM playbooks_playbookrun WHERE status NOT IN (?, ?, ?, ?)", *ENDED) == [(0,)]


def test_worker_killed_after_the_push(gitops_stack: GitOpsStack):  # noqa: F811 - the imported fixture
    g = gitops_stack
    main_before = g.main_sha()
    # The first thing the worker asks GitHub after pushing is whether the branch already has a pull request.
    held = g.github.faults.hold("GET", r"/pulls$")
    run = g.request_scale(3)
    assert held.wait_reached(180), "the worker never asked GitHub for the pull request"
    row = g.run(run)
    assert row["status"] == "running" and row["branch"] == f"fluxplane/scale-{run}" and row["commit_sha"], row
    assert g.fluxplane_branches() == [row["branch"]] and g.github.pulls(REPO) == []  # pushed, no PR yet
    g.stack.kill_supervised("playbook-worker")
    killed_at = time.monotonic()
    held.release()  # the killed worker's question is answered to nobody

    wait_for(lambda: ended(g, run), timeout=180, interval=0.3, what="the run to be retried and to end")
    recovered = time.monotonic() - killed_at
    row = g.run(run)
    assert row["status"] == "succeeded" and row["attempts"] == 2 and row["change_state"] == "pr_open", row
    assert any(line.startswith("found branch") for line in row["log"]), row["log"]  # reused, not pushed again
    assert any(line.startswith("opened pull request") for line in row["log"]), row["log"]
    assert_one_change(g, row, main_before)
    assert "playbook-worker exited (status 137); restarting it" in g.stack.log("playbook-worker")
    record("worker SIGKILLed during a GitOps run after the push", outcome=row["status"], attempts=row["attempts"],
           runs_lost=0, duplicates=0, branches=1, pull_requests=1, recover_seconds=round(recovered, 1))


def test_worker_killed_after_the_pull_request_was_opened(gitops_stack: GitOpsStack):  # noqa: F811
    g = gitops_stack
    main_before = g.main_sha()
    # GitHub opens the pull request, but the worker is killed before it hears so.
    held = g.github.faults.hold("POST", r"/pulls$", when="after")
    run = g.request_scale(4)
    assert held.wait_reached(180), "the worker never opened the pull request"
    [pull] = g.github.pulls(REPO)
    assert g.run(run)["pr_number"] is None  # the run does not know about it
    g.stack.kill_supervised("playbook-worker")
    killed_at = time.monotonic()
    held.release()

    wait_for(lambda: ended(g, run), timeout=180, interval=0.3, what="the run to be retried and to end")
    recovered = time.monotonic() - killed_at
    row = g.run(run)
    assert row["status"] == "succeeded" and row["attempts"] == 2 and row["change_state"] == "pr_open", row
    assert row["pr_number"] == pull.number, row  # tracks the pull request opened before the kill
    assert any(line.startswith("found pull request") for line in row["log"]), row["log"]
    assert_one_change(g, row, main_before)
    record("worker SIGKILLed during a GitOps run after the PR", outcome=row["status"], attempts=row["attempts"],
           runs_lost=0, duplicates=0, branches=1, pull_requests=1, recover_seconds=round(recovered, 1))


def test_github_answering_5xx_then_recovering(gitops_stack: GitOpsStack):  # noqa: F811
    g = gitops_stack
    main_before = g.main_sha()
    g.github.faults.outage(3600, status=503)  # until this test ends it, after the run has met it twice
    outage_started = time.monotonic()
    run = g.request_scale(5)

    def retried_twice() -> bool:
        row = g.run(run)
        return row["status"] == "queued" and sum("GitHub answered 503" in line and "trying again in" in line
                                                 for line in row["log"]) == 2

    wait_for(retried_twice, timeout=180, interval=0.2, what="the run to wait for GitHub twice, with a clear message")
    row = g.run(run)
    # Backoff: 2 s, then 4 s (FLUXPLANE_RUN_RETRY_BASE_SECONDS=2 in this stack; 15 s by default).
    assert [line.split("trying again in ")[1].split(" s")[0] for line in row["log"] if "trying again in" in line] \
        == ["2", "4"], row["log"]
    web = g.stack.session()
    page = web.get(f"{g.stack.url}/admin/playbooks/playbookrun/{run}/change/", timeout=30)
    assert page.status_code == 200 and "GitHub answered 503" in page.text and "trying again in" in page.text
    assert g.fluxplane_branches() == [f"fluxplane/scale-{run}"] and g.github.pulls(REPO) == []  # pushed, no PR

    g.github.faults.clear()  # GitHub is back
    recovered_at = time.monotonic()
    outage = recovered_at - outage_started
    wait_for(lambda: ended(g, run), timeout=240, interval=0.3, what="the run to end once GitHub answers")
    recovered = time.monotonic() - recovered_at
    row = g.run(run)
    # Usually 3 attempts; a 4th when the sweep requeued it while the page above was read during the outage.
    assert row["status"] == "succeeded" and row["attempts"] >= 3 and row["change_state"] == "pr_open", row
    assert sum("trying again in" in line for line in row["log"]) == row["attempts"] - 1
    assert g.github.faults.answered_outage > 0
    assert_one_change(g, row, main_before)
    record("GitHub answering 503, then recovering", outcome=row["status"], attempts=row["attempts"], runs_lost=0,
           duplicates=0, branches=1, pull_requests=1, outage_seconds=round(outage, 1),
           recover_seconds=round(recovered, 1))


PROTECT = """#!/bin/sh
# A protected branch namespace, as a host's branch protection refuses it.
while read old new ref; do
  case "$ref" in refs/heads/fluxplane/*) echo "protected branch hook declined: $ref may not be pushed"; exit 1;; esac
done
"""


def test_push_rejected(gitops_stack: GitOpsStack):  # noqa: F811
    g = gitops_stack
    main_before = g.main_sha()
    hook = g.demo.bare_repo / "hooks" / "pre-receive"
    hook.write_text(PROTECT)
    hook.chmod(0o755)
    started = time.monotonic()
    run = g.request_scale(6)

    wait_for(lambda: ended(g, run), timeout=180, interval=0.3, what="the rejected run to end")
    settled = time.monotonic() - started
    row = g.run(run)
    assert row["status"] == "failed" and row["attempts"] == 1, row
    assert row["error"].startswith(f"the push of fluxplane/scale-{run} was rejected (protected branch hook "
                                   "declined"), row["error"]
    assert "nothing was pushed" in row["error"]
    patches = [line for line in row["log"] if line.startswith("the change that was not pushed, as a patch")]
    assert len(patches) == 1 and "Subject: [PATCH]" in patches[0] and "scale to 6" in patches[0], row["log"]
    assert g.fluxplane_branches() == [] and g.github.pulls(REPO) == [] and g.main_sha() == main_before
    assert g.stack.sql("SELECT COUNT(*) FROM playbooks_playbookrun WHERE status NOT IN (?, ?, ?, ?)", *ENDED) == [(0,)]
    record("git push rejected (protected branch)", outcome=row["status"], attempts=row["attempts"], runs_lost=0,
           duplicates=0, branches=0, pull_requests=0, seconds_to_final_state=round(settled, 1))
