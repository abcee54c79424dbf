"""Create the first admin user for a demo install and print its login."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from controlplane import context
from controlplane.models import AuditEvent


class Command(BaseCommand):
    help = (
        "Create a superuser (default 'admin') with a generated password if it does not exist yet, keep the "
        "password in the data directory (mode 0600) and print the login. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        password_file = Path(settings.DATA_DIR) / "admin-password"
        user_model = get_user_model()
        with context.work_context(context.Origin.COMMAND):
            user = user_model.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.touch(mode=0o600)
                password_file.write_text(password)
                user = user_model.objects.create_superuser(username=username, email="", password=password)
                AuditEvent.record("user.created", user, message=f"initial admin user {username} created")
            elif password_file.exists() and user.check_password(password_file.read_text().strip()):
                password = password_file.read_text().strip()
            elif password_file.exists():
                self.stdout.write(f"login: {username} (password changed since the first run)")
                return
            else:
                raise CommandError(
                    f"user {username!r} exists but {password_file} does not: reset it with "
                    f"'python manage.py changepassword {username}'"
                )
        self.stdout.write(f"login: {username} / {password}")
