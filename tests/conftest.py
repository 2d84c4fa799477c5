"""Shared pytest setup: paths to the build, and fixture modules tests/fixtures_*.py."""
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "ecr-refresh")
TESTS = os.path.join(ROOT, "tests")

sys.path.insert(0, TESTS)

pytest_plugins = sorted(
    os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(TESTS, "fixtures_*.py"))
)
