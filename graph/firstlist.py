"""The watcher's full list in a short-lived child process, so the long-lived watcher never holds a whole cluster.

A full sync (graph.sync) holds every listed object, its node and the rows it compares at once: at 10k Flux objects
and 49k children that is ≈ 450 MB, and CPython keeps most of that heap after the sync returns. The watcher needs
only what the list leaves behind — the resourceVersion per resource to watch from, and the ReplicaSets and Pods it
parks until their owner is mirrored — so :func:`sync_in_child` runs the sync (under the cluster's lock, as a
worker would) in a ``spawn``ed interpreter and hands those back through a pipe; the memory goes with the process.

The child connects to the parent's database (its settings are passed, so a test database works too). An in-memory
SQLite database cannot be shared with another process: there :func:`supported` is False and the watcher lists in
its own process (graph.watch).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import resource
from dataclasses import dataclass, field

from django.db import connection

from controlplane.kube import KubeError, KubeUnreachable

logger = logging.getLogger(__name__)

RESULT_WAIT = 3600  # seconds the parent waits for the child's answer (a 60k-object list takes a minute or two)


@dataclass
class FirstList:
    """What the watcher keeps of a full sync done in the child."""

    resource_versions: dict[str, str]
    unowned: list[dict] = field(default_factory=list)
    objects: int = 0
    rows_written: int = 0
    summary: str = ""
    peak_rss_mb: float = 0.0  # the child's peak resident set (benchmarks)


def supported() -> bool:
    """Whether another process can open this process's database (not an in-memory SQLite database)."""
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def sync_in_child(cluster_pk: int, wait: float) -> FirstList:
    """Run ``sync_cluster_locked(cluster_pk, wait=wait, keep_unowned=True)`` in a child process and return what the
    watcher needs. The child's exceptions come back as the same types (SyncInProgress, KubeUnreachable, KubeError);
    a child that dies without answering raises RuntimeError."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of the parent's heap is copied
    receive, send = context.Pipe(duplex=False)
    database = dict(connection.settings_dict)
    child = context.Process(target=_child, args=(cluster_pk, wait, database,
                                                 os.environ.get("DJANGO_SETTINGS_MODULE", ""), send),
                            name=f"fluxplane-firstlist-{cluster_pk}", daemon=True)
    child.start()
    send.close()  # only the child writes: recv() sees EOF if it dies
    try:
        if not receive.poll(RESULT_WAIT):
            raise RuntimeError(f"the first list of cluster {cluster_pk} did not answer in {RESULT_WAIT}s")
        answer = receive.recv()
    except EOFError:
        answer = None
    finally:
        receive.close()
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join()
    if answer is None:
        raise RuntimeError(f"the first-list process of cluster {cluster_pk} exited with {child.exitcode}")
    if "error" in answer:
        raise _exception(answer)
    return FirstList(**answer)


def _exception(answer: dict) -> Exception:
    from graph.sync import SyncInProgress

    kind, message = answer["error"], answer.get("message", "")
    if kind == "SyncInProgress":
        return SyncInProgress(message)
    if kind == "KubeUnreachable":
        return KubeUnreachable(message)
    if kind == "KubeError":
        return KubeError(answer.get("status", 500), answer.get("reason", ""), message)
    return RuntimeError(f"first list failed: {kind}: {message}")


def _child(cluster_pk: int, wait: float, database: dict, settings_module: str, send) -> None:
    """The child process: Django on the parent's database, one locked full sync, the answer down the pipe."""
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    from django.conf import settings

    settings.DATABASES["default"] = database  # before any connection is made (a test database keeps its name)
    import django

    django.setup()
    from django.db import connections

    from graph.sync import sync_cluster_locked

    try:
        result = sync_cluster_locked(cluster_pk, wait=wait, keep_unowned=True)
        answer: dict = {"resource_versions": result.resource_versions, "unowned": result.unowned,
                        "objects": result.objects, "rows_written": result.rows_written, "summary": result.summary()}
    except KubeError as exc:
        answer = {"error": "KubeError", "status": exc.status, "reason": exc.reason, "message": exc.message}
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the watcher, which decides
        answer = {"error": type(exc).__name__, "message": str(exc)}
    finally:
        connections.close_all()
    answer["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux
    send.send(answer)
    send.close()
