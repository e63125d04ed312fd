"""El README y el código nunca se contradicen: bloques citados, enlaces, comandos."""

import ast
import re
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
QUOTED_BLOCK = re.compile(
    r"<!-- archivo: (?P<path>[^ ]+) -->\n```python\n(?P<code>.*?)```", re.DOTALL
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


def quoted_blocks() -> list[tuple[str, str]]:
    return [(m["path"], m["code"]) for m in QUOTED_BLOCK.finditer(README)]


def relative_links() -> list[str]:
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    return [
        urllib.parse.unquote(link.split("#")[0])
        for link in links
        if "://" not in link and not link.startswith("#")
    ]


def test_every_python_block_names_the_file_it_quotes():
    assert README.count("```python") == len(quoted_blocks()) > 0


@pytest.mark.parametrize(
    ("path", "code"), quoted_blocks(), ids=lambda v: v.splitlines()[0][:40]
)
def test_quoted_block_stands_verbatim_in_its_file(path, code):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert code in source, f"el bloque citado ya no está tal cual en {path}"


def test_every_relative_link_points_to_an_existing_file():
    missing = [link for link in relative_links() if not (ROOT / link).exists()]
    assert missing == []


def test_contributors_guide_links_exist_and_is_linked_from_the_readme():
    guide = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s#]+)[^)]*\)", guide)
    assert [
        link for link in links if "://" not in link and not (ROOT / link).exists()
    ] == []
    assert README.count("](CONTRIBUTING.md)") == 1


def concept_map_rows() -> list[str]:
    section = README.split("## Qué conceptos de Prefect cubre")[1].split("\n## ")[0]
    return [
        line for line in section.splitlines() if line.startswith("| ") and "](" in line
    ]


def test_concept_map_names_tests_that_exist_in_the_files_it_links():
    rows = concept_map_rows()
    assert len(rows) >= 10
    for row in rows:
        _, concept, files, test, capture, _ = row.split("|")
        for path in re.findall(r"\]\(([^)]+)\)", files + capture):
            assert (ROOT / urllib.parse.unquote(path)).exists(), (concept, path)
        name, path = re.fullmatch(r" \[(\w+)\]\(([^)]+)\) ", test).groups()
        source = (ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"{concept}: {name} no está en {path}"


LESSONS = [
    "introduction/run_iris.py",
    "introduction/serve_iris.py",
    "introduction/buscar_modelo.py",
    "restaurant/run_restaurant.py",
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
    linked = {link for link in relative_links() if Path(link).suffix in IMAGE_SUFFIXES}
    on_disk = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "imagenes").rglob("*")
        if path.suffix in IMAGE_SUFFIXES
    }
    assert linked == on_disk


def test_every_internal_anchor_exists():
    headings = re.findall(r"^#+ (.+)$", README, flags=re.MULTILINE)
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
    anchors = set(re.findall(r"\]\(#([^)]+)\)", README))
    assert anchors <= slugs, anchors - slugs


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
