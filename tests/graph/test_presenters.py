"""What an object page says first about an object (graph/presenters.key_status): table-driven on real shapes."""

from __future__ import annotations

import pytest

from graph.choices import Family
from graph.models import KubeObject
from graph.presenters import key_status


def _obj(kind: str, family: str, generation: int | None, observed: int | None, status: dict | None = None):
    return KubeObject(kind=kind, family=family, name="x", namespace="apps", generation=generation,
                      observed_generation=observed, status=status or {}, spec={})


@pytest.mark.parametrize("kind, family, generation, observed, expected", [
    # Flux kinds and workload controllers report status.observedGeneration: its absence means "not yet"
    ("Kustomization", Family.KUSTOMIZATION, 2, None, "not yet observed (generation 2)"),
    ("HelmRelease", Family.HELMRELEASE, 3, 3, "3 of 3 (up to date)"),
    ("Deployment", Family.WORKLOAD, 5, 4, "4 of 5 (catching up)"),
    ("Deployment", Family.WORKLOAD, 1, None, "not yet observed (generation 1)"),
    # Pods, ConfigMaps, Services never report it: no row, rather than a line that reads as stuck
    ("Pod", Family.WORKLOAD, 1, None, None),
    ("ConfigMap", Family.OTHER, 1, None, None),
    ("Service", Family.OTHER, 1, None, None),
])
def test_observed_generation_is_shown_only_for_kinds_that_report_it(kind, family, generation, observed, expected):
    rows = dict(key_status(_obj(kind, family, generation, observed)))
    assert rows.get("Observed generation") == expected
