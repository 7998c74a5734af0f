"""The layers of the code, as the tree shows them: `core/engine` (the live training engine) imports no
lesson and nothing above it; `core/shared` (teaching pieces several lessons use) imports only the
engine and itself; each `core/lessons/<lesson>` package is a leaf that imports no other lesson; charts
and `core/ui` import no lesson's package. Only `core/ui` imports Streamlit, and Home does not import Keras."""

import ast
import pathlib
import subprocess
import sys

from core.lessons import LESSONS

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every module a file imports, dotted in full (`from a import b` counts as a.b as well as a, since
    b may be a module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _lesson_of(module: str, lessons: set[str]) -> str | None:
    """The lesson package a module is in (None for the registry, `core.lessons`, and anything else)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["core", "lessons"] and parts[2] in lessons else None


def layering_problems(root: pathlib.Path) -> list[str]:
    """Each import that breaks the layers, as 'file imports module'."""
    problems = []
    lessons = {p.name for p in (root / "core" / "lessons").iterdir() if p.is_dir()}
    for path in sorted((root / "core").rglob("*.py")):
        parts = path.relative_to(root / "core").parts
        for module in sorted(imported_modules(path)):
            if not _within(module, "core"):
                continue
            lesson = _lesson_of(module, lessons)
            if parts[0] == "engine":
                wrong = not (_within(module, "core.engine") or module == "core")
            elif parts[0] == "shared":
                wrong = not (_within(module, "core.engine") or _within(module, "core.shared") or module == "core")
            elif parts[0] == "lessons" and len(parts) > 2:
                wrong = lesson is not None and lesson != parts[1]
            else:  # charts, ui, the registry
                wrong = lesson is not None
            if wrong:
                problems.append(f"{path.relative_to(root)} imports {module}")
    return problems


def test_the_engine_shared_pieces_and_every_lesson_keep_their_layer():
    assert layering_problems(ROOT) == []


def test_a_planted_cross_lesson_import_is_caught(tmp_path):
    for folder in ("core/engine", "core/shared", "core/lessons/gan", "core/lessons/attention"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "core/lessons/gan/duel.py").write_text("from core.lessons.attention import attention\n")
    (tmp_path / "core/lessons/attention/maps.py").write_text(
        "from core.lessons.attention import selfattention\n"
        "from core.shared import deepnet\nfrom core.engine import jobs\n"
    )
    (tmp_path / "core/engine/loop.py").write_text("from core.lessons import gan\n")
    (tmp_path / "core/shared/points.py").write_text("import core.lessons.gan.gan2d\n")
    assert layering_problems(tmp_path) == [
        "core/engine/loop.py imports core.lessons",
        "core/engine/loop.py imports core.lessons.gan",
        "core/lessons/gan/duel.py imports core.lessons.attention",
        "core/lessons/gan/duel.py imports core.lessons.attention.attention",
        "core/shared/points.py imports core.lessons.gan.gan2d",
    ]


def _chart_module(module: str) -> str | None:
    """The chart module an import names (`core.charts.theme` for `core.charts.theme.OKABE_ITO`), else None."""
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[:2] == ["core", "charts"] and len(parts) > 2 else None


def test_charts_share_only_the_theme_the_training_curves_the_animation_controls_and_arrows():
    """A chart module may use the house theme, the shared training curves, the Play controls and the arrow, not
    another chart module."""
    shared = {"core.charts.theme", "core.charts.training", "core.charts.animation", "core.charts.arrows"}
    borrowed = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "core" / "charts").glob("*.py"))
        for module in sorted(imported_modules(path))
        if _chart_module(module) not in (None, f"core.charts.{path.stem}", *shared)
    ]
    assert borrowed == []


def test_every_lesson_has_its_package_and_its_view():
    for lesson in LESSONS:
        assert (ROOT / "core" / "lessons" / lesson.slug / "__init__.py").exists(), lesson.slug
        assert (ROOT / lesson.page).exists(), lesson.page
    packages = {p.name for p in (ROOT / "core" / "lessons").iterdir() if (p / "__init__.py").exists()}
    assert packages == {lesson.slug for lesson in LESSONS}


def test_only_core_ui_imports_streamlit():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "core").rglob("*.py")
        if "ui" not in p.relative_to(ROOT / "core").parts
        and any(_within(module, "streamlit") for module in imported_modules(p))
    ]
    assert offenders == []


def test_core_modules_import_without_streamlit_or_keras():
    code = (
        "import sys, core.engine.jobs, core.engine.params, core.lessons, core.lessons.engine_room.engine_check, "
        "core.charts.training, core.engine.export; "
        "assert 'streamlit' not in sys.modules and 'keras' not in sys.modules and 'jax' not in sys.modules; "
        "import os; assert os.environ['KERAS_BACKEND'] == 'jax'"
    )
    subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    )
