"""The simulator and kubectl fixtures of tests/simulator, for the chart's server-side dry run; the graph tests'
Flux-tree simulator and Cluster, for recording what the code asks of the API (test_api_access.py)."""

from tests.graph.conftest import cluster, no_stale_sync_locks, simulator, tree_sim  # noqa: F401
from tests.simulator.conftest import api, kube_home, kubectl, sim  # noqa: F401
