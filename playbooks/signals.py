"""Signals of the playbooks app: the run model announces transitions; the modules that react subscribe."""

from django.dispatch import Signal

# Sent once a run waiting for approval has been committed, with ``run_pk`` (playbooks.notify tells the approvers).
approval_requested = Signal()
