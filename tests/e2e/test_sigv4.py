"""Differential test: our sigv4 (via tests/tools/sigv4sign) against botocore's SigV4Auth.

A few thousand random requests from a seeded generator are signed by both; the
Authorization values and the canonical requests must be equal byte for byte. The driver runs
once, over all of them. ECR_BUILD names the build folder (default "build").

The generator keeps to inputs that have one right answer, and where botocore takes its input
in a different form than the wire, it gets the equivalent form:
- Methods are upper case: botocore upper-cases the method, we sign it as sent (HTTP methods
  are case-sensitive, RFC 9110 section 9.1).
- Paths are valid wire paths (pchar and %XX only): botocore quotes what urlsplit gives
  it, which is the same double encoding for those. For S3 (normalize=false, S3SigV4Auth
  uses the path verbatim) the paths are already in canonical form (only unreserved bytes
  raw, every %XX upper case and of a reserved byte), since botocore always sends them so.
- Queries: botocore's URL-query path sorts the raw pairs without decoding or re-encoding
  (its own requests are already canonical), so it is given the decoded parameters
  (AWSRequest.params) and canonicalises them with quote(); we are given a wire query that
  encodes the same parameters in varied legal ways (raw or %xx/%XX unreserved and
  sub-delims, raw UTF-8). "+" is always encoded, since servers differ on whether a raw "+"
  means a space. Empty pieces ("a&&b") are sent only to our side, where they are no
  parameter.
- Headers never include Date, Authorization, X-Amz-Date or X-Amz-Security-Token (botocore
  sets or replaces those itself; we pass the values it sets) nor the names botocore never
  signs (expect, user-agent, x-amzn-trace-id): sigv4 signs every header it is given.
  Values are printable ASCII with runs of SP/HTAB and, rarely, obs-fold line breaks.
- An x-amz-content-sha256 header, when present, has no surrounding blanks: botocore uses its
  raw value as the payload hash, we use the trimmed value.
"""
import datetime
import hashlib
import json
import os
import random
import subprocess
import types

import pytest

from conftest import ROOT

import botocore.auth
import botocore.awsrequest
import botocore.credentials

BUILD = os.path.join(ROOT, os.environ.get("ECR_BUILD", "build"))
SIGNER = os.path.join(BUILD, "tools", "sigv4sign")
SEED = 20150830
COUNT = 3000

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
SUB_DELIMS = "!$&'()*+,;="
TCHAR_EXTRA = "!#$%&'*+-.^_`|~"
NON_ASCII = ["\u00e9", "\u1234", "\U0001f600", "\u00a0"]
HEADER_NAMES = ["My-Header1", "X-Custom", "content-type", "X-Amz-Meta-Foo", "X-Amz-Target",
                "Accept", "a", "Z" + TCHAR_EXTRA + "9", "x-amz-meta-%x", "X-" + "long" * 20]


class _Signers:
    """SigV4Auth / S3SigV4Auth that keep the canonical request they built."""

    class V4(botocore.auth.SigV4Auth):
        def canonical_request(self, request):
            self.last = super().canonical_request(request)
            return self.last

    class S3(botocore.auth.S3SigV4Auth):
        def canonical_request(self, request):
            self.last = super().canonical_request(request)
            return self.last


def _mixed_case(rng, name):
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)


def _pct(byte, rng):
    text = "%%%02X" % byte
    return text.lower() if rng.random() < 0.3 else text


def _wire_path(rng):
    """A valid origin-form path with dot and empty segments, sub-delims and %XX."""
    segments = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.random()
        if kind < 0.12:
            segments.append("")
        elif kind < 0.22:
            segments.append(".")
        elif kind < 0.34:
            segments.append("..")
        elif kind < 0.38:
            segments.append(rng.choice(["...", ".x", "x.", "..x"]))
        else:
            seg = []
            for _ in range(rng.randint(1, 8)):
                r = rng.random()
                if r < 0.6:
                    seg.append(rng.choice(UNRESERVED))
                elif r < 0.8:
                    seg.append(rng.choice(SUB_DELIMS + ":@"))
                else:
                    seg.append(_pct(rng.randrange(256), rng))
            segments.append("".join(seg))
    path = "/" + "/".join(segments)
    if segments and rng.random() < 0.3:
        path += "/"
    return path


def _canonical_s3_path(rng):
    """An S3 path already in canonical form (what botocore itself would send)."""
    segments = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.1:
            segments.append(rng.choice(["", ".", ".."]))
            continue
        seg = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.7:
                seg.append(rng.choice(UNRESERVED))
            else:
                byte = rng.randrange(256)
                while chr(byte) in UNRESERVED:
                    byte = rng.randrange(256)
                seg.append("%%%02X" % byte)
        segments.append("".join(seg))
    return "/" + "/".join(segments) + ("/" if rng.random() < 0.2 else "")


