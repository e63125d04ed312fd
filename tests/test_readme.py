"""El README, los capítulos y el código nunca se contradicen: bloques citados,
enlaces, anclas, imágenes y comandos."""

import ast
import re
import urllib.parse
from pathlib import Path

import pytest

from herramientas.documentos import learner_docs
from tests.helpers import ROOT

DOCS = learner_docs()  # README.md y capitulos/*.md
ALL_MARKDOWN = [*DOCS, ROOT / "CONTRIBUTING.md"]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CHAPTERS = sorted((ROOT / "capitulos").glob("[0-9][0-9]-*.md"))
QUOTED_BLOCK = re.compile(
    r"<!-- archivo: (?P<path>[^ ]+) -->\n```python\n(?P<code>.*?)```", re.DOTALL
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def quoted_blocks() -> list[tuple[str, str]]:
    return [
        (m["path"], m["code"]) for doc in DOCS for m in QUOTED_BLOCK.finditer(text(doc))
    ]


def slugs(path: Path) -> set[str]:
    """Las anclas que GitHub da a los títulos de un archivo (fuera del código)."""
    found, fence = set(), False
    for line in text(path).splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (heading := re.match(r"^#+ (.+)$", line)):
            title = heading[1].strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def links(path: Path) -> list[tuple[Path, str]]:
    """Los enlaces relativos de un archivo: a qué archivo llevan y con qué ancla."""
    found = []
    for link in LINK.findall(text(path)):
        if "://" in link or link.startswith("mailto:"):
            continue
        target, _, anchor = link.partition("#")
        where = (path.parent / urllib.parse.unquote(target)) if target else path
        found.append((where.resolve(), urllib.parse.unquote(anchor)))
    return found


def test_every_python_block_names_the_file_it_quotes():
    for doc in DOCS:
        blocks = QUOTED_BLOCK.findall(text(doc))
        assert text(doc).count("```python") == len(blocks), doc.name
    assert len(quoted_blocks()) > 10


@pytest.mark.parametrize(
    ("path", "code"), quoted_blocks(), ids=lambda v: v.splitlines()[0][:40]
)
def test_quoted_block_stands_verbatim_in_its_file(path, code):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert code in source, f"el bloque citado ya no está tal cual en {path}"


@pytest.mark.parametrize("doc", ALL_MARKDOWN, ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(doc):
    broken = []
    for target, anchor in links(doc):
        if not target.exists():
            broken.append(str(target))
        elif anchor and (target.suffix != ".md" or anchor not in slugs(target)):
            broken.append(f"{target.name}#{anchor}")
    assert broken == []


def test_readme_is_the_door_and_chapters_are_short_and_linked_in_order():
    assert len(README.splitlines()) <= 250
    assert len(CHAPTERS) >= 10
    for i, chapter in enumerate(CHAPTERS):
        lines = text(chapter).splitlines()
        assert len(lines) <= 400, chapter.name
        assert lines[0].startswith(f"# {i + 1}. "), chapter.name
        nav = lines[2]  # debajo del título: anterior · índice · siguiente
        previous = CHAPTERS[i - 1].name if i else "../README.md"
        following = CHAPTERS[i + 1].name if i + 1 < len(CHAPTERS) else "../README.md"
        assert f"]({previous})" in nav and f"]({following})" in nav, chapter.name
        assert lines[-1] == nav, chapter.name  # y lo mismo al final
        assert f"](capitulos/{chapter.name})" in README, chapter.name


def test_contributors_guide_is_linked_once_from_the_readme():
    assert README.count("](CONTRIBUTING.md)") == 1


def concept_rows(path: Path, columns: int) -> dict[str, list[str]]:
    section = text(path).split("## Qué ")[1:]
    table = next(s for s in section if s.startswith(("conceptos", "prueba cada")))
    rows = {}
    for line in table.split("\n## ")[0].splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == columns and "](" in line:
            rows[cells[0]] = cells[1:]
    return rows


def test_concept_map_and_its_tests_name_the_same_concepts():
    shown = concept_rows(ROOT / "README.md", 4)
    tested = concept_rows(ROOT / "CONTRIBUTING.md", 2)
    assert len(shown) >= 15
    assert list(shown) == list(tested)
    for concept, (test,) in tested.items():
        name, path = re.fullmatch(r"\[(\w+)\]\(([^)]+)\)", test).groups()
        source = (ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{concept}: {name} no está en {path}"


LESSONS = [
    "introduction/run_iris.py",
    "introduction/serve_iris.py",
    "introduction/buscar_modelo.py",
    "restaurant/paso1_historia.py",
    "restaurant/paso2_cocina.py",
    "restaurant/paso3_cuenta.py",
    "restaurant/paso4_mesas.py",
    "restaurant/paso5_grupo.py",
    "restaurant/paso6_postre.py",
    "restaurant/run_restaurant.py",
    "restaurant/paso8_cobro.py",
    "restaurant/paso9_cocina_cola.py",
    "restaurant/cocineros.py",
    "restaurant/paso10_gerente.py",
    "restaurant/gerente.py",
    "restaurant/avisar_al_gerente.py",
    "restaurant/timeout_sincronico.py",
    "restaurant/cuenta_guardada.py",
    "restaurant/turno.py",
    "restaurant/serve_restaurant.py",
    "restaurant/anunciar_llegada.py",
    "restaurant/desplegar_restaurante.py",
]


@pytest.mark.parametrize("path", LESSONS)
def test_each_lesson_docstring_says_what_it_shows_and_what_it_needs(path):
    docstring = ast.get_docstring(ast.parse((ROOT / path).read_text(encoding="utf-8")))
    assert "Muestra " in docstring, path
    assert ("Funciona sin servidor" in docstring) != (
        "Necesita `prefect server start`" in docstring
    ), path


def test_every_image_is_linked_and_every_linked_image_exists():
    linked = {
        target.relative_to(ROOT).as_posix()
        for doc in DOCS
        for target, _ in links(doc)
        if target.suffix in IMAGE_SUFFIXES
    }
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "imagenes").rglob("*")
        if path.suffix in IMAGE_SUFFIXES
    }
    assert linked == on_disk


def test_quick_start_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert (
        "pip install -r requirements.txt && python introduction/run_iris.py" in README
    )
    assert "\npython -m pytest\n```" in README
    assert ci.rstrip().splitlines()[-1] == "python -m pytest"
    # La comprobación rápida: la misma línea en el README y en CI
    assert "\npython -m pytest -m quick\n```" in README
    assert "    python -m pytest -m quick\n" in ci
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
