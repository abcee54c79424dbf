"""Serializers of the API: plain read models of the mirror, runs, alerts, silences and the audit log."""

from __future__ import annotations

from rest_framework import serializers

from alerts.models import Alert, Silence
from controlplane.models import AuditEvent, Cluster
from graph.models import KubeObject
from playbooks.models import Approval, PlaybookRun


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "name", "last_sync_state", "last_sync_at", "sync_interval_seconds"]


class ObjectSerializer(serializers.ModelSerializer):
    """A mirrored object as listed: identity, health (own and rolled up) and why."""

    cluster = serializers.CharField(source="cluster.name")

    class Meta:
        model = KubeObject
        fields = ["id", "cluster", "api_group", "api_version", "kind", "namespace", "name", "family", "health",
                  "health_reason", "health_message", "rollup_health", "rollup_message", "suspended", "changed_at",
                  "deleted_at"]


class EdgeSerializer(serializers.Serializer):
    type = serializers.CharField()
    direction = serializers.ChoiceField(choices=["in", "out"])
    object = ObjectSerializer()


class ObjectDetailSerializer(ObjectSerializer):
    """One object with its conditions, origin in git and relations (edges to objects the caller may see)."""

    conditions = serializers.SerializerMethodField()
    edges = serializers.SerializerMethodField()

    class Meta(ObjectSerializer.Meta):
        fields = [*ObjectSerializer.Meta.fields, "uid", "labels", "annotations", "generation", "observed_generation",
                  "origin_path", "origin_repo", "origin_ref", "conditions", "edges"]

    def get_conditions(self, obj: KubeObject) -> list[dict]:
        return obj.conditions()

    def get_edges(self, obj: KubeObject) -> list[dict]:
        return [{"type": e["type"], "direction": e["direction"], "object": ObjectSerializer(e["object"]).data}
                for e in self.context.get("edges", [])]


class ApprovalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Approval
        fields = ["username", "decision", "reason", "created_at"]


class RunSerializer(serializers.ModelSerializer):
    """A playbook run: what, where, who, its state and, for GitOps changes, the pull request and the change state."""

    cluster = serializers.CharField(source="cluster.name")
    target = serializers.CharField(source="target_label")
    target_id = serializers.IntegerField(allow_null=True)
    approvals = ApprovalSerializer(many=True, read_only=True)

    class Meta:
        model = PlaybookRun
        fields = ["id", "playbook", "mode", "status", "change_state", "cluster", "target", "target_id",
                  "requested_by_username", "parameters", "approvals_required", "approvals", "created_at",
                  "started_at", "finished_at", "expires_at", "pr_url", "pr_number", "branch", "commit_sha",
                  "merge_sha", "diff", "rendered_diff", "error"]


class RunRequestSerializer(serializers.Serializer):
    """Request a playbook on an object. ``parameters`` are validated by the playbook's own form (as in the admin);
    ``dry_run`` returns a GitOps change's diff without requesting it."""

    playbook = serializers.CharField()
    target = serializers.IntegerField(help_text="object id")
    parameters = serializers.DictField(required=False, default=dict)
    dry_run = serializers.BooleanField(required=False, default=False)


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "source", "status", "name", "severity", "summary", "namespace", "labels", "object_id",
                  "silenced_by_id", "starts_at", "ends_at"]


class SilenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Silence
        fields = ["id", "target_id", "target_label", "include_descendants", "matchers", "starts_at", "ends_at",
                  "reason", "created_by_username", "expired_at", "until_resumed"]


class AuditEventSerializer(serializers.ModelSerializer):
    target_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "time", "actor_username", "context", "request_id", "verb", "target_type", "target_id",
                  "target_repr", "before", "after", "message"]

    def get_target_type(self, event: AuditEvent) -> str:
        return f"{event.target_type.app_label}.{event.target_type.model}" if event.target_type_id else ""


class GrantSerializer(serializers.ModelSerializer):
    """A just-in-time access grant: who gets which ClusterRole where, for how long, and where it stands."""

    state_display = serializers.CharField(source="get_state_display")
    request_run = serializers.IntegerField(source="request_run_id", allow_null=True)

    class Meta:
        from access.jit.models import AccessGrant

        model = AccessGrant
        fields = ["id", "namespace", "role", "subject_kind", "subject_name", "state", "state_display", "reason",
                  "ticket", "requested_by_username", "request_run", "activated_at", "expires_at", "ends_at",
                  "revoked_at"]


class GrantRequestSerializer(serializers.Serializer):
    """Ask for a ClusterRole in a namespace (the policy decides which roles and durations, as in the admin form)."""

    namespace = serializers.IntegerField(help_text="id of the Namespace object")
    role = serializers.CharField()
    duration = serializers.CharField(help_text="1h, 4h, 8h, 1d, 3d or 7d (capped by the policy)")
    reason = serializers.CharField(max_length=2000)
    ticket = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    subject_kind = serializers.ChoiceField(choices=["User", "Group"], default="User")
    group = serializers.CharField(required=False, default="", allow_blank=True)


class SilenceRequestSerializer(serializers.Serializer):
    """A silence on an object (and by default everything below it), as the admin's silence form takes it."""

    target = serializers.IntegerField(help_text="object id")
    duration_minutes = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=2000)
    include_descendants = serializers.BooleanField(default=True)
    matchers = serializers.CharField(required=False, default="", allow_blank=True,
                                     help_text='label matchers, one per line: severity="warning"')
    starts_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    preview = serializers.BooleanField(default=False, help_text="only show what it would cover")
