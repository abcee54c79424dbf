"""Mirrors of what Flux manages: one row per Kubernetes object, one row per relation between two of them.

Rows are written only by the sync (graph.sync), in bulk, keyed by (cluster, uid). Objects that disappear from the
cluster are kept as tombstones (``deleted_at``) so history and audit links still resolve.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from controlplane.models import Cluster
from graph.choices import EdgeType, Family, HealthChoices


class KubeObject(models.Model):
    """One Kubernetes object of a cluster as last seen: identity, the fields the product reads, and its health.

    ``health`` is the object's own state (graph.health); ``rollup_health`` is the worst of its subtree in the Flux
    tree with ``rollup_message`` naming the failing descendant ("why is this red").
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="mirrored_objects")
    uid = models.CharField(max_length=64)
    api_group = models.CharField(max_length=253, blank=True)
    api_version = models.CharField(max_length=64)
    kind = models.CharField(max_length=100)
    family = models.CharField(max_length=16, choices=Family.choices, default=Family.OTHER)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    status = models.JSONField(default=dict, blank=True)
    owner_references = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="recent core Events about this object")
    resource_version = models.CharField(max_length=64, blank=True)
    generation = models.BigIntegerField(null=True, blank=True)
    observed_generation = models.BigIntegerField(null=True, blank=True)
    suspended = models.BooleanField(default=False)
    # The Flux object that applied this one (from its labels), for filters and "managed by" links.
    managed_by_kind = models.CharField(max_length=32, blank=True)
    managed_by_namespace = models.CharField(max_length=253, blank=True)
    managed_by_name = models.CharField(max_length=253, blank=True)
    # config.kubernetes.io/origin, parsed (path is relative to the Kustomization's spec.path).
    origin_path = models.CharField(max_length=1000, blank=True)
    origin_repo = models.CharField(max_length=1000, blank=True)
    origin_ref = models.CharField(max_length=255, blank=True)
    health = models.CharField(max_length=16, choices=HealthChoices.choices, default=HealthChoices.UNKNOWN)
    health_reason = models.CharField(max_length=100, blank=True)
    health_message = models.TextField(blank=True)
    rollup_health = models.CharField(max_length=16, choices=HealthChoices.choices, default=HealthChoices.UNKNOWN)
    rollup_message = models.TextField(blank=True)
    # The roll-up's path to its culprit (leaf uid, length, first and last uids), null when the roll-up is the object's
    # own health: what lets a watch event update the ancestors' roll-ups without walking the whole tree (graph.delta).
    rollup_path = models.JSONField(null=True, blank=True, editable=False)
    created_in_cluster = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    changed_at = models.DateTimeField(null=True, blank=True, help_text="last sync that saw a new resourceVersion")
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "object"
        ordering = ["namespace", "name"]
        # Verbs granted globally (Django permissions) or per object with django-guardian; an object grant covers
        # everything below the object in the Flux tree (see access.rules).
        permissions = [
            ("run_playbook", "Can run exec playbooks (suspend, resume, reconcile)"),
            ("request_change", "Can request GitOps changes"),
            ("approve_run", "Can approve or reject playbook runs"),
            ("merge_change", "Can merge approved GitOps changes"),
            ("request_access", "Can request just-in-time namespace access"),
            ("silence", "Can silence alerts"),
        ]
        constraints = [models.UniqueConstraint(fields=["cluster", "uid"], name="graph_object_cluster_uid")]
        indexes = [
            models.Index(fields=["cluster", "family", "namespace", "name"]),
            models.Index(fields=["cluster", "kind", "namespace", "name"]),
            models.Index(fields=["cluster", "namespace"]),
            models.Index(fields=["rollup_health"]),
            models.Index(fields=["cluster", "last_seen"]),
            # The children a Kustomization or HelmRelease labelled, found when it appears (graph.delta).
            models.Index(fields=["cluster", "managed_by_kind", "managed_by_namespace", "managed_by_name"],
                         name="graph_obj_managed_by"),
            # The admin lists' first page: live objects in the list's order (the admin adds -pk to the ordering),
            # read as an index scan that stops after a page instead of sorting every row (docs/performance.md).
            models.Index(fields=["namespace", "name", "-id"], condition=models.Q(deleted_at__isnull=True),
                         name="graph_obj_live_order"),
            models.Index(fields=["family", "namespace", "name", "-id"], condition=models.Q(deleted_at__isnull=True),
                         name="graph_obj_live_family_order"),
            # The dashboard's recent changes: the ten latest of the live objects, not a sort of all of them.
            models.Index(fields=["-changed_at"], condition=models.Q(deleted_at__isnull=True),
                         name="graph_obj_live_changed"),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def is_flux(self) -> bool:
        return self.family not in (Family.WORKLOAD, Family.OTHER)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def admin_url(self) -> str:
        return reverse(f"admin:graph_{_ADMIN_MODEL.get(self.family, 'kubeobject')}_change", args=[self.pk])

    def conditions(self) -> list[dict]:
        return list((self.status or {}).get("conditions") or [])

    def condition(self, type_: str) -> dict | None:
        return next((c for c in self.conditions() if c.get("type") == type_), None)


_ADMIN_MODEL = {
    Family.KUSTOMIZATION: "kustomization",
    Family.HELMRELEASE: "helmrelease",
    Family.SOURCE: "source",
    Family.NOTIFICATION: "notification",
    Family.IMAGE: "imageautomation",
    Family.OPERATOR: "fluxoperatorobject",
    Family.WORKLOAD: "workload",
}


class Edge(models.Model):
    """A directed relation: ``source`` created/owns/reads-from/depends-on ``target``."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="edges")
    source = models.ForeignKey(KubeObject, on_delete=models.CASCADE, related_name="out_edges")
    target = models.ForeignKey(KubeObject, on_delete=models.CASCADE, related_name="in_edges")
    type = models.CharField(max_length=16, choices=EdgeType.choices)

    # The Flux tree (what inherits permissions, silences and health): Kustomization/HelmRelease → what it created →
    # what that owns. Sources and dependsOn sit beside the tree.
    TREE_TYPES = (EdgeType.CREATED, EdgeType.OWNS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "target", "type"], name="graph_edge_unique")]
        indexes = [models.Index(fields=["cluster", "type"])]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.type}-> {self.target_id}"


class FamilyManager(models.Manager):
    """Restricts a proxy model to one family of kinds."""

    def __init__(self, family: str):
        super().__init__()
        self.family = family

    def get_queryset(self):
        return super().get_queryset().filter(family=self.family)


class Kustomization(KubeObject):
    """Flux Kustomizations (kustomize.toolkit.fluxcd.io)."""

    objects = FamilyManager(Family.KUSTOMIZATION)

    class Meta:
        proxy = True
        verbose_name = "Kustomization"


class HelmRelease(KubeObject):
    """Flux HelmReleases (helm.toolkit.fluxcd.io)."""

    objects = FamilyManager(Family.HELMRELEASE)

    class Meta:
        proxy = True
        verbose_name = "HelmRelease"


class Source(KubeObject):
    """Flux sources: GitRepository, HelmRepository, HelmChart, OCIRepository, Bucket, ExternalArtifact, …"""

    objects = FamilyManager(Family.SOURCE)

    class Meta:
        proxy = True
        verbose_name = "source"


class Notification(KubeObject):
    """Flux notification kinds: Alert, Provider, Receiver."""

    objects = FamilyManager(Family.NOTIFICATION)

    class Meta:
        proxy = True
        verbose_name = "notification object"


class ImageAutomation(KubeObject):
    """Flux image automation: ImageRepository, ImagePolicy, ImageUpdateAutomation."""

    objects = FamilyManager(Family.IMAGE)

    class Meta:
        proxy = True
        verbose_name = "image automation object"
        verbose_name_plural = "image automation"


class FluxOperatorObject(KubeObject):
    """The Flux Operator's kinds (fluxcd.controlplane.io): FluxInstance, FluxReport, ResourceSet and
    ResourceSetInputProvider."""

    objects = FamilyManager(Family.OPERATOR)

    class Meta:
        proxy = True
        verbose_name = "Flux Operator object"


class Workload(KubeObject):
    """Deployments, StatefulSets, DaemonSets, ReplicaSets, Pods, Jobs and CronJobs Flux created."""

    objects = FamilyManager(Family.WORKLOAD)

    class Meta:
        proxy = True
        verbose_name = "workload"
