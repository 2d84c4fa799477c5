"""Every unit test program, in the static musl build and in the ASan+UBSan build."""
import glob
import os
import subprocess

import pytest

from conftest import BUILD, ROOT

PROGRAMS = sorted(
    glob.glob(os.path.join(BUILD, "musl", "test_*")) + glob.glob(os.path.join(BUILD, "asan", "test_*"))
)


@pytest.mark.parametrize("program", PROGRAMS, ids=[os.path.relpath(p, BUILD) for p in PROGRAMS])
def test_unit_program(program):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1", SOURCE_ROOT=ROOT)
    proc = subprocess.run([program], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_unit_programs_were_built():
    assert PROGRAMS, "make unit built no test program"
