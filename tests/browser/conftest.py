"""Browser fixtures: Debian's Chromium driven by Playwright (no browser download, no internet) against pytest-django's
live server, a login helper, screenshots, and the demo cluster + GitHub simulator the pages are about.

Screenshots always go to ``test-artifacts/`` (gitignored). Those meant for the docs (``docs=True``) are also
written to ``docs/images/`` when ``FLUXPLANE_DOC_SCREENSHOTS=1``, so an ordinary test run never dirties the tree:

    FLUXPLANE_DOC_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from github import Auth, Github

from controlplane.models import Cluster, GitConnection
from graph.sync import sync_cluster
from simulator.flux.demo import start_demo
from simulator.github import GitHubSimulator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOC_IMAGES = ROOT / "docs" / "images"
TOKEN = "ghs_browser_token_0123456789"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the session. A missing browser or Playwright fails the tests: never a skip."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run "inside" one unless told
    # it is safe. It is: the loop only drives the browser, the ORM calls are ordinary synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable]:
    """``new_page()`` opens a page in a fresh browser context (its own cookies: one per user) on the live server."""
    contexts = []

    def _new_page():
        context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url, locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def login() -> Callable:
    """``login(page, username, password=None)`` signs in through the admin login form (make_user's password)."""

    def _login(page, username: str, password: str | None = None) -> None:
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", username)
        page.fill("#id_password", password or f"pw-{username}")
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        assert page.locator("#user-tools").count() == 1, f"{username} could not log in"

    return _login


@pytest.fixture
def screenshot() -> Callable:
    """``screenshot(page, name, docs=False, full_page=False)`` saves test-artifacts/<name>.png and, for docs=True
    with FLUXPLANE_DOC_SCREENSHOTS=1, docs/images/<name>.png. Returns the artifact path."""

    def _screenshot(page, name: str, *, docs: bool = False, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
        if docs and os.environ.get("FLUXPLANE_DOC_SCREENSHOTS") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            (DOC_IMAGES / f"{name}.png").write_bytes(path.read_bytes())
        return path

    return _screenshot


# ------------------------------------------------------------------------------------------------ the demo
@pytest.fixture(scope="module")
def demo_sim(tmp_path_factory):
    """The demo cluster (simulated Flux reconciling a real git repo) and the GitHub simulator serving that repo,
    started once per module. Tests that merge into the repo belong in a module of their own."""
    base = tmp_path_factory.mktemp("browser-demo")
    sim = start_demo(base / "demo", source_interval="1h")
    github = GitHubSimulator(base / "github", tokens={TOKEN: "fluxplane-bot"})
    github.add_repo("fluxplane/fleet", sim.bare_repo)
    api = github.start()
    (base / "token").write_text(TOKEN)
    assert sim.wait_ready(60), "the demo did not converge"
    yield sim, api, base
    github.stop()
    sim.stop()


@pytest.fixture
def demo(demo_sim, settings, transactional_db):
    """The demo connected to Fluxplane (Cluster + GitHub GitConnection) and synced; yields (sim, cluster, repo)
    where repo is the PyGithub repository — how the tests act as a human reviewer on GitHub."""
    sim, api, base = demo_sim
    settings.FLUXPLANE_GIT_CACHE_DIR = str(base / "git-cache")
    cluster = Cluster.objects.create(name="demo", connection="simulator", server_url=sim.api_url)
    GitConnection.objects.create(name="demo", provider="github", api_url=api, github_repository="fluxplane/fleet",
                                 repository_url=sim.repo.url, token_ref=f"file:{base / 'token'}")
    sync_cluster(cluster)
    gh = Github(base_url=api, auth=Auth.Token(TOKEN), seconds_between_requests=0, seconds_between_writes=0)
    return sim, cluster, gh.get_repo("fluxplane/fleet")


@pytest.fixture
def helm_repo_bare(tmp_path) -> tuple[Path, str]:
    """A bare repository of the helm example with one extra branch ``fluxplane/test-1``: (bare path, branch)."""
    import shutil
    import subprocess

    from simulator.flux.demo import fixtures_dir

    work = tmp_path / "work"
    shutil.copytree(fixtures_dir() / "flux2-kustomize-helm-example", work)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x"}

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "initial")
    git("checkout", "-qb", "fluxplane/test-1")
    (work / "NOTES.md").write_text("a change\n")
    git("add", "-A")
    git("commit", "-qm", "change")
    bare = tmp_path / "fleet.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare, "fluxplane/test-1"