def _query_text(rng):
    """A decoded parameter name or value."""
    out = []
    for _ in range(rng.randint(0, 7)):
        r = rng.random()
        if r < 0.55:
            out.append(rng.choice(UNRESERVED))
        elif r < 0.85:
            out.append(rng.choice(SUB_DELIMS + ":@/? &=+#%"))
        else:
            out.append(rng.choice(NON_ASCII))
    return "".join(out)


def _wire_query_part(rng, text, is_name):
    out = []
    for ch in text:
        data = ch.encode("utf-8")
        if ch in UNRESERVED:
            out.append(ch if rng.random() < 0.8 else _pct(ord(ch), rng))
        elif ch in "!$'()*,;:@/?" or (ch == "=" and not is_name):
            out.append(ch if rng.random() < 0.5 else _pct(ord(ch), rng))
        elif len(data) > 1 and rng.random() < 0.3:
            out.append(ch)     # raw UTF-8, as the get-vanilla-utf8-query vector sends
        else:
            out.append("".join(_pct(b, rng) for b in data))
    return "".join(out)


def _query(rng):
    params, pieces = [], []
    pool = [_query_text(rng) or "k" for _ in range(3)]
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8])):
        name = rng.choice(pool) if rng.random() < 0.4 else _query_text(rng)
        if name == "" and rng.random() < 0.8:
            name = "n"
        value = _query_text(rng) if rng.random() < 0.75 else ""
        params.append((name, value))
        piece = _wire_query_part(rng, name, True)
        if value or not name or rng.random() < 0.5:    # "" alone would be no parameter
            piece += "=" + _wire_query_part(rng, value, False)
        pieces.append(piece)
        if rng.random() < 0.05:
            pieces.append("")         # "a&&b": an empty piece, no parameter
    return params, "&".join(pieces)


def _header_value(rng):
    out = []
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.2:
            out.append(rng.choice([" ", "  ", "\t", " \t  "]))
        elif r < 0.23:
            out.append(rng.choice(["\r\n ", "\n\t", "\r\n   "]))
        else:
            out.append("".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(1, 6))))
    value = "".join(out)
    # an obs-fold must not end the value (a line break is only a fold before SP/HTAB)
    return value.rstrip("\r\n")


