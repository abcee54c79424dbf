"""Signals graph sends, so that higher apps react without graph importing them (alerts turns health transitions
into alerts)."""

from django.dispatch import Signal

# Sent after a sync of one cluster's mirror has committed, and after a batch of watch deltas changed what health
# alerts read (graph.watch), with ``cluster`` (a controlplane Cluster).
mirror_synced = Signal()
