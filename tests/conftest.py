"""Shared pytest setup: paths to the build, the stand-ins (tests/standins/) on the import
path, and their fixture modules tests/standins/fixtures_*.py.

    tests/e2e/       the binary and its drivers against real peers
    tests/standins/  the peers we run ourselves (AWS, kube-apiserver, proxies, PKI)
    tests/unit/      C unit tests, run by test_unit.py
    tests/fuzz/      libFuzzer harnesses and seeds, run by test_fuzz.py
"""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "ecr-refresh")
TESTS = os.path.join(ROOT, "tests")
STANDINS = os.path.join(TESTS, "standins")

sys.path.insert(0, TESTS)
sys.path.insert(0, STANDINS)

pytest_plugins = sorted(
    os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(STANDINS, "fixtures_*.py"))
)
