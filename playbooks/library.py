"""The playbook library: what may run, on which kinds, with which parameters, permission and approval policy.

A Playbook is a template (defined in code); every execution is a PlaybookRun row. Playbooks are switched on and
off by settings that mirror the seed chart's values (``playbooks.suspend`` → ``FLUXPLANE_PLAYBOOK_SUSPEND``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.conf import settings

from access import rules
from playbooks.choices import Mode

if TYPE_CHECKING:
    from controlplane.runners import JobRunner
    from graph.models import KubeObject


class Playbook:
    """Base class. Subclasses set the class attributes and implement :meth:`execute` (run in a worker)."""

    name: ClassVar[str]
    setting: ClassVar[str]  # key in settings.FLUXPLANE_PLAYBOOKS, e.g. "suspend"
    title: ClassVar[str]
    description: ClassVar[str]
    mode: ClassVar[str] = Mode.EXEC
    kinds: ClassVar[frozenset[tuple[str, str]]] = frozenset()  # (api group, kind)
    verb: ClassVar[str] = rules.RUN_PLAYBOOK
    form_class: ClassVar[type[forms.Form]] = forms.Form
    bulk: ClassVar[bool] = False  # offered as a list-page action
    bulk_dependencies_first: ClassVar[bool] = True  # order of a bulk run along dependsOn
    do_not_call_in_templates = True  # templates receive the class; Django would otherwise try to instantiate it

    @classmethod
    def enabled(cls) -> bool:
        return bool(settings.FLUXPLANE_PLAYBOOKS.get(cls.setting, True))

    @classmethod
    def applies_to(cls, obj: KubeObject) -> bool:
        return (obj.api_group, obj.kind) in cls.kinds and obj.deleted_at is None

    @classmethod
    def allowed(cls, user, obj: KubeObject) -> bool:
        """The permission rule of this playbook (access.rules), checked by admin, views and the job alike."""
        return rules.has_verb(user, cls.verb, obj)

    @classmethod
    def approvals_required(cls) -> int:
        policy = settings.FLUXPLANE_APPROVALS
        return int(policy.get(cls.name, policy["exec" if cls.mode == Mode.EXEC else "gitops"]))

    @classmethod
    def form_initial(cls, obj: KubeObject) -> dict[str, Any]:
        return {}

    @classmethod
    def warnings(cls, obj: KubeObject) -> list[str]:
        return []

    @classmethod
    def refusal(cls, obj: KubeObject) -> str | None:
        """Why this playbook cannot run on ``obj`` right now (shown before anything is requested), or None."""
        return None

    @classmethod
    def offered(cls, obj: KubeObject) -> bool:
        """Whether the object's page offers this playbook in its current state (Suspend only when not suspended,
        …). Cheap: the mirror row only, no git or cluster call; the start page still shows :meth:`refusal`."""
        return True

    @classmethod
    def form_for(cls, obj: KubeObject) -> type[forms.Form]:
        """The parameter form for this object (a playbook may leave out options that do not apply to its kind)."""
        return cls.form_class

    @classmethod
    def group(cls) -> str:
        """Where the object page lists it: operate (exec), change (a pull request), create, access."""
        return "operate" if cls.mode == Mode.EXEC else "change"

    def __init__(self, runner: JobRunner):
        self.runner = runner
        self.run = runner.run_row
        self.params: dict[str, Any] = dict(self.run.parameters or {})

    def log(self, message: str, level: str = "info") -> None:
        self.runner.log(message, level)

    def execute(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


_REGISTRY: dict[str, type[Playbook]] = {}


def register(playbook: type[Playbook]) -> type[Playbook]:
    if playbook.name in _REGISTRY:
        raise ValueError(f"playbook {playbook.name!r} is already registered")
    _REGISTRY[playbook.name] = playbook
    return playbook


def get_playbook(name: str) -> type[Playbook]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown playbook {name!r}") from None


def all_playbooks(enabled_only: bool = True) -> list[type[Playbook]]:
    return [p for p in _REGISTRY.values() if p.enabled() or not enabled_only]


def playbooks_for(user, obj: KubeObject) -> list[type[Playbook]]:
    """The enabled playbooks that apply to ``obj`` and that ``user`` may start on it."""
    return [p for p in all_playbooks() if p.applies_to(obj) and p.allowed(user, obj)]
