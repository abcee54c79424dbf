"""Create the first admin user (and, for the demo, a developer and an approver) and print their logins."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError

from controlplane import context
from controlplane.models import AuditEvent

# Demo users: nobody approves their own request, so the demo needs someone to ask and someone to approve.
DEMO_USERS = {
    "developer": ("graph.view_kubeobject", "graph.run_playbook", "graph.request_change", "graph.request_access",
                  "graph.silence"),
    "approver": ("graph.view_kubeobject", "graph.approve_run", "graph.merge_change", "playbooks.view_playbookrun"),
}


class Command(BaseCommand):
    help = (
        "Create a superuser (default 'admin') with a generated password if it does not exist yet, keep the "
        "password in the data directory (mode 0600) and print the login. With --demo-users also a 'developer' and "
        "an 'approver' (staff, global permissions). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--demo-users", action="store_true")

    def handle(self, *args, username: str, demo_users: bool = False, **options):
        with context.work_context(context.Origin.COMMAND):
            if demo_users:
                for name, perms in DEMO_USERS.items():
                    self.stdout.write(f"login ({name}): {self.ensure(name, perms=perms)}")
                return
            self.stdout.write(f"login: {self.ensure(username, superuser=True)}")

    def ensure(self, username: str, superuser: bool = False, perms: tuple[str, ...] = ()) -> str:
        """Create the user once; return "name / password" (or a note when the password was changed since)."""
        password_file = Path(settings.DATA_DIR) / ("admin-password" if superuser else f"{username}-password")
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.touch(mode=0o600)
            password_file.write_text(password)
            if superuser:
                user = user_model.objects.create_superuser(username=username, email="", password=password)
            else:
                user = user_model.objects.create_user(username=username, password=password, is_staff=True,
                                                      email=f"{username}@example.invalid")
                for perm in perms:
                    app_label, codename = perm.split(".")
                    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                                     codename=codename))
            AuditEvent.record("user.created", user, message=f"{'initial admin' if superuser else 'demo'} user "
                                                            f"{username} created")
            return f"{username} / {password}"
        if password_file.exists() and user.check_password(password_file.read_text().strip()):
            return f"{username} / {password_file.read_text().strip()}"
        if password_file.exists():
            return f"{username} (password changed since the first run)"
        raise CommandError(f"user {username!r} exists but {password_file} does not: reset it with "
                           f"'python manage.py changepassword {username}'")
