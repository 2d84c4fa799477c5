"""pytest fixtures for the local AWS stand-in (tests/standins/awsstub.py).

    def test_x(aws_stub):                    # fresh stub, regions us-east-1 + eu-west-1
        env = {**aws_stub.env(), **aws_stub.env_static_keys()}

    @pytest.mark.aws_stub(regions=["us-west-2"], key="ec")
    def test_y(aws_stub): ...                # marker kwargs go to AwsStub(...)

    def test_z(aws_stub_factory):            # several stubs, or chosen arguments
        a = aws_stub_factory(regions=["cn-north-1"])

    def test_w(aws_stub_module):             # one stub per module, reset() before each use

The CA is made once per session (key generation is the slow part) and every stub is stopped
at the end of the test (or module) that started it. A stub that hit an internal error fails
the test at teardown, so a broken stand-in never passes silently.
"""
import pytest

import awsstub
import pki


def pytest_configure(config):
    config.addinivalue_line("markers", "aws_stub(**kwargs): arguments for the aws_stub fixture's AwsStub")


@pytest.fixture(scope="session")
def aws_test_ca(tmp_path_factory):
    """The CA that signs the stub's server certificates (its PEM is stub.ca_path)."""
    return pki.CA(str(tmp_path_factory.mktemp("aws-ca")), "ecr-refresh AWS stub CA")


def _check_clean(stub):
    errors = list(stub.server_errors)
    assert not errors, "AWS stub internal errors: %s" % errors


@pytest.fixture
def aws_stub_factory(tmp_path, aws_test_ca):
    """Call with AwsStub keyword arguments; returns a started stub, stopped at teardown."""
    stubs = []

    def make(**kwargs):
        kwargs.setdefault("ca", aws_test_ca)
        stub = awsstub.AwsStub(str(tmp_path / ("aws-stub-%d" % len(stubs))), **kwargs)
        stubs.append(stub)
        return stub.start()

    yield make
    for stub in stubs:
        stub.stop()
    for stub in stubs:
        _check_clean(stub)


@pytest.fixture
def aws_stub(request, aws_stub_factory):
    marker = request.node.get_closest_marker("aws_stub")
    return aws_stub_factory(**(marker.kwargs if marker else {}))


@pytest.fixture(scope="module")
def aws_stub_module(tmp_path_factory, aws_test_ca):
    stub = awsstub.AwsStub(str(tmp_path_factory.mktemp("aws-stub-module")), ca=aws_test_ca).start()
    yield stub
    stub.stop()
    _check_clean(stub)


@pytest.fixture
def aws_stub_shared(aws_stub_module):
    """The module's stub with faults, log and counters cleared before the test."""
    aws_stub_module.reset()
    aws_stub_module.set_tls_mode("good")
    return aws_stub_module
