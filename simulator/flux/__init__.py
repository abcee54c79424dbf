"""Simulated Flux controllers for the local cluster simulator.

source-controller (GitRepository from a local git repository, HelmRepository / OCIRepository / HelmChart from
the demo chart catalog), kustomize-controller (real `kubectl kustomize` builds) and helm-controller (catalog
charts rendered in Python), writing status the way the real controllers do. See docs/flux-simulation.md.

    sim = Simulator()
    flux = add_flux_controllers(sim, Path("/tmp/work"))
    sim.start()
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import Simulator
from .common import Applier
from .events import EventRecorder
from .helm import HelmController
from .kustomize import KustomizeController
from .operator import FluxOperatorController, operator_crds
from .registry_oci import OCIRegistry
from .source import ArtifactStorage, SourceController

__all__ = ["FluxControllers", "add_flux_controllers", "add_flux_operator"]


@dataclass
class FluxControllers:
    """Handles on the controllers added to a simulator (tests read their state; stop() ends the webhook thread)."""

    source: SourceController
    kustomize: KustomizeController
    helm: HelmController
    recorder: EventRecorder
    storage: ArtifactStorage
    applier: Applier
    registry: OCIRegistry

    def stop(self) -> None:
        self.recorder.close()


def add_flux_controllers(sim: Simulator, workdir: Path | str, event_webhook_url: str | None = None,
                         dependency_requeue: float = 5.0) -> FluxControllers:
    """Add source-, kustomize- and helm-controller to `sim`; artifacts are cached under `workdir/artifacts`.

    `event_webhook_url`, if given, receives every event as notification-controller's generic provider would
    post it. `dependency_requeue` is how soon an object waiting on a dependency or source is retried (Flux's
    `--requeue-dependency`; dependents are also woken as soon as what they wait on becomes Ready).
    """
    storage = ArtifactStorage(Path(workdir) / "artifacts")
    registry = OCIRegistry(Path(workdir) / "registry")  # what `flux push artifact` publishes to
    recorder = EventRecorder(sim.store, event_webhook_url)
    applier = Applier(sim.store)
    source = SourceController(storage, recorder, registry)
    kustomize = KustomizeController(storage, recorder, applier, dependency_requeue)
    helm = HelmController(recorder, applier, dependency_requeue)
    for c in (source, kustomize, helm):
        sim.add_controller(c)
    return FluxControllers(source, kustomize, helm, recorder, storage, applier, registry)


def add_flux_operator(sim: Simulator, flux: FluxControllers, dependency_requeue: float = 5.0) -> FluxOperatorController:
    """Install the Flux Operator's CRDs (fluxcd.controlplane.io/v1) and run its simulated controller beside `flux`."""
    for crd in operator_crds():
        if sim.store.peek("customresourcedefinitions", None, crd["metadata"]["name"]) is None:
            sim.store.create(crd)
    operator = FluxOperatorController(flux.recorder, flux.applier, dependency_requeue)
    sim.add_controller(operator)
    return operator
