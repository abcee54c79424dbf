"""The simulator and kubectl fixtures of tests/simulator, for the chart's server-side dry run."""

from tests.simulator.conftest import api, kube_home, kubectl, sim  # noqa: F401
