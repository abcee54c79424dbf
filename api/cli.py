"""``fluxplane``: the command line on the REST API (docs/api.md).

The server and token come from ``FLUXPLANE_URL`` / ``FLUXPLANE_TOKEN`` or from ``~/.config/fluxplane/config``
(``url = …`` and ``token = …`` lines). Tables for people by default, ``-o json`` for scripts. Standard library only,
so the CLI runs wherever the package is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

TERMINAL = {"succeeded", "failed", "errored", "rejected", "cancelled", "expired"}
DONE_CHANGE = {"healthy", "failed", "closed"}


class CliError(Exception):
    """A failure to show the user in one line (exit status 1)."""


def load_config(environ=os.environ) -> tuple[str, str]:
    url, token = environ.get("FLUXPLANE_URL", ""), environ.get("FLUXPLANE_TOKEN", "")
    path = Path(environ.get("FLUXPLANE_CONFIG", Path.home() / ".config" / "fluxplane" / "config"))
    if (not url or not token) and path.is_file():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "url" and not url:
                url = value.strip()
            elif key.strip() == "token" and not token:
                token = value.strip()
    if not url or not token:
        raise CliError("set FLUXPLANE_URL and FLUXPLANE_TOKEN (or url/token in ~/.config/fluxplane/config); "
                       "create a token in the admin under API tokens")
    return url.rstrip("/"), token


class Client:
    """A small HTTP client of the Fluxplane API (Bearer token)."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None,
                raw: bool = False) -> Any:
        query = "?" + urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v not in (None, "")}) \
            if params else ""
        url = path if path.startswith("http") else f"{self.url}/api/{path.lstrip('/')}{query}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 - the configured server
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data else {})})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310 - http(s) URL from the config
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise CliError(f"{exc.code}: {_detail(exc.read())}") from None
        except urllib.error.URLError as exc:
            raise CliError(f"cannot reach {self.url}: {exc.reason}") from None
        return payload.decode() if raw else json.loads(payload or b"null")

    def get_all(self, path: str, params: dict | None = None, limit: int = 1000) -> list[dict]:
        page = self.request("GET", path, params)
        if isinstance(page, list):
            return page
        rows = list(page["results"])
        while page.get("next") and len(rows) < limit:
            page = self.request("GET", page["next"])
            rows += page["results"]
        return rows[:limit]


