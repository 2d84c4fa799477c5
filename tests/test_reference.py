"""docs/reference.md is the contract: held to the binary and the code, both ways.

- Every option `build/ecr-refresh --help` prints is a row of the reference's option table,
  with the same value name, the same environment variables (aliases included) and the same
  default; every row of that table is an option of --help.
- Every environment variable the code reads (an ALL_CAPS string literal of the top-level C
  sources, plus the lower-case proxy names) is named in a table of the reference, and every
  variable named there is read by the code.
- The exit codes of --help are the rows of the exit code table.
- Every log message the code writes is a row of the log table, and every row's message is a
  string of the code.

A new option, variable or log line therefore fails here until the reference has its row.
"""
import glob
import os
import re
import subprocess

import pytest

from conftest import BIN, ROOT

REFERENCE = os.path.join(ROOT, "docs", "reference.md")
SOURCES = sorted(glob.glob(os.path.join(ROOT, "*.c")))
VARIABLE = re.compile(r"^(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+_proxy)$")


def read(path):
    with open(path) as f:
        return f.read()


def help_text():
    assert os.path.exists(BIN), "build it first: make"
    proc = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


# ---- reading --help --------------------------------------------------------------------

def option_key(names):
    """`-h, --help` and `--help` are one option: keyed by the long name."""
    longs = re.findall(r"--[a-z][a-z0-9-]*", names)
    assert longs, names
    return longs[-1]


def help_options():
    """{--flag: (value name or "", {variables}, default or None)} from --help."""
    lines = help_text().splitlines()
    out = {}
    for i, line in enumerate(lines):
        m = re.match(r"^  ((?:-[a-z], )?--[a-z][a-z0-9-]*)(?: (\S+))?(?:\s{2,}(.*))?$", line)
        if not m:
            continue
        names, value, rest = m.group(1), m.group(2) or "", m.group(3) or ""
        variables = set(re.findall(r"\$([A-Z][A-Z0-9_]*)", rest))
        default = None
        if i + 1 < len(lines) and lines[i + 1].startswith("      "):
            d = re.search(r"; default: (.*)$", lines[i + 1])
            default = d.group(1) if d else None
        key = option_key(names)
        assert key not in out, "--help lists %s twice" % key
        out[key] = (value, variables, default)
    assert len(out) >= 10, "the option lines of --help were not recognised:\n" + "\n".join(lines)
    return out


# ---- reading the reference's tables --------------------------------------------------------

