"""Pod logs (``GET /api/v1/namespaces/{ns}/pods/{name}/log``): the kubelet's answer, made up.

Nothing runs in a simulated pod, so the lines are generated from the pod and its container: a start-up banner
naming the image, then a steady request log. They are deterministic (seeded by namespace, pod and container) and
spaced 100 ms apart from the pod's creation (never in the future once the pod has run 20 s), so a test or a
screenshot reads the same lines every time. One start-up line carries credentials in a URL, as real applications
carelessly log: a reader of the logs must redact them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from . import errors

LINES = 200  # lines a container "wrote" (tailLines picks the end)
_PATHS = ("/", "/healthz", "/readyz", "/api/info", "/api/echo", "/metrics", "/env", "/status/200")
_AGENTS = ("kube-probe/1.34", "curl/8.9.1", "Mozilla/5.0", "Prometheus/3.1.0")


def _start(pod: dict) -> dt.datetime:
    created = (pod.get("metadata") or {}).get("creationTimestamp") or "2026-01-01T00:00:00Z"
    try:
        return dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _container(pod: dict, name: str | None) -> dict:
    meta, spec = pod["metadata"], pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    names = [c.get("name", "") for c in containers]
    if not name:
        main = spec.get("containers") or []
        if len(main) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {meta['name']}, choose one of: "
                                     f"[{' '.join(c.get('name', '') for c in main)}]")
        return main[0]
    if name not in names:
        raise errors.bad_request(f"container {name} is not valid for pod {meta['name']}")
    return containers[names.index(name)]


def generate(pod: dict, container: str | None) -> list[tuple[str, str]]:
    """Every (RFC 3339 time, message) line the container wrote, oldest first."""
    meta = pod["metadata"]
    spec = _container(pod, container)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f'container "{spec.get("name")}" in pod "{meta["name"]}" is waiting to start: '
                                 f"ContainerCreating")
    name, image = spec.get("name", ""), str(spec.get("image", ""))
    seed = hashlib.sha256(f"{meta.get('namespace')}/{meta['name']}/{name}".encode()).digest()
    rng = random.Random(seed)
    port = next((p.get("containerPort") for p in spec.get("ports") or [] if p.get("containerPort")), 8080)
    banner = [
        f'level=info msg="starting {name}" image="{image}" pod="{meta["name"]}"',
        f'level=info msg="loading configuration from https://{name}:s3cr3t-{seed.hex()[:8]}@config.internal/app"',
        f'level=info msg="listening" addr=":{port}"',
    ]
    start = _start(pod)
    lines = []
    for i in range(LINES):
        if i < len(banner):
            message = banner[i]
        else:
            status = rng.choices((200, 304, 404, 500), weights=(85, 8, 5, 2))[0]
            level = "error" if status >= 500 else "info"
            message = (f'level={level} msg="request" method=GET path={rng.choice(_PATHS)} status={status} '
                       f'duration={rng.randint(1, 900)}ms agent="{rng.choice(_AGENTS)}"')
        at = start + dt.timedelta(milliseconds=100 * i + 250)
        lines.append((at.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"), message))
    return lines


def render(pod: dict, query: dict[str, str]) -> bytes:
    """The log body for the query's ``container``, ``tailLines`` and ``timestamps`` (as the kubelet serves it)."""
    lines = generate(pod, query.get("container"))
    tail = query.get("tailLines", "")
    if tail.lstrip("-").isdigit():
        count = int(tail)
        if count < 0:
            raise errors.bad_request("tailLines: Invalid value: must be greater than or equal to 0")
        lines = lines[len(lines) - count:] if count else []
    stamped = query.get("timestamps") in ("true", "1", "True")
    return "".join(f"{at} {msg}\n" if stamped else f"{msg}\n" for at, msg in lines).encode()
