"""``manage.py configure``: create or update the cluster and the default git connection from settings.

So that Fluxplane installed by a HelmRelease (or compose) is connected without clicks in the admin. Idempotent:
an unchanged configuration writes nothing; a changed one is saved and audited. Invalid values stop with the
field's message, and nothing is written.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.forms.models import model_to_dict

from controlplane import context
from controlplane.models import AuditEvent, Cluster, GitConnection


def _ensure(model, name: str, values: dict, stdout) -> None:
    obj = model.objects.filter(name=name).first()
    created = obj is None
    before = None if created else model_to_dict(obj)
    obj = obj or model(name=name)
    for field, value in values.items():
        setattr(obj, field, value)
    try:
        obj.full_clean()
    except ValidationError as exc:
        details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        raise CommandError(f"{model._meta.verbose_name} {name!r} from the settings is invalid: {details}") from None
    after = model_to_dict(obj)
    if not created and after == before:
        stdout.write(f"{model._meta.verbose_name} {name}: unchanged")
        return
    obj.save()
    verb = f"{model._meta.model_name}.{'created' if created else 'changed'}"
    AuditEvent.record(verb, obj, before=before, after=after, message="from the settings (manage.py configure)")
    stdout.write(f"{model._meta.verbose_name} {name}: {'created' if created else 'updated'}")


class Command(BaseCommand):
    help = ("Create or update the Cluster (FLUXPLANE_CLUSTER_*) and the default GitConnection (FLUXPLANE_GIT_*) "
            "from the settings. Idempotent; does nothing for what is not configured.")

    def handle(self, *args, **options):
        with context.work_context(context.Origin.COMMAND), transaction.atomic():
            if settings.FLUXPLANE_CLUSTER_NAME:
                _ensure(Cluster, settings.FLUXPLANE_CLUSTER_NAME, {
                    "connection": settings.FLUXPLANE_CLUSTER_CONNECTION,
                    "kubeconfig_path": settings.FLUXPLANE_CLUSTER_KUBECONFIG,
                    "kubeconfig_context": settings.FLUXPLANE_CLUSTER_CONTEXT,
                    "enabled": True,
                }, self.stdout)
            if settings.FLUXPLANE_GIT_CONNECTION and settings.FLUXPLANE_GIT_URL:
                _ensure(GitConnection, settings.FLUXPLANE_GIT_CONNECTION, {
                    "provider": settings.FLUXPLANE_GIT_TYPE, "repository_url": settings.FLUXPLANE_GIT_URL,
                    "base_branch": settings.FLUXPLANE_GIT_BASE_BRANCH, "token_ref": settings.FLUXPLANE_GIT_TOKEN_REF,
                    "api_url": settings.FLUXPLANE_GIT_API_URL, "github_repository": settings.FLUXPLANE_GIT_REPOSITORY,
                    "create_pull_requests": settings.FLUXPLANE_CREATE_PULL_REQUEST,
                }, self.stdout)
