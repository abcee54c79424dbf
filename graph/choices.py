"""Choice lists of the graph app."""

from django.db import models


class HealthChoices(models.TextChoices):
    """Health words stored on mirrored objects (the rules are in graph.health)."""

    HEALTHY = "healthy", "healthy"
    PROGRESSING = "progressing", "progressing"
    DEGRADED = "degraded", "degraded"
    FAILED = "failed", "failed"
    SUSPENDED = "suspended", "suspended"
    UNKNOWN = "unknown", "unknown"


class EdgeType(models.TextChoices):
    """How two mirrored objects are related."""

    CREATED = "created", "created"  # a Kustomization/HelmRelease applied the target (labels, status.inventory)
    OWNS = "owns", "owns"  # ownerReferences (Deployment → ReplicaSet → Pod)
    SOURCE = "source", "source"  # the source reads from (sourceRef, chart sourceRef, chartRef)
    DEPENDS_ON = "depends-on", "depends on"  # spec.dependsOn


class Family(models.TextChoices):
    """Groups of kinds shown together in the admin (one proxy model per family)."""

    KUSTOMIZATION = "kustomization", "Kustomizations"
    HELMRELEASE = "helmrelease", "HelmReleases"
    SOURCE = "source", "Sources"
    NOTIFICATION = "notification", "Notifications"
    IMAGE = "image", "Image automation"
    OPERATOR = "operator", "Flux Operator"
    WORKLOAD = "workload", "Workloads"
    OTHER = "other", "Other objects"
