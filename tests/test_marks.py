"""Las marcas dicen la verdad: `-m quick` no levanta `prefect server start` ni Chromium.

Una prueba que usa una fixture que levanta algo (el servidor de pruebas, un
`prefect server start`, PostgreSQL, Chromium) lleva la marca de eso. Las que lo
levantan por su cuenta se comprueban al levantarlo (tests/helpers.py).
"""

import pytest

from tests import helpers
from tests.helpers import COLLECTED, FIXTURE_MARKS


def test_every_test_that_uses_a_fixture_that_starts_something_has_its_mark(request):
    missing = [
        f"{item.nodeid}: usa {fixture}, le falta @pytest.mark.{mark}"
        for item in COLLECTED
        for fixture, mark in FIXTURE_MARKS.items()
        if fixture in item.fixturenames and item.get_closest_marker(mark) is None
    ]
    assert missing == []
    assert request.node in COLLECTED  # se recogieron también las demás


def test_marks_are_the_ones_registered_and_the_helpers_know_them(pytestconfig):
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert set(helpers.MARKS) <= registered
    assert set(FIXTURE_MARKS.values()) <= set(helpers.MARKS)


def test_starting_something_without_its_mark_fails_the_test(request, monkeypatch):
    # Esta prueba no lleva la marca postgres: si levantara PostgreSQL, fallaría
    monkeypatch.setattr(helpers, "CURRENT_TEST", request.node)
    with pytest.raises(pytest.fail.Exception, match="le falta @pytest.mark.postgres"):
        helpers.require_mark("postgres")
    request.node.add_marker(pytest.mark.postgres)
    helpers.require_mark("postgres")  # con la marca, levantarlo está permitido


def test_tests_of_one_shared_server_run_on_one_worker(pytestconfig):
    # pytest-xdist manda juntas las pruebas de un grupo si el nodeid lleva el
    # grupo; si una versión nueva de pytest o de xdist lo rompe, cada worker
    # levantaría su propio servidor compartido (más lento, y más CPU)
    if not getattr(pytestconfig.option, "loadgroup", False):
        pytest.skip("sin pytest-xdist en --dist loadgroup (por ejemplo, con -n 0)")
    grouped = [item for item in COLLECTED if item.get_closest_marker("xdist_group")]
    assert grouped
    for item in grouped:
        group = item.get_closest_marker("xdist_group").args[0]
        assert item.nodeid.endswith(f"@{group}"), item.nodeid
