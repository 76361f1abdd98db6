"""Every fenced ```python and ```bash snippet of README.md and docs/*.md runs verbatim from a
fresh, empty folder: what a newcomer copies works as it stands.

Each snippet runs in its own subprocess (``python snippet.py`` or ``bash -e snippet.sh``) in a
temporary folder, with this interpreter first on PATH. A small explicit list is not run (each
with its reason), the slow ones are marked ``slow``, and snippets of guides this suite's
authors do not own yet are expected to fail until their owners complete them (strict, so the
mark goes as soon as they run).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(python|bash)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

#: (file, text the snippet contains) -> why it is not run.
SKIP = {
    ("README.md", "pip install . && homog demo"):
        "installs the package and runs the whole test suite (this suite's own runner)",
    ("README.md", "pip install -e '.[test]'"):
        "development set-up: installs, runs the whole test suite and the repository's benchmarks",
    ("README.md", "homog database run fibres.toml --store fibres.zarr --workers 2"):
        "a database campaign on Dask workers (minutes); tests/test_database_* cover it",
    ("docs/fe2.md", "pip install '.[examples]'"):
        "installs the examples' extras and runs the FE² example of the repository (minutes)",
    ("docs/database.md", "SLURMCluster"):
        "needs dask-jobqueue and a SLURM/PBS cluster",
    ("docs/database.md", "homog database train fibres.zarr"):
        "a database campaign of 64 samples on Dask workers (minutes)",
    ("docs/database.md", "run_database(config"):
        "a database campaign of 64 samples on Dask workers (minutes)",
    ("docs/database.md", "fibres-dns.toml"):
        "a database of 16 full-field runs to failure at 200² (20 minutes)",
}

#: (file, text the snippet contains) -> why it is expected to fail (owned by another guide's
#: author; the report of issue 15 says what each needs).
PENDING: dict[tuple[str, str], str] = {}

#: (file, text the snippet contains) of snippets that take more than a few seconds.
SLOW = {
    ("README.md", "homog dns micro.npz --materials mats.toml"),
    ("README.md", "homog homogenize micro.png --threshold 128"),
    ("README.md", "dns_curve = dns(ms, materials, path)"),
    ("docs/adaptive.md", "from homog.sca.adaptive import Adaptivity"),
}


def snippets() -> list:
    """pytest params (language, code) with ids ``file:line`` and the marks of the lists."""
    params = []
    for doc in DOCS:
        name = doc.relative_to(ROOT).as_posix()
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            language, code = match.group(1), match.group(2)
            line = text.count("\n", 0, match.start()) + 1
            marks = []
            for (where, key), reason in SKIP.items():
                if where == name and key in code:
                    marks.append(pytest.mark.skip(reason=reason))
            for (where, key), reason in PENDING.items():
                if where == name and key in code:
                    marks.append(pytest.mark.xfail(reason=reason, strict=True))
            if any(where == name and key in code for where, key in SLOW):
                marks.append(pytest.mark.slow)
            params.append(pytest.param(language, code, id=f"{name}:{line}", marks=marks))
    return params


SNIPPETS = snippets()


def test_every_list_entry_names_one_snippet():
    """Entries of SKIP, PENDING and SLOW that no longer match a snippet are stale."""
    codes = [(p.id.split(":")[0], p.values[1]) for p in SNIPPETS]
    for where, key in [*SKIP, *PENDING, *SLOW]:
        hits = [code for name, code in codes if name == where and key in code]
        assert len(hits) == 1, f"{where}: {key!r} matches {len(hits)} snippets"


@pytest.mark.parametrize("language, code", SNIPPETS)
def test_snippet_runs_verbatim(language, code, tmp_path):
    script = tmp_path / ("snippet.py" if language == "python" else "snippet.sh")
    script.write_text(code, encoding="utf-8")
    command = [sys.executable, script.name] if language == "python" else [
        "bash", "-e", "-o", "pipefail", script.name]
    env = dict(os.environ, MPLBACKEND="Agg",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, (
        f"the snippet failed (exit {done.returncode}):\n{code}\n--- stdout\n"
        f"{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
