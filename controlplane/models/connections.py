"""Where Fluxplane reads from and writes to: Kubernetes clusters and git repositories."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from controlplane.models.audit import AuditEvent

dns1123_label = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "Use a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, "
    "at most 63 characters.",
)


class Cluster(models.Model):
    """A Kubernetes cluster running Flux, and how to reach it.

    Credentials are never stored here: a kubeconfig is referenced by path (plus an optional context), the
    in-cluster service account is used as mounted, and the built-in simulator is reached by URL.
    """

    class Connection(models.TextChoices):
        KUBECONFIG = "kubeconfig", "kubeconfig file"
        IN_CLUSTER = "in-cluster", "in-cluster service account"
        SIMULATOR = "simulator", "built-in simulator"

    class SyncState(models.TextChoices):
        NEVER = "never", "never synced"
        OK = "ok", "ok"
        FAILED = "failed", "failed"
        UNREACHABLE = "unreachable", "unreachable"

    name = models.CharField(max_length=63, unique=True, validators=[dns1123_label])
    description = models.CharField(max_length=200, blank=True)
    connection = models.CharField(max_length=16, choices=Connection.choices, default=Connection.KUBECONFIG)
    kubeconfig_path = models.CharField(max_length=500, blank=True, help_text="path to a kubeconfig file")
    kubeconfig_context = models.CharField(max_length=200, blank=True, help_text="context name (default: current)")
    server_url = models.URLField(blank=True, help_text="API server URL (built-in simulator only)")
    kubeconfig_secrets = models.TextField(
        blank=True,
        help_text="Secrets in other (hub) clusters whose kubeconfig targets this cluster, one per line as "
                  "<hub cluster>/<namespace>/<secret name>: Kustomizations and HelmReleases there with that "
                  "spec.kubeConfig are drawn applying to this cluster. Without a line, a Secret named "
                  "<this cluster's name>-kubeconfig (the Cluster API convention) is matched.",
    )
    enabled = models.BooleanField(default=True)
    sync_interval_seconds = models.PositiveIntegerField(default=300)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.NEVER)
    last_sync_message = models.TextField(blank=True)
    # Moved in the transaction of every write that changed the mirror (a batch of watch deltas: graph.delta; a full
    # sync: graph.sync; a hub relink: graph.remote), never by a save of the row: with last_sync_at, the cheap change
    # token of the cluster's live graph (controlplane.live) and of the admin lists' cached counts (graph.admin.listing).
    mirror_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The health rules (graph.health.RULES_FINGERPRINT) every stored verdict of this cluster was made by: only then
    # does a resync keep an unchanged object's stored verdict instead of assessing it again (graph.sync).
    mirror_health_rules = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("sync_cluster", "Can start a sync of a cluster")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Save; a full save of an existing cluster leaves ``mirror_changed_at`` as the database has it.

        Only the writes that change the mirror move it (graph.delta, graph.sync, graph.remote: an UPDATE in their
        transaction). A Cluster loaded before such a write (the admin's form, a job) and saved whole afterwards would
        put the older value back, and the mirror's token with it — to a value that cached counts were stored under."""
        if kwargs.get("update_fields") is None and not kwargs.get("force_insert") and not self._state.adding:
            kwargs["update_fields"] = [f.name for f in self._meta.concrete_fields
                                       if not f.primary_key and f.name != "mirror_changed_at"]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.connection == self.Connection.KUBECONFIG and not self.kubeconfig_path:
            errors["kubeconfig_path"] = "A kubeconfig connection needs the path of a kubeconfig file."
        if self.kubeconfig_path and ".." in Path(self.kubeconfig_path).parts:
            errors["kubeconfig_path"] = "Use a path without '..'."
        if self.connection == self.Connection.SIMULATOR and not self.server_url:
            errors["server_url"] = "The simulator connection needs the simulator's URL, e.g. http://127.0.0.1:6443."
        if self.connection != self.Connection.SIMULATOR and self.server_url:
            errors["server_url"] = "Only the simulator connection takes a URL; kubeconfig files carry their own."
        bad = [line for line in self.kubeconfig_secret_refs(raw=True) if line.count("/") != 2 or "" in line.split("/")]
        if bad:
            errors["kubeconfig_secrets"] = f"Write each line as <hub cluster>/<namespace>/<secret name>: {bad[0]!r}"
        if errors:
            raise ValidationError(errors)

    def kubeconfig_secret_refs(self, raw: bool = False) -> list:
        """The explicit mapping: (hub cluster name, namespace, secret name) per non-empty line (raw: the lines)."""
        lines = [line.strip() for line in (self.kubeconfig_secrets or "").splitlines() if line.strip()]
        if raw:
            return lines
        return [tuple(line.split("/")) for line in lines if line.count("/") == 2]

    def record_sync(self, state: str, message: str = "") -> None:
        """Store the outcome of a sync; audit only transitions so a periodic sync does not flood the log."""
        previous = self.last_sync_state
        self.last_sync_state = state
        self.last_sync_message = message
        self.last_sync_at = timezone.now()
        self.save(update_fields=["last_sync_state", "last_sync_message", "last_sync_at"])
        if previous != state:
            AuditEvent.record(
                "cluster.sync_state", self, before={"state": previous}, after={"state": state}, message=message
            )