def table_rows(text, with_header=False):
    """Every row of every Markdown table, as a list of cells (rule rows skipped). With
    with_header, (header cells, row cells) pairs, header rows not repeated as rows."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None                      # a table ends at its first other line
            continue
        if re.match(r"^\|[-| :]+\|$", line):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if header is None:
            header = cells
        else:
            rows.append((header, cells) if with_header else cells)
    return rows


def code_spans(cell):
    return re.findall(r"`([^`]+)`", cell)


def reference_options():
    """{--flag: (value name, {variables}, default text)} from every table whose header reads
    `flag | env | default | meaning` (new options may come in tables of their own, in that
    shape)."""
    out = {}
    for header, cells in table_rows(read(REFERENCE), with_header=True):
        if not header or header[0] != "flag":
            continue
        assert header == ["flag", "env", "default", "meaning"], "an option table is flag | env | default | meaning"
        spans = code_spans(cells[0])
        assert spans and spans[0].startswith("-"), cells
        names, _, value = spans[0].partition(" ") if spans[0].startswith("--") else (spans[0], "", "")
        variables = {re.sub(r"=.*", "", s) for s in code_spans(cells[1])}
        default = cells[2].replace("`", "")
        key = option_key(names)
        assert key not in out, "the reference has two rows for %s" % key
        out[key] = (value, variables, default)
    return out


def reference_variables():
    """Every variable named in a table cell of the reference (first cell of the variable
    tables, env cell of the option table)."""
    found = set()
    for cells in table_rows(read(REFERENCE)):
        for cell in cells[:2]:
            for span in code_spans(cell):
                name = re.sub(r"=.*", "", span)
                if VARIABLE.match(name):
                    found.add(name)
    return found


def code_strings():
    strings = []
    for path in SOURCES:
        # Joined as the compiler joins adjacent literals is not needed: names are one literal.
        strings += re.findall(r'"((?:[^"\\\n]|\\.)*)"', read(path))
    return strings


# ---- the tests ---------------------------------------------------------------------------

def test_every_help_option_is_in_the_reference_and_back():
    have, want = reference_options(), help_options()
    assert sorted(set(want) - set(have)) == [], "options of --help missing from docs/reference.md"
    assert sorted(set(have) - set(want)) == [], "options of docs/reference.md that --help does not know"


@pytest.mark.parametrize("part,index", [("value name", 0), ("variables", 1)])
def test_reference_rows_match_help(part, index):
    have, want = reference_options(), help_options()
    wrong = {k: (have[k][index], want[k][index]) for k in want if k in have and have[k][index] != want[k][index]}
    assert wrong == {}, "%s differ (reference, --help): %s" % (part, wrong)


def test_reference_defaults_match_help():
    have, want = reference_options(), help_options()
    wrong = {}
    for k, (_, _, default) in want.items():
        ref = have.get(k, (None, None, None))[2]
        if default is None:
            if ref not in ("—", "-", ""):
                wrong[k] = (ref, "no default")
        elif ref != default:
            wrong[k] = (ref, default)
    assert wrong == {}, "defaults differ (reference, --help): %s" % wrong


def test_every_variable_the_code_reads_is_in_the_reference_and_back():
    in_code = {s for s in code_strings() if VARIABLE.match(s)}
    documented = reference_variables()
    assert len(in_code) > 20, sorted(in_code)
    assert sorted(in_code - documented) == [], "variables read by the code, missing from docs/reference.md"
    assert sorted(documented - in_code) == [], "variables in docs/reference.md that the code never reads"


def test_exit_codes_of_help_are_the_reference_table():
    text = help_text()
    tail = text[text.index("Exit codes:"):]
    in_help = {int(n) for n in re.findall(r"(?:^|[ ,])(\d) ", tail.replace("\n", " "))}
    section = read(REFERENCE).split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    in_reference = {int(c[0]) for c in table_rows(section) if c[0].isdigit()}
    assert in_help == in_reference == {0, 1, 2, 3, 4}


def test_every_log_message_is_in_the_reference_and_back():
    section = read(REFERENCE).split("## Logs", 1)[1].split("\n## ", 1)[0]
    documented = {code_spans(c[0])[0] for c in table_rows(section) if code_spans(c[0])}
    written = set()
    for path in SOURCES:
        if os.path.basename(path) == "log.c":
            continue
        written |= set(re.findall(r'log_event\(\s*[^,"]+,\s*"([^"]+)"', read(path)))
    assert len(written) > 10, written
    assert sorted(written - documented) == [], "log messages missing from the log table of docs/reference.md"
    strings = set(code_strings())
    assert sorted(documented - strings) == [], "log messages in docs/reference.md the code never writes"


# ---- the version ------------------------------------------------------------------------

def release():
    return read(os.path.join(ROOT, "VERSION")).strip()


def test_version_is_the_release_and_the_commit():
    assert re.fullmatch(r"\d+\.\d+\.\d+", release()), "VERSION holds MAJOR.MINOR.PATCH"
    proc = subprocess.run([BIN, "--version"], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 0 and proc.stderr == ""
    m = re.fullmatch(r"ecr-refresh (\S+) \(commit ([0-9a-f]{7,40}(?:-dirty)?|unknown)\)\n", proc.stdout)
    assert m, proc.stdout
    assert m.group(1) == release(), "the binary says %s, VERSION %s: rebuild" % (m.group(1), release())


def test_changelog_describes_the_release():
    changelog = read(os.path.join(ROOT, "CHANGELOG.md"))
    headings = re.findall(r"(?m)^## \[?(\d+\.\d+\.\d+)\]?", changelog)
    assert headings and headings[0] == release(), "CHANGELOG.md's newest entry is %s, VERSION %s" % (
        headings[:1], release())
