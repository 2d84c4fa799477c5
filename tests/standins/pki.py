"""Test PKI made with the openssl command line: CAs and server certificates with RSA or
ECDSA keys, DNS and IP SANs, and chosen validity windows (expired, not yet valid).

    ca = CA(tmpdir, "test-ca")                  # RSA CA
    crt, key = ca.issue("srv", dns=["localhost"], ips=["127.0.0.1"], key="ec")
    crt, key = ca.issue("old", ips=["127.0.0.1"], start="20200101000000Z", end="20200201000000Z")
"""
import os
import subprocess

_CA_CONF = """
[ ca ]
default_ca = testca
[ testca ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
[ ext ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = @alt
[ alt ]
{alt}
"""


def _run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_key(path, kind):
    if kind == "rsa":
        _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    elif kind == "ec":
        _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    else:
        raise ValueError(kind)
    return path


class CA:
    def __init__(self, directory, name="ecr-refresh test CA", key="rsa"):
        self.dir = os.path.join(directory, name.replace(" ", "_"))
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.key_path = make_key(os.path.join(self.dir, "ca.key"), key)
        self.cert_path = os.path.join(self.dir, "ca.crt")
        _run("openssl", "req", "-x509", "-new", "-key", self.key_path, "-sha256", "-days", "3650",
             "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:true",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.cert_path)
        self._n = 0

    def issue(self, name, dns=(), ips=(), key="rsa", days=365, start=None, end=None, client=False):
        """Returns (cert_path, key_path). start/end are openssl times like 20200101000000Z."""
        self._n += 1
        base = os.path.join(self.dir, "%s-%d" % (name, self._n))
        key_path = make_key(base + ".key", key)
        csr = base + ".csr"
        _run("openssl", "req", "-new", "-key", key_path, "-subj", "/CN=" + name, "-out", csr)
        alt = [("DNS.%d = %s" % (i + 1, d)) for i, d in enumerate(dns)]
        alt += [("IP.%d = %s" % (i + 1, a)) for i, a in enumerate(ips)]
        if not alt:
            alt = ["DNS.1 = %s" % name]
        conf = base + ".cnf"
        text = _CA_CONF.format(dir=self.dir, alt="\n".join(alt))
        if client:
            text = text.replace("extendedKeyUsage = serverAuth", "extendedKeyUsage = serverAuth, clientAuth")
        with open(conf, "w") as f:
            f.write(text)
        cert_path = base + ".crt"
        args = ["openssl", "ca", "-batch", "-config", conf, "-extensions", "ext", "-notext",
                "-keyfile", self.key_path, "-cert", self.cert_path, "-in", csr, "-out", cert_path]
        if start or end:
            args += ["-startdate", start or "20200101000000Z", "-enddate", end or "20991231000000Z"]
        else:
            args += ["-days", str(days)]
        _run(*args)
        return cert_path, key_path
