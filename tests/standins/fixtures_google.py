"""pytest fixtures for the Google stand-in (tests/standins/googlestub.py).

    def test_x(google_stub):      # token endpoint + metadata server, a fresh key
        env = {"GOOGLE_APPLICATION_CREDENTIALS": google_stub.key_path,
               "SSL_CERT_FILE": google_stub.ca_path}
"""
import pytest

import googlestub
import pki


@pytest.fixture(scope="session")
def google_test_ca(tmp_path_factory):
    return pki.CA(str(tmp_path_factory.mktemp("google-ca")), "ecr-refresh Google stub CA")


@pytest.fixture
def google_stub(tmp_path, google_test_ca):
    stub = googlestub.GoogleStub(str(tmp_path / "google"), google_test_ca).start()
    yield stub
    stub.stop()