def _random_request(rng, index):
    normalize = rng.random() < 0.85
    body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 0, 1, 2, 17, 64, 300])))
    stamp = datetime.datetime(1990, 1, 1) + datetime.timedelta(seconds=rng.randrange(110 * 365 * 86400))
    amz_date = stamp.strftime("%Y%m%dT%H%M%SZ")
    params, query = _query(rng)
    headers = [[rng.choice(["Host", "host", "HOST"]),
                rng.choice(["example.amazonaws.com", "api.ecr.us-east-1.amazonaws.com", "127.0.0.1:8443"])]]
    for _ in range(rng.randint(0, 8)):
        if headers[1:] and rng.random() < 0.3:
            name = _mixed_case(rng, rng.choice(headers[1:])[0])   # a repeated name
        else:
            name = rng.choice(HEADER_NAMES)
            if "%x" in name:
                name = name.replace("%x", str(rng.randrange(100)))
            name = _mixed_case(rng, name)
        headers.append([name, _header_value(rng)])
    if normalize and rng.random() < 0.1:
        headers.append([_mixed_case(rng, "x-amz-content-sha256"),
                        rng.choice(["UNSIGNED-PAYLOAD", hashlib.sha256(body).hexdigest()])])
    token = None
    if rng.random() < 0.3:
        token = "".join(rng.choice(UNRESERVED + "/+=") for _ in range(rng.randint(16, 300)))
    return {
        "index": index,
        "method": rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
        "path": _wire_path(rng) if normalize else _canonical_s3_path(rng),
        "params": params,
        "query": query,
        "headers": headers,
        "body": body,
        "key": "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(rng.randint(16, 20))),
        "secret": "".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(20, 60))),
        "token": token,
        "region": rng.choice(["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "ap-southeast-5"]),
        "service": rng.choice(["ecr", "sts", "s3", "execute-api", "service"]) if normalize else "s3",
        "amz_date": amz_date,
        "stamp": stamp,
        "normalize": normalize,
    }


def _botocore_sign(case, monkeypatch):
    stamp = case["stamp"]

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return cls(stamp.year, stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    monkeypatch.setattr(botocore.auth, "datetime", types.SimpleNamespace(datetime=Frozen))
    request = botocore.awsrequest.AWSRequest(
        method=case["method"], url="http://example.amazonaws.com" + case["path"],
        data=case["body"], params=list(case["params"]))
    for name, value in case["headers"]:
        request.headers[name] = value          # HTTPHeaders appends: repeats are kept
    credentials = botocore.credentials.Credentials(case["key"], case["secret"], case["token"])
    signer_class = _Signers.V4 if case["normalize"] else _Signers.S3
    signer = signer_class(credentials, case["service"], case["region"])
    signer.add_auth(request)
    return request.headers["Authorization"], signer.last


def _driver_line(case, output):
    headers = list(case["headers"]) + [["X-Amz-Date", case["amz_date"]]]
    if case["token"]:
        headers.append(["X-Amz-Security-Token", case["token"]])
    if not case["normalize"]:
        # S3SigV4Auth adds the payload hash header and signs it
        headers.append(["X-Amz-Content-SHA256", hashlib.sha256(case["body"]).hexdigest()])
    return json.dumps({
        "method": case["method"], "path": case["path"], "query": case["query"],
        "headers": headers, "body_hex": case["body"].hex(), "key": case["key"],
        "secret": case["secret"], "region": case["region"], "service": case["service"],
        "amz_date": case["amz_date"], "normalize": case["normalize"], "output": output,
    })


def _run_driver(lines):
    if not os.access(SIGNER, os.X_OK):
        pytest.fail(f"{SIGNER} is not built (make {os.path.relpath(SIGNER, ROOT)})")
    proc = subprocess.run([SIGNER], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.split("\n")
    assert out[-1] == ""
    assert len(out) - 1 == len(lines), "the driver must print one line per request"
    return out[:-1]


def _describe(case):
    shown = {k: case[k] for k in ("index", "method", "path", "query", "params", "headers",
                                  "region", "service", "amz_date", "normalize")}
    shown["body_len"] = len(case["body"])
    shown["token"] = bool(case["token"])
    return repr(shown)


def test_differential_against_botocore(monkeypatch):
    rng = random.Random(SEED)
    cases = [_random_request(rng, i) for i in range(COUNT)]
    expected = [_botocore_sign(case, monkeypatch) for case in cases]
    lines = []
    for case in cases:
        lines.append(_driver_line(case, "authorization"))
        lines.append(_driver_line(case, "canonical"))
    got = _run_driver(lines)

    mismatches = []
    for i, case in enumerate(cases):
        authorization, canonical = got[2 * i], got[2 * i + 1]
        want_authorization, want_canonical = expected[i]
        ours_canonical = json.loads(canonical) if canonical.startswith('"') else canonical
        if authorization != want_authorization or ours_canonical != want_canonical:
            mismatches.append(
                f"{_describe(case)}\n  botocore creq {want_canonical!r}\n  ours     creq "
                f"{ours_canonical!r}\n  botocore {want_authorization}\n  ours     {authorization}")
    assert not mismatches, f"{len(mismatches)} of {COUNT} differ; first ones:\n" + "\n".join(mismatches[:5])

    # The generator must have produced the classes it claims to.
    assert sum(1 for c in cases if not c["normalize"]) > COUNT // 10
    assert sum(1 for c in cases if "/../" in c["path"] or c["path"].endswith("/..")) > COUNT // 20
    assert sum(1 for c in cases if "%" in c["path"]) > COUNT // 5
    assert sum(1 for c in cases if len({n for n, _ in c["params"]}) < len(c["params"])) > COUNT // 50
    assert sum(1 for c in cases if any(v == "" for _, v in c["params"])) > COUNT // 10
    assert sum(1 for c in cases if len({h[0].lower() for h in c["headers"]}) < len(c["headers"])) > COUNT // 10
    assert sum(1 for c in cases if any("\n" in h[1] for h in c["headers"])) > COUNT // 50
    assert sum(1 for c in cases if c["token"]) > COUNT // 5


def test_driver_limits_and_errors():
    base = {"method": "GET", "path": "/", "key": "AKIDEXAMPLE",
            "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "region": "us-east-1",
            "service": "service", "amz_date": "20150830T123600Z"}
    host = [["Host", "example.amazonaws.com"], ["X-Amz-Date", "20150830T123600Z"]]

    def line(**fields):
        return json.dumps(dict(base, **fields))

    lines = [
        line(headers=host),
        line(headers=host + [[f"x-h{i}", "v"] for i in range(62)]),    # 64 headers
        line(headers=host + [[f"x-h{i}", "v"] for i in range(63)]),    # 65 headers
        line(headers=host, query="&".join(f"q{i}=1" for i in range(128))),
        line(headers=host, query="&".join(f"q{i}=1" for i in range(129))),
        line(headers=host + [["Bad Name", "v"]]),
        line(headers=host + [["X-Evil", "a\r\nInjected: 1"]]),
        line(headers=[["X-Amz-Date", "20150830T123600Z"]]),            # no host
        line(headers=host, amz_date="20150830T123601Z"),               # x-amz-date differs
        "not json",
    ]
    got = _run_driver(lines)
    assert got[0] == ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    assert got[1].startswith("AWS4-HMAC-SHA256 ")
    assert got[2] == "ERROR"
    assert got[3].startswith("AWS4-HMAC-SHA256 ")
    assert got[4:9] == ["ERROR"] * 5
    assert got[9] == "BADINPUT"
