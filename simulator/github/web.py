"""The human side of the simulator: a pull request's page at its web URL (``/<owner>/<repo>/pull/<n>``), as a
person following the link from Fluxplane sees it on GitHub: title, state, branches, body, reviews and the diff.
Read-only and served without a token, like a public repository's page."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from .state import ApiError

if TYPE_CHECKING:
    from .server import GitHubSimulator

PULL_PAGE = re.compile(r"^/(?P<owner>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<repo>[A-Za-z0-9._-]+)/pull/(?P<number>\d+)/?$")

_STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1000px;
       color: #1f2328; padding: 0 16px; }
h1 { font-weight: 400; margin: 0 0 8px; } h1 .num { color: #59636e; }
.state { display: inline-block; padding: 4px 12px; border-radius: 16px; color: #fff; font-weight: 600; }
.open { background: #1f883d; } .merged { background: #8250df; } .closed { background: #cf222e; }
.meta { color: #59636e; margin: 8px 0 16px; } code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; }
.box { border: 1px solid #d1d9e0; border-radius: 6px; margin: 16px 0; }
.box h2 { font-size: 14px; margin: 0; padding: 8px 12px; background: #f6f8fa; border-bottom: 1px solid #d1d9e0; }
.body { padding: 12px; white-space: pre-wrap; }
pre.diff { margin: 0; overflow-x: auto; font: 12px/1.45 ui-monospace, monospace; }
pre.diff span { display: block; padding: 0 12px; white-space: pre; }
.add { background: #e6ffec; } .del { background: #ffebe9; } .hunk { background: #ddf4ff; color: #59636e; }
"""


def _line_class(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return ""


def pull_page(sim: GitHubSimulator, owner: str, repo_name: str, number: int) -> str:
    """The HTML page of pull request ``number`` (ApiError 404 when the repository or pull request is unknown)."""
    repo = sim.repo_state(f"{owner}/{repo_name}")
    with repo.git.lock:
        pull = repo.pull(number)
        git = repo.git
        base = (git.merge_base(pull.base_sha, pull.head_sha) if not pull.merged
                else git.read_commit(pull.merge_commit_sha or pull.head_sha).parents[0])
        files = git.diff_files(base, pull.head_sha)
    state = "merged" if pull.merged else pull.state
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(pull.title)} · Pull Request #{pull.number} · {e(repo.full_name)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<p class='meta'>{e(repo.full_name)} (GitHub simulator)</p>",
        f"<h1><span class='title'>{e(pull.title)}</span> <span class='num'>#{pull.number}</span></h1>",
        f"<p><span class='state {state}' id='pr-state'>{state.capitalize()}</span> ",
        f"<span class='meta'>{e(pull.user)} wants to merge <code>{e(pull.head)}</code> into "
        f"<code>{e(pull.base)}</code>",
    ]
    if pull.merged:
        sha = (pull.merge_commit_sha or "")[:12]
        parts.append(f" · merged by {e(pull.merged_by or '')} as <code>{e(sha)}</code>")
    parts.append("</span></p>")
    body = e(pull.body or "")
    parts.append(f"<div class='box'><h2>Description</h2><div class='body' id='pr-body'>{body}</div></div>")
    if pull.reviews:
        rows = "".join(f"<div>{e(r.user)}: {e(r.state.lower())} {e(r.body or '')}</div>" for r in pull.reviews)
        parts.append(f"<div class='box'><h2>Reviews</h2><div class='body'>{rows}</div></div>")
    for f in files:
        lines = "".join(f"<span class='{_line_class(line)}'>{e(line)}</span>"
                        for line in (f.get("patch") or "").splitlines())
        parts.append(f"<div class='box file'><h2>{e(f['filename'])} ({e(f['status'])}, +{f['additions']} "
                     f"−{f['deletions']})</h2><pre class='diff'>{lines}</pre></div>")
    parts.append("</body></html>")
    return "".join(parts)


def serve(handler, sim: GitHubSimulator, path: str) -> bool:  # noqa: ANN001 - the server's request handler
    """Answer a web page request; False when ``path`` is not one (the API handles it)."""
    match = PULL_PAGE.match(path)
    if not match or handler.command != "GET":
        return False
    try:
        body = pull_page(sim, match["owner"], match["repo"], int(match["number"])).encode()
        status = 200
    except ApiError as err:
        body = f"<!doctype html><title>{err.status}</title><h1>{html.escape(err.message)}</h1>".encode()
        status = err.status
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    return True