_TOKEN_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\0]+)$")
# Shapes of real tokens pasted where a reference belongs (GitHub, GitLab, Gitea/Forgejo's 40 hex digits); refused so
# they never reach the database.
_LOOKS_LIKE_TOKEN = re.compile(r"^(gh[pousr]_|github_pat_|glpat-|gl[a-z]{1,4}-|[0-9a-f]{40}$)")
_GITHUB_URL = re.compile(r"^(?:https://|ssh://git@|git@)github\.com[/:]([^/]+)/([^/]+?)(?:\.git)?/?$")
_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_GITLAB_PROJECT = re.compile(r"^(\d+|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+)$")
_BRANCH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$")
GIT_TYPES = ("github", "gitlab", "gitea", "git")
MERGE_POLICIES = ("manual", "on-approval", "on-checks")


class TokenUnavailable(Exception):
    """The token reference of a git connection cannot be resolved (variable unset, file missing)."""


def default_git_provider() -> str:
    """The seed chart's ``git.type`` (FLUXPLANE_GIT_TYPE) as the default provider of new connections."""
    from django.conf import settings

    value = getattr(settings, "FLUXPLANE_GIT_TYPE", "github")
    return value if value in GIT_TYPES else "github"


def _path_of(url: str) -> str:
    """The repository path of a clone URL (``https://host/a/b/c.git`` and ``git@host:a/b/c`` → ``a/b/c``)."""
    scp = re.match(r"^[\w.-]+@[\w.-]+:(?!//)(.+)$", url.strip())
    path = scp.group(1) if scp else urlsplit(url.strip()).path
    return path.strip("/").removesuffix(".git")


