"""Every periodic job, registered in one place.

Started by ``python manage.py scheduler`` (scripts/run.sh, the container's scheduler role): only the replica
holding the scheduler lease enqueues (controlplane/leases.py).
Each function is idempotent, so a missed tick or two schedulers running at once change nothing; the schedule
only makes things prompt, correctness never depends on it.
"""

from rq import cron

from alerts.jobs import expire_silences, remind_silences, repush_silences
from controlplane.jobs import sweep_runs_job
from graph.jobs import sync_due_clusters
from jit.jobs import sweep_access_grants
from playbooks.jobs import expire_pending_runs, track_changes

# Every 15 s: with heartbeats every 10 s and a 45 s limit, a run whose worker died is recovered within a minute.
cron.register(sweep_runs_job, queue_name="low", interval=15, name="sweep-runs")
# Each cluster has its own interval (Cluster.sync_interval_seconds); this tick only checks which are due.
cron.register(sync_due_clusters, queue_name="default", interval=30, name="sync-due-clusters")
cron.register(expire_pending_runs, queue_name="low", interval=300, name="expire-pending-runs")
cron.register(track_changes, queue_name="default", interval=20, name="track-changes")
cron.register(expire_silences, queue_name="low", interval=60, name="expire-silences")
cron.register(remind_silences, queue_name="low", interval=300, name="remind-silences")
cron.register(repush_silences, queue_name="low", interval=300, name="repush-silences")
# JIT access: expiry is data plus this sweep (idempotent; a late tick only delays, the grace period bounds it).
cron.register(sweep_access_grants, queue_name="low", interval=60, name="sweep-access-grants")