def _detail(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")[:300]
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        return "; ".join(detail) if isinstance(detail, list) else str(detail)
    return json.dumps(data)


def singular(kind: str) -> str:
    """kubectl-style kind names: ``kustomizations``, ``hr``, ``deploy`` … → the Kind to filter on."""
    short = {"ks": "Kustomization", "hr": "HelmRelease", "deploy": "Deployment", "sts": "StatefulSet",
             "ds": "DaemonSet", "po": "Pod", "ns": "Namespace", "gitrepo": "GitRepository"}
    kind = short.get(kind, kind)
    lower = kind.lower()
    if lower.endswith("ies"):
        return lower[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches")):
        return lower[:-2]
    return lower[:-1] if lower.endswith("s") and not lower.endswith("ss") else lower


def table(rows: list[dict], columns: list[str]) -> str:
    cells = [[str(r.get(c) if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def find_object(client: Client, ref: str, namespace: str) -> dict:
    kind, _, name = ref.partition("/")
    if not name:
        raise CliError(f"give the object as kind/name, e.g. deployment/podinfo (got {ref!r})")
    rows = [r for r in client.get_all("objects/", {"kind": singular(kind), "namespace": namespace, "search": name})
            if r["name"] == name]
    if not rows:
        raise CliError(f"{ref} not found in namespace {namespace or '(cluster scope)'} (or not visible to you)")
    if len(rows) > 1:
        raise CliError(f"{ref} exists in several clusters: {', '.join(r['cluster'] for r in rows)}")
    return rows[0]


def out(args, data: Any, columns: list[str]) -> None:
    if args.output == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        print(table(data if isinstance(data, list) else [data], columns))


RUN_COLUMNS = ["id", "playbook", "target", "status", "change_state", "requested_by_username", "pr_url"]


def cmd_get(client: Client, args) -> None:
    params = {"kind": singular(args.kind), "namespace": None if args.all_namespaces else args.namespace}
    rows = client.get_all("objects/", params)
    out(args, rows, ["namespace", "name", "kind", "rollup_health", "suspended", "rollup_message"])


def cmd_why(client: Client, args) -> None:
    obj = client.request("GET", f"objects/{find_object(client, args.ref, args.namespace)['id']}/")
    if args.output == "json":
        print(json.dumps(obj, indent=2))
        return
    print(f"{obj['kind']} {obj['namespace']}/{obj['name']} is {obj['rollup_health']}"
          + (f": {obj['rollup_message']}" if obj["rollup_message"] else ""))
    if obj["health"] != obj["rollup_health"] or obj["health_message"]:
        print(f"  own status: {obj['health']} {obj['health_reason']} {obj['health_message']}".rstrip())
    for condition in obj["conditions"]:
        print(f"  {condition.get('type')}={condition.get('status')} {condition.get('reason', '')}: "
              f"{condition.get('message', '')}")


def _parameters(args) -> dict:
    params: dict[str, Any] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--set takes key=value (got {item!r})")
        params[key] = value
    if args.replicas is not None:
        params["replicas"] = args.replicas
    if args.image:
        params["image"] = args.image
    return params


def cmd_request(client: Client, args) -> None:
    target = find_object(client, args.ref, args.namespace)
    body = {"playbook": args.playbook, "target": target["id"], "parameters": _parameters(args),
            "dry_run": args.dry_run}
    run = client.request("POST", "runs/", body=body)
    if args.dry_run:
        print(run["diff"] if args.output != "json" else json.dumps(run, indent=2))
        return
    print(f"run #{run['id']}: {run['status']}", file=sys.stderr)
    while args.wait and not _settled(run):
        time.sleep(args.interval)
        run = client.request("GET", f"runs/{run['id']}/")
        print(f"run #{run['id']}: {run['status']} {run['change_state'] or ''}".rstrip(), file=sys.stderr)
    out(args, run, RUN_COLUMNS)
    if run["status"] in {"failed", "errored", "rejected", "expired"} or run["change_state"] == "failed":
        raise SystemExit(1)


def _settled(run: dict) -> bool:
    if run["status"] not in TERMINAL:
        return False
    return run["mode"] != "gitops" or run["status"] != "succeeded" or run["change_state"] in DONE_CHANGE


def cmd_decide(client: Client, args) -> None:
    body = {"reason": getattr(args, "reason", None) or ""}
    out(args, client.request("POST", f"runs/{args.id}/{args.command}/", body=body), RUN_COLUMNS)


def cmd_runs(client: Client, args) -> None:
    path = "approvals/" if args.waiting else "runs/"
    rows = client.get_all(path, {"mine": "true" if args.mine else None, "status": args.status}, limit=args.limit)
    out(args, rows, RUN_COLUMNS[:-1] + ["created_at"])


def cmd_audit(client: Client, args) -> None:
    params = {"since": args.since, "verb": args.verb, "actor": args.actor}
    if args.format == "csv":
        sys.stdout.write(client.request("GET", "audit/export/", params, raw=True))
        return
    rows = client.get_all("audit/", params, limit=args.limit)
    out(args, rows, ["time", "actor_username", "verb", "target_repr", "message"])


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="fluxplane", description="Fluxplane on the command line (docs/api.md).")
    top.add_argument("-o", "--output", choices=["table", "json"], default="table")
    sub = top.add_subparsers(dest="command", required=True)

    get = sub.add_parser("get", help="list objects of a kind with their health")
    get.add_argument("kind")
    get.add_argument("-n", "--namespace")
    get.add_argument("-A", "--all-namespaces", action="store_true")
    get.set_defaults(func=cmd_get)

    why = sub.add_parser("why", help="why an object is (not) healthy")
    why.add_argument("ref", help="kind/name")
    why.add_argument("-n", "--namespace", default="")
    why.set_defaults(func=cmd_why)

    req = sub.add_parser("request", help="request a playbook, e.g. request scale deployment/podinfo --replicas 3")
    req.add_argument("playbook")
    req.add_argument("ref", help="kind/name")
    req.add_argument("-n", "--namespace", default="")
    req.add_argument("--replicas", type=int)
    req.add_argument("--image")
    req.add_argument("--set", action="append", metavar="KEY=VALUE", help="a playbook parameter (repeatable)")
    req.add_argument("--dry-run", action="store_true", help="show the change's diff without requesting it")
    req.add_argument("--wait", action="store_true", help="follow the run until it (and its change) settles")
    req.add_argument("--interval", type=float, default=3.0, help=argparse.SUPPRESS)
    req.set_defaults(func=cmd_request)

    for verb in ("approve", "reject", "cancel", "merge"):
        decide = sub.add_parser(verb, help=f"{verb} a run")
        decide.add_argument("id", type=int)
        if verb in ("approve", "reject"):
            decide.add_argument("--reason", required=verb == "reject")
        decide.set_defaults(func=cmd_decide)

    runs = sub.add_parser("runs", help="list runs")
    runs.add_argument("--mine", action="store_true")
    runs.add_argument("--waiting", action="store_true", help="runs waiting for my approval")
    runs.add_argument("--status")
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(func=cmd_runs)

    audit = sub.add_parser("audit", help="the audit log")
    audit.add_argument("--since", default="1d")
    audit.add_argument("--verb")
    audit.add_argument("--actor")
    audit.add_argument("--format", choices=["table", "csv"], default="table")
    audit.add_argument("--limit", type=int, default=200)
    audit.set_defaults(func=cmd_audit)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(Client(*load_config()), args)
    except CliError as exc:
        print(f"fluxplane: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