class GitConnection(models.Model):
    """A git repository Fluxplane opens pull requests (GitLab: merge requests) against, and how to authenticate.

    Hosted providers (GitHub, GitLab, Gitea/Forgejo) need the repository as the provider names it and a token; the
    token is a *reference* (``env:NAME`` or ``file:/path``) resolved at use time and never stored, shown or logged.
    Plain git needs only the clone URL: Fluxplane tracks and merges the branch itself.
    """

    class Provider(models.TextChoices):
        GITHUB = "github", "GitHub"
        GITLAB = "gitlab", "GitLab (merge requests)"
        GITEA = "gitea", "Gitea / Forgejo"
        GIT = "git", "plain git (pull requests tracked in Fluxplane)"

    class MergePolicy(models.TextChoices):
        DEFAULT = "", "as FLUXPLANE_GIT_MERGE says"
        MANUAL = "manual", "manual: a person merges"
        ON_APPROVAL = "on-approval", "on approval: merged once approved in Fluxplane"
        ON_CHECKS = "on-checks", "on checks: merged once the provider's checks pass"

    HOSTED = (Provider.GITHUB, Provider.GITLAB, Provider.GITEA)

    name = models.CharField(max_length=63, unique=True, validators=[dns1123_label])
    provider = models.CharField(max_length=16, choices=Provider.choices, default=default_git_provider)
    repository_url = models.CharField(
        max_length=500,
        help_text="the clone URL the GitRepository reads: https://host/org/repo.git, ssh://…, or a local path / file://",
    )
    api_url = models.URLField(
        "API URL", blank=True,
        help_text="GitHub: empty for github.com, else the Enterprise API URL. GitLab: empty for gitlab.com, else the "
                  "instance URL (https://gitlab.example.com). Gitea/Forgejo: the server URL (required).")
    github_repository = models.CharField(
        "repository on the provider", max_length=200, blank=True,
        help_text="GitHub, Gitea/Forgejo: owner/name. GitLab: the project path (group/subgroup/name) or its numeric "
                  "id. Empty: read from the clone URL.")
    base_branch = models.CharField(max_length=200, default="main")
    token_ref = models.CharField(
        max_length=500, blank=True, help_text="where the token is: env:VARIABLE or file:/path (never the token)"
    )
    create_pull_requests = models.BooleanField(
        default=True, help_text="open a pull request per change; off commits directly to the base branch"
    )
    merge_policy = models.CharField(
        max_length=16, choices=MergePolicy.choices, default="", blank=True,
        help_text="who merges the pull request Fluxplane opened (on checks: GitLab merges when the pipeline "
                  "succeeds; GitHub and Gitea are merged by Fluxplane once every check passed)")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        label = self.get_provider_display()
        if self.token_ref and _LOOKS_LIKE_TOKEN.match(self.token_ref):
            errors["token_ref"] = (
                "This looks like a token. Store it in an environment variable or file and enter env:NAME or "
                "file:/path instead."
            )
        elif self.token_ref and not _TOKEN_REF.match(self.token_ref):
            errors["token_ref"] = "Use env:VARIABLE_NAME or file:/absolute/path."
        if self.hosted and not self.token_ref:
            errors["token_ref"] = f"{label} needs a token reference (env:NAME or file:/path)."
        if self.provider == self.Provider.GITLAB:
            if self.github_repository and not _GITLAB_PROJECT.match(self.github_repository):
                errors["github_repository"] = "Use the project path (group/name, group/subgroup/name) or its id."
            elif not self.remote_repository:
                errors["github_repository"] = "Give the project path or id: the clone URL does not say it."
        elif self.github_repository and not _OWNER_NAME.match(self.github_repository):
            errors["github_repository"] = "Use owner/name."
        elif self.provider in (self.Provider.GITHUB, self.Provider.GITEA) and not self.remote_repository:
            where = "a github.com URL" if self.provider == self.Provider.GITHUB else "an owner/name URL"
            errors["github_repository"] = f"Give owner/name: the clone URL is not {where}."
        if self.provider == self.Provider.GITEA and not self.api_url:
            errors["api_url"] = "Gitea/Forgejo needs the server URL, e.g. https://git.example.com."
        if self.provider == self.Provider.GIT and self.merge_policy == self.MergePolicy.ON_CHECKS:
            errors["merge_policy"] = "Plain git has no checks: Fluxplane merges an approved change itself."
        if urlsplit(self.repository_url).password:
            errors["repository_url"] = "Do not put credentials in the URL; use the token reference."
        if not _BRANCH.match(self.base_branch) or ".." in self.base_branch:
            errors["base_branch"] = "Enter a valid branch name (letters, digits, '/', '.', '_', '-')."
        if errors:
            raise ValidationError(errors)

    @property
    def hosted(self) -> bool:
        """Whether a provider holds the pull requests (GitHub, GitLab, Gitea); False for plain git."""
        return self.provider in self.HOSTED

    @property
    def github_full_name(self) -> str:
        """owner/name of the repository on GitHub: the explicit field, else parsed from a github.com URL."""
        if self.github_repository:
            return self.github_repository
        match = _GITHUB_URL.match(self.repository_url)
        return f"{match.group(1)}/{match.group(2)}" if match else ""

    @property
    def remote_repository(self) -> str:
        """The repository as the provider names it: the explicit field, else read from the clone URL (GitHub:
        github.com URLs only; GitLab: the whole path, subgroups included; Gitea: its last two segments)."""
        if self.github_repository or self.provider == self.Provider.GITHUB:
            return self.github_full_name
        path = _path_of(self.repository_url) if "://" in self.repository_url or "@" in self.repository_url else ""
        parts = [p for p in path.split("/") if p]
        if self.provider == self.Provider.GITLAB:
            return "/".join(parts) if len(parts) >= 2 else ""
        return "/".join(parts[-2:]) if len(parts) >= 2 else ""

    @property
    def effective_merge_policy(self) -> str:
        """This connection's merge policy, or FLUXPLANE_GIT_MERGE when it has none."""
        from django.conf import settings

        return self.merge_policy or getattr(settings, "FLUXPLANE_GIT_MERGE", "manual")

    @property
    def provider_name(self) -> str:
        """The host's short name for messages: GitHub, GitLab, Gitea/Forgejo, git."""
        return {"github": "GitHub", "gitlab": "GitLab", "gitea": "Gitea/Forgejo"}.get(self.provider, "git")

    def change_request_label(self, number: int | None) -> str:
        """How the provider names a change request: "merge request !3" on GitLab, "pull request #3" elsewhere."""
        if self.provider == self.Provider.GITLAB:
            return f"merge request !{number}"
        return f"pull request #{number}"

    def pull_requests(self, working_copy=None):  # noqa: ANN001, ANN201 — gitops types, imported lazily
        """The provider adapter of this connection (a gitops ``PullRequestProvider``). Plain git works on a working
        copy, which the caller passes (it holds the clone and its lock)."""
        from gitops.providers import PlainGitProvider, hosted_provider

        if self.hosted:
            return hosted_provider(self.provider, self)
        if working_copy is None:
            raise ValueError("a plain git connection needs the working copy to merge in")
        return PlainGitProvider(working_copy)

    def resolve_token(self) -> str:
        """Read the token the reference points at. Raises TokenUnavailable with a message that names the
        reference, never the value."""
        ref = self.token_ref
        if not ref:
            return ""
        kind, _, where = ref.partition(":")
        if kind == "env":
            value = os.environ.get(where, "")
            if not value:
                raise TokenUnavailable(f"environment variable {where} is not set (git connection {self.name})")
            return value.strip()
        if kind == "file":
            try:
                return Path(where).read_text().strip()
            except OSError as exc:
                raise TokenUnavailable(f"cannot read token file {where}: {exc.strerror}") from None
        raise TokenUnavailable(f"unsupported token reference for git connection {self.name}")
