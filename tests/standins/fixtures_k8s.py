"""pytest fixtures for the real kube-apiserver (tests/standins/k8s_cluster.py) and the fault proxy
in front of it (tests/standins/faultproxy.py).

    def test_x(k8s_cluster, k8s_fault_proxy, tmp_path):
        ns = k8s_cluster.unique_namespace("x")
        k8s_cluster.setup_identity([ns])
        sa = k8s_cluster.make_sa_dir(str(tmp_path / "sa"), "ecr-refresh-system")
        proxy = k8s_fault_proxy(p429=0.3, seed=1)
        env = k8s_cluster.env(sa, port=proxy.port)

The cluster starts once per pytest run. It is never skipped: a missing apiserver or etcd
fails the tests that ask for it, saying what is missing.
"""
import pytest

from faultproxy import FaultProxy
from k8s_cluster import Cluster, ClusterError


@pytest.fixture(scope="session")
def k8s_cluster(tmp_path_factory):
    cluster = Cluster(str(tmp_path_factory.mktemp("k8s")))
    error = None
    try:
        cluster.start()
    except ClusterError as e:
        error = str(e)
    if error is not None:
        cluster.stop()
        pytest.fail("cannot start the test Kubernetes API server: %s" % error, pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def k8s_fault_proxy(k8s_cluster):
    """Factory: k8s_fault_proxy(p429=, p503=, pdrop=, seed=, plan=, only=) -> a started
    FaultProxy in front of the session cluster, stopped when the test ends."""
    proxies = []

    def make(**kw):
        proxy = FaultProxy(k8s_cluster, **kw).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()
