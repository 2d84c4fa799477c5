"""Each libFuzzer harness runs a bounded number of iterations over its committed corpus
under ASan+UBSan. Longer runs are for benchmarks: make fuzz && build/fuzz/NAME corpus."""
import glob
import os
import subprocess
import tempfile

import pytest

from conftest import BUILD, TESTS

RUNS = int(os.environ.get("FUZZ_RUNS", "20000"))
HARNESSES = sorted(glob.glob(os.path.join(BUILD, "fuzz", "fuzz_*")))


@pytest.mark.parametrize("harness", HARNESSES, ids=[os.path.basename(h) for h in HARNESSES])
def test_fuzz_smoke(harness):
    name = os.path.basename(harness)
    corpus = os.path.join(TESTS, "fuzz", "corpus", name)
    assert os.path.isdir(corpus) and os.listdir(corpus), "no committed corpus for " + name
    with tempfile.TemporaryDirectory() as scratch:
        # New inputs go to scratch so the committed corpus stays as it is.
        proc = subprocess.run([harness, "-runs=%d" % RUNS, "-seed=1", "-max_len=70000",
                               "-rss_limit_mb=1024", scratch, corpus],
                              capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_fuzz_harnesses_were_built():
    assert HARNESSES, "make fuzz built no harness"
