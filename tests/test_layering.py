"""`core` runs without Streamlit (only `core/ui` may import it), and Home does not import Keras."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_modules(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_core_ui_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if "ui" not in p.relative_to(ROOT / "core").parts and "streamlit" in imported_modules(p)]
    assert offenders == []


def test_core_modules_import_without_streamlit_or_keras():
    code = ("import sys, core.jobs, core.params, core.lessons, core.engine_check, core.charts.training, core.export; "
            "assert 'streamlit' not in sys.modules and 'keras' not in sys.modules and 'jax' not in sys.modules; "
            "import os; assert os.environ['KERAS_BACKEND'] == 'jax'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
