"""The simulator's catalogue of API resources: built-in kinds, Flux kinds and kinds registered by CRDs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


@dataclass
class ResourceType:
    """One served resource (group/version/plural) and how the simulator treats it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status: bool = True  # has a status subresource: main-resource writes keep the old status
    scale: bool = False
    # Extra printer columns as (name, type, jsonPath); CRDs bring their own.
    columns: list[tuple[str, str, str]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # every served version (CRDs may serve several)
    from_crd: str | None = None  # name of the CRD that registered it

    def __post_init__(self) -> None:
        if not self.versions:
            self.versions = [self.version]

    @property
    def key(self) -> str:
        """Storage key: one bucket per group and plural, whatever the version."""
        return f"{self.group}/{self.plural}"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def group_version(self, version: str | None = None) -> str:
        v = version or self.version
        return f"{self.group}/{v}" if self.group else v

    def discovery(self) -> list[dict]:
        """APIResource entries for this resource and its subresources."""
        out = [{
            "name": self.plural, "singularName": self.singular, "namespaced": self.namespaced, "kind": self.kind,
            "verbs": ALL_VERBS, "storageVersionHash": "",
        }]
        if self.short_names:
            out[0]["shortNames"] = self.short_names
        if self.categories:
            out[0]["categories"] = self.categories
        if self.status:
            out.append({"name": f"{self.plural}/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": SUB_VERBS})
        if self.scale:
            out.append({"name": f"{self.plural}/scale", "singularName": "", "namespaced": self.namespaced,
                        "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": SUB_VERBS})
        return out


def _rt(group: str, version: str, kind: str, plural: str, namespaced: bool = True, short: str = "",
        cats: str = "", status: bool = True, scale: bool = False) -> ResourceType:
    return ResourceType(group, version, kind, plural, namespaced, short.split() if short else [],
                        cats.split() if cats else [], status, scale)


BUILTINS: list[ResourceType] = [
    _rt("", "v1", "Namespace", "namespaces", False, "ns"),
    _rt("", "v1", "Node", "nodes", False, "no"),
    _rt("", "v1", "ConfigMap", "configmaps", short="cm", status=False),
    _rt("", "v1", "Secret", "secrets", status=False),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short="sa", status=False),
    _rt("", "v1", "Service", "services", short="svc", cats="all"),
    _rt("", "v1", "Pod", "pods", short="po", cats="all"),
    _rt("", "v1", "Event", "events", short="ev", status=False),
    # events.k8s.io/v1 Events: a separate store here (the real server serves the core ones under both groups).
    _rt("events.k8s.io", "v1", "Event", "events", short="ev", status=False),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short="pvc"),
    _rt("", "v1", "Endpoints", "endpoints", short="ep", status=False),
    _rt("apps", "v1", "Deployment", "deployments", short="deploy", cats="all", scale=True),
    _rt("apps", "v1", "ReplicaSet", "replicasets", short="rs", cats="all", scale=True),
    _rt("apps", "v1", "StatefulSet", "statefulsets", short="sts", cats="all", scale=True),
    _rt("apps", "v1", "DaemonSet", "daemonsets", short="ds", cats="all"),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions", status=False),
    _rt("batch", "v1", "Job", "jobs", cats="all"),
    _rt("batch", "v1", "CronJob", "cronjobs", short="cj", cats="all"),
    _rt("rbac.authorization.k8s.io", "v1", "Role", "roles", status=False),
    _rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", status=False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, status=False),
    _rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False, status=False),
    _rt("networking.k8s.io", "v1", "Ingress", "ingresses", short="ing"),
    _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short="netpol", status=False),
    _rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short="pdb"),
    _rt("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short="hpa", cats="all"),
    _rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
        short="crd crds"),
    # The other GA kinds of Kubernetes 1.34+ a repository may apply (served, stored, listed; no controllers).
    _rt("", "v1", "PersistentVolume", "persistentvolumes", False, "pv"),
    _rt("", "v1", "LimitRange", "limitranges", short="limits", status=False),
    _rt("", "v1", "ResourceQuota", "resourcequotas", short="quota"),
    _rt("", "v1", "ReplicationController", "replicationcontrollers", short="rc", cats="all"),
    _rt("", "v1", "PodTemplate", "podtemplates", status=False),
    _rt("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", status=False),
    _rt("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False, status=False),
    _rt("networking.k8s.io", "v1", "IPAddress", "ipaddresses", False, "ip", status=False),
    _rt("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", False),
    _rt("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, "sc", status=False),
    _rt("storage.k8s.io", "v1", "CSIDriver", "csidrivers", False, status=False),
    _rt("storage.k8s.io", "v1", "CSINode", "csinodes", False, status=False),
    _rt("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", status=False),
    _rt("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", False),
    _rt("storage.k8s.io", "v1", "VolumeAttributesClass", "volumeattributesclasses", False, "vac", status=False),
    _rt("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, "pc", status=False),
    _rt("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", False, status=False),
    _rt("coordination.k8s.io", "v1", "Lease", "leases", status=False),
    _rt("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", False, "csr"),
    _rt("apiregistration.k8s.io", "v1", "APIService", "apiservices", False),
    _rt("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", False),
    _rt("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", False),
    _rt("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
        False, status=False),
    _rt("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
        False, status=False),
    _rt("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    _rt("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
        "validatingadmissionpolicybindings", False, status=False),
    _rt("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies", False,
        status=False),
    _rt("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings",
        False, status=False),
    _rt("resource.k8s.io", "v1", "DeviceClass", "deviceclasses", False, status=False),
    _rt("resource.k8s.io", "v1", "ResourceClaim", "resourceclaims"),
    _rt("resource.k8s.io", "v1", "ResourceClaimTemplate", "resourceclaimtemplates", status=False),
    _rt("resource.k8s.io", "v1", "ResourceSlice", "resourceslices", False, status=False),
]

_READY = ('.status.conditions[?(@.type=="Ready")].status')
_STATUS = ('.status.conditions[?(@.type=="Ready")].message')

# (group, version, kind, plural, short names, extra category, extra columns before Age/Ready/Status)
FLUX_KINDS: list[tuple[str, str, str, str, str, str, list[tuple[str, str, str]]]] = [
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations", "ks", "fluxcd-appliers", []),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases", "hr", "fluxcd-appliers", []),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories", "gitrepo", "fluxcd-sources",
     [("URL", "string", ".spec.url")]),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories", "helmrepo", "fluxcd-sources",
     [("URL", "string", ".spec.url")]),
    ("source.toolkit.fluxcd.io", "v1", "HelmChart", "helmcharts", "hc", "fluxcd-sources",
     [("Chart", "string", ".spec.chart"), ("Version", "string", ".spec.version"),
      ("Source Kind", "string", ".spec.sourceRef.kind"), ("Source Name", "string", ".spec.sourceRef.name")]),
    ("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories", "ocirepo", "fluxcd-sources",
     [("URL", "string", ".spec.url")]),
    ("source.toolkit.fluxcd.io", "v1", "Bucket", "buckets", "", "fluxcd-sources",
     [("Endpoint", "string", ".spec.endpoint")]),
    ("source.toolkit.fluxcd.io", "v1", "ExternalArtifact", "externalartifacts", "ea", "fluxcd-sources",
     [("Source", "string", ".spec.sourceRef.name")]),
    ("source.extensions.fluxcd.io", "v1beta1", "ArtifactGenerator", "artifactgenerators", "ag", "fluxcd-sources", []),
    ("notification.toolkit.fluxcd.io", "v1beta3", "Alert", "alerts", "", "fluxcd-notifications", []),
    ("notification.toolkit.fluxcd.io", "v1beta3", "Provider", "providers", "", "fluxcd-notifications", []),
    ("notification.toolkit.fluxcd.io", "v1", "Receiver", "receivers", "", "fluxcd-notifications", []),
    ("image.toolkit.fluxcd.io", "v1", "ImageRepository", "imagerepositories", "imgrepo imagerepo",
     "fluxcd-images", [("Image", "string", ".spec.image")]),
    ("image.toolkit.fluxcd.io", "v1", "ImagePolicy", "imagepolicies", "imgpol imagepol", "fluxcd-images",
     [("Image", "string", ".spec.imageRepositoryRef.name")]),
    ("image.toolkit.fluxcd.io", "v1", "ImageUpdateAutomation", "imageupdateautomations", "iua imgupd imgauto",
     "fluxcd-images", []),
]


def flux_crds() -> list[dict]:
    """CustomResourceDefinition objects for every Flux 2.9 kind, as `flux install` would create them."""
    crds = []
    for group, version, kind, plural, short, cat, extra in FLUX_KINDS:
        cols = [{"name": n, "type": t, "jsonPath": p} for n, t, p in extra]
        cols += [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                 {"name": "Ready", "type": "string", "jsonPath": _READY},
                 {"name": "Status", "type": "string", "jsonPath": _STATUS}]
        crds.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": {
                "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/instance": "flux-system"}},
            "spec": {
                "group": group, "scope": "Namespaced",
                "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower(),
                          "shortNames": short.split(), "categories": ["all", "fluxcd", cat]},
                "versions": [{"name": version, "served": True, "storage": True,
                              "subresources": {"status": {}}, "additionalPrinterColumns": cols,
                              "schema": {"openAPIV3Schema": {"type": "object",
                                                             "x-kubernetes-preserve-unknown-fields": True}}}],
            },
        })
    return crds


def types_from_crd(crd: dict) -> list[ResourceType]:
    """The ResourceTypes a CRD serves: one per served version, sharing one storage bucket."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not served or not names.get("kind") or not names.get("plural") or not spec.get("group"):
        return []
    storage = next((v["name"] for v in served if v.get("storage")), served[0]["name"])
    out = []
    for v in served:
        cols = [(c["name"], c.get("type", "string"), c["jsonPath"]) for c in v.get("additionalPrinterColumns") or []
                if c.get("name") and c.get("jsonPath")]
        rt = ResourceType(
            spec["group"], v["name"], names["kind"], names["plural"], spec.get("scope", "Namespaced") == "Namespaced",
            list(names.get("shortNames") or []), list(names.get("categories") or []),
            status="status" in (v.get("subresources") or {}), scale="scale" in (v.get("subresources") or {}),
            columns=cols, versions=[x["name"] for x in served], from_crd=crd["metadata"]["name"])
        rt.storage_version = storage  # type: ignore[attr-defined]
        out.append(rt)
    return out


class Registry:
    """Thread-safe map from (group, version, plural) and (group, kind) to ResourceType."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        for rt in BUILTINS:
            self.add(rt)

    def add(self, rt: ResourceType) -> None:
        with self._lock:
            self._by_gvr[(rt.group, rt.version, rt.plural)] = rt

    def register_crd(self, crd: dict) -> list[ResourceType]:
        """(Re)register the kinds a CRD serves; returns them."""
        with self._lock:
            self.unregister_crd(crd["metadata"]["name"])
            types = types_from_crd(crd)
            for rt in types:
                self.add(rt)
            return types

    def unregister_crd(self, name: str) -> list[ResourceType]:
        with self._lock:
            gone = [k for k, rt in self._by_gvr.items() if rt.from_crd == name]
            return [self._by_gvr.pop(k) for k in gone]

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._by_gvr.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        return None

    def by_key(self, key: str) -> ResourceType | None:
        """The preferred (storage) version's type for a storage key `group/plural`."""
        group, _, plural = key.rpartition("/")
        with self._lock:
            cands = [rt for rt in self._by_gvr.values() if rt.group == group and rt.plural == plural]
        for rt in cands:
            if getattr(rt, "storage_version", rt.version) == rt.version:
                return rt
        return cands[0] if cands else None

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._by_gvr.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions, preferred first (core group excluded)."""
        out: dict[str, list[str]] = {}
        with self._lock:
            for rt in self._by_gvr.values():
                if rt.group:
                    vs = out.setdefault(rt.group, [])
                    if rt.version not in vs:
                        vs.append(rt.version)
        for vs in out.values():
            vs.sort(key=_version_priority)
        return out


def _version_priority(v: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0)
    major, stage, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -major, -minor)
