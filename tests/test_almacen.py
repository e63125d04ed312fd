"""La caché de la búsqueda en un bucket (capítulo 10): bloques S3Bucket y Secret.

Primero las piezas, sin servidor; después, contra un `prefect server start` y el
S3 local del capítulo (`moto_server`), que aquí comprueba las claves como AWS o
MinIO (fixture `local_s3`).
"""

import re

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from pydantic import SecretStr

import guardar_almacen
from almacen import (
    BLOCK,
    SECRET,
    MissingBucket,
    StorageProblem,
    check_bucket,
    storage_block,
)
from herramientas.cluster_dask import DaskCluster
from herramientas.documentos import readme_lines
from herramientas.procesos import free_port
from herramientas.s3_local import LocalS3
from tests.helpers import (
    eventually,
    finished_evaluations,
    in_a_terminal,
    prefect_cli,
    run_script,
)

SEARCH = "introduction/buscar_modelo.py"


def test_the_bucket_block_keeps_where_the_storage_is_but_not_the_secret_key():
    bucket = storage_block("resultados-busqueda", "http://127.0.0.1:9000", "cocina")
    assert bucket.bucket_name == "resultados-busqueda"
    assert bucket.credentials.aws_access_key_id == "cocina"
    assert bucket.credentials.aws_client_parameters.endpoint_url == (
        "http://127.0.0.1:9000"
    )
    assert bucket.credentials.aws_secret_access_key is None


def test_nobody_at_the_address_is_said_at_once_without_retrying():
    dead = f"http://127.0.0.1:{free_port()}"
    bucket = storage_block("resultados-busqueda", dead, "cocina")
    bucket.credentials.aws_secret_access_key = SecretStr("moto")
    with pytest.raises(StorageProblem, match=f"Nadie responde en {dead}: no hay un"):
        check_bucket(bucket)


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "ftp://127.0.0.1:9000"])
def test_saving_refuses_an_address_that_is_not_http(endpoint, capsys):
    args = ["--endpoint", endpoint, "--bucket", "b", "--id-clave", "cocina"]
    with pytest.raises(SystemExit) as exit_info:
        guardar_almacen.main(args)
    assert exit_info.value.code == 2
    assert f"--endpoint es una dirección http:// o https://; llegó {endpoint!r}" in (
        capsys.readouterr().err
    )


def chapter_save_command(s3) -> list[str]:
    """El comando del capítulo que guarda los bloques, con la dirección y el id de
    la clave de este S3 local."""
    (line,) = readme_lines("python introduction/guardar_almacen.py ")
    line = [arg.replace("http://127.0.0.1:9000", s3.endpoint) for arg in line]
    line[line.index("--id-clave") + 1] = s3.key_id
    return line[1:]


def chapter_search_commands(address: str) -> list[list[str]]:
    """Los dos comandos del capítulo que buscan con el almacén (el segundo, con
    otra carpeta de Prefect), sin las variables de entorno, en este clúster y con
    menos repeticiones (lo que se prueba no cambia, se calcula menos)."""
    (first,) = [
        line
        for line in readme_lines("python introduction/buscar_modelo.py ")
        if "--almacen" in line
    ]
    (second,) = readme_lines("PREFECT_HOME=/tmp/otra-maquina ")
    # La segunda, como desde otra máquina: otra carpeta de Prefect, el mismo
    # servidor (lo que pone la prueba con home= y api_url=)
    assert second[:2] == [
        "PREFECT_HOME=/tmp/otra-maquina",
        "PREFECT_API_URL=http://127.0.0.1:4200/api",
    ]
    assert second[2:] == first
    return [
        [arg.replace("tcp://127.0.0.1:8786", address) for arg in first[1:]]
        + ["--repeticiones", "2"]
    ] * 2


def save(server, s3, *args: str, secret: str | None = None):
    return run_script(
        *args,
        home=server.home,
        api_url=server.api_url,
        timeout=120,
        S3_CLAVE_SECRETA=secret or s3.secret,
    )


def block_document(server, name: str, secrets: bool = False) -> dict:
    """El bloque guardado con ese nombre, como lo da la API (y la UI)."""
    (found,) = server.post(
        "/block_documents/filter",
        {"block_documents": {"name": {"any_": [name]}}, "include_secrets": secrets},
    )
    return found


@pytest.fixture(scope="module")
def saved(module_server, local_s3) -> str:
    """Los dos bloques, guardados con el comando del capítulo en una terminal, con
    la clave escrita cuando la pide."""
    env = module_server.env(PREFECT_API_URL=module_server.api_url, PYTHONUTF8="1")
    code, seen = in_a_terminal(
        chapter_save_command(local_s3),
        env,
        reply=("Clave secreta de S3", local_s3.secret + "\n"),
    )
    assert code == 0, seen
    return seen


def search_runs(server) -> list[dict]:
    return server.flow_runs("buscar-modelo")


@pytest.fixture(scope="module")
def two_searches(module_server, local_s3, saved, tmp_path_factory) -> list[dict]:
    """La búsqueda dos veces, cada una en un clúster de Dask cuyo worker corre en
    otra carpeta y con otro PREFECT_HOME, y cada script con el suyo, como dos
    máquinas que solo comparten el servidor de Prefect y el bucket."""
    searches = []
    for machine, command in zip(("primera", "segunda"), (0, 1), strict=True):
        folder = tmp_path_factory.mktemp(f"maquina-{machine}")
        with DaskCluster(
            module_server, cwd=folder, PREFECT_HOME=str(folder / "prefect")
        ) as dask:
            # Los procesos de Dask no tienen la clave: les llega con cada task
            assert local_s3.secret not in str(dask.env)
            result = run_script(
                *chapter_search_commands(dask.address)[command],
                home=tmp_path_factory.mktemp(f"script-{machine}"),
                api_url=module_server.api_url,
            )
            workers = dask.worker_output(0)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", output)[1]
        runs = eventually(
            lambda run_id=run_id: module_server.task_runs(run_id),
            lambda runs: (
                len(runs) == 9
                and all(t["state_name"] in ("Completed", "Cached") for t in runs)
            ),
            what=f"las 9 task runs de la búsqueda {run_id}, terminadas",
            timeout=90,
        )
        searches.append(
            {
                "id": run_id,
                "output": output,
                "workers": workers,
                "folder": folder,
                "states": sorted(t["state_name"] for t in runs),
            }
        )
    return searches


@pytest.mark.slow
def test_a_prefect_server_that_does_not_answer_is_named_before_anything(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/api"
    expected = f"Nadie responde en {dead}: el servidor de Prefect no está abierto."
    for args in (
        ["introduction/guardar_almacen.py", "--endpoint", "http://127.0.0.1:9000"]
        + ["--bucket", "resultados-busqueda", "--id-clave", "cocina"],
        [SEARCH, "--almacen", BLOCK],
    ):
        result = run_script(*args, home=tmp_path, api_url=dead, timeout=120)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert expected in result.stderr and "prefect server start" in result.stderr
        assert "Traceback" not in output
        assert "Clave secreta" not in output  # no la pidió: no la habría guardado


@pytest.mark.s3
def test_moto_keeps_the_bucket_in_memory_and_a_restart_loses_it(tmp_path):
    # "moto guarda todo en memoria: si lo detienes, el bucket desaparece"
    port = free_port()
    with LocalS3(tmp_path, port=port) as s3:
        s3.client().create_bucket(Bucket="resultados-busqueda")
        assert s3.objects("resultados-busqueda") == []  # existe, vacío
    with LocalS3(tmp_path, port=port) as s3:
        bucket = storage_block("resultados-busqueda", s3.endpoint, s3.key_id)
        bucket.credentials.aws_secret_access_key = SecretStr(s3.secret)
        with pytest.raises(MissingBucket, match="No existe el bucket"):
            check_bucket(bucket)


@pytest.mark.server
@pytest.mark.s3
def test_saving_the_storage_keeps_the_secret_key_in_the_secret_block_only(
    saved, module_server, local_s3
):
    # La pide sin mostrarla: en la terminal no aparece lo que se escribió
    assert "Clave secreta de S3 (no se ve al escribirla):" in saved
    assert "Bucket 'resultados-busqueda' creado en" in saved
    assert f"Guardados los bloques S3Bucket {BLOCK!r} y Secret {SECRET!r}." in saved
    assert local_s3.secret not in saved
    # El bloque del bucket: dirección, bucket e id de la clave, sin la clave
    bucket = block_document(module_server, BLOCK, secrets=True)
    credentials = bucket["data"]["credentials"]
    assert bucket["data"]["bucket_name"] == "resultados-busqueda"
    assert credentials["aws_access_key_id"] == local_s3.key_id
    assert credentials["aws_client_parameters"]["endpoint_url"] == local_s3.endpoint
    assert credentials.get("aws_secret_access_key") is None
    # El Secret: oculto para quien lo lee (la UI), entero para quien lo pide
    assert block_document(module_server, SECRET)["data"]["value"] == "********"
    assert block_document(module_server, SECRET, True)["data"]["value"] == (
        local_s3.secret
    )


@pytest.mark.server
@pytest.mark.s3
@pytest.mark.dask
def test_two_dask_workers_in_other_folders_share_the_cache_through_the_bucket(
    two_searches, local_s3
):
    first, second = two_searches
    assert first["states"] == ["Completed"] * 9
    assert second["states"] == ["Cached"] * 9  # la segunda, toda de la caché
    # Los procesos de Dask de la primera máquina evaluaron; los de la segunda
    # solo encontraron los resultados
    assert finished_evaluations(first["workers"]) == 8
    assert finished_evaluations(second["workers"]) == 0
    assert finished_evaluations(second["workers"], "Cached") == 8
    assert "Ganador: k_vecinos" in second["output"]
    # Los resultados están en el bucket, no en el disco de nadie
    assert len(local_s3.objects("resultados-busqueda")) >= 9
    for search in two_searches:
        assert not list(search["folder"].rglob("storage"))


@pytest.mark.server
@pytest.mark.s3
@pytest.mark.dask
def test_the_secret_key_is_not_in_the_output_the_logs_or_the_artifacts(
    two_searches, module_server, local_s3
):
    runs = [search["id"] for search in two_searches]
    logs = module_server.post("/logs/filter", {"logs": {"flow_run_id": {"any_": runs}}})
    artifacts = module_server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": runs}}}
    )
    assert len(logs) > 10 and artifacts  # lo buscado está ahí
    everything = [
        *(search["output"] + search["workers"] for search in two_searches),
        *(str(log) for log in logs),
        *(str(artifact) for artifact in artifacts),
    ]
    assert [text for text in everything if local_s3.secret in text] == []


@pytest.mark.server
@pytest.mark.s3
@pytest.mark.browser
def test_the_blocks_page_lists_both_blocks_and_the_secret_stays_hidden(
    saved, module_server, local_s3, page
):
    # "la página Blocks lista los dos bloques; al hacer clic en clave-s3, su valor
    # aparece oculto"
    page.goto(f"{module_server.url}/v2/blocks")
    page.wait_for_load_state("networkidle")
    for name in (BLOCK, SECRET):
        page.get_by_text(name, exact=True).filter(visible=True).first.wait_for()
    secret = block_document(module_server, SECRET)
    page.goto(f"{module_server.url}/v2/blocks/block/{secret['id']}")
    page.wait_for_load_state("networkidle")
    page.get_by_text(SECRET).filter(visible=True).first.wait_for()
    page.get_by_text("********").filter(visible=True).first.wait_for()
    # El código de ejemplo de la página (se dibuja después) trae una clave de
    # ejemplo, no la guardada
    page.get_by_text("sk-1234567890").filter(visible=True).first.wait_for()
    assert local_s3.secret not in page.content()


def search_refuses(server, almacen: str, *expected: str) -> None:
    """La búsqueda con ese almacén sale con 1, lo explica y no crea ninguna corrida."""
    before = len(search_runs(server))
    result = run_script(
        SEARCH,
        "--almacen",
        almacen,
        "--repeticiones",
        "2",
        home=server.home,
        api_url=server.api_url,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    for line in expected:
        assert line in result.stderr
    assert "Traceback" not in result.stderr
    assert len(search_runs(server)) == before


def save_block(server, name: str, bucket) -> None:
    """Guardar un bloque como lo guardaría alguien desde la UI."""
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        bucket.save(name, overwrite=True)


@pytest.mark.server
@pytest.mark.s3
# Enter y Ctrl+D llegan como datos de la terminal. Ctrl+C (SIGINT) no se prueba:
# en CI, con la máquina ocupada, una vez el script siguió esperando la clave 90 s
# después del Ctrl+C, y no averigüé por qué (el script igual atrapa
# KeyboardInterrupt)
@pytest.mark.parametrize("typed", ["\n", "\x04"], ids=["vacía", "Ctrl+D"])
def test_no_secret_key_typed_saves_nothing_and_says_so(
    typed, saved, module_server, local_s3
):
    before = block_document(module_server, BLOCK, secrets=True)
    env = module_server.env(PREFECT_API_URL=module_server.api_url, PYTHONUTF8="1")
    args = chapter_save_command(local_s3)
    args[args.index("--bucket") + 1] = "otro-bucket"
    code, seen = in_a_terminal(args, env, reply=("Clave secreta de S3", typed))
    assert code == 1, seen
    assert "No escribiste la clave secreta: no guardé nada." in seen
    assert "Traceback" not in seen
    assert block_document(module_server, BLOCK, secrets=True) == before


@pytest.mark.server
@pytest.mark.s3
def test_a_storage_block_that_does_not_exist_is_named(saved, module_server):
    search_refuses(
        module_server,
        "no-existe",
        "No hay un bloque S3Bucket llamado 'no-existe' en el servidor de Prefect.",
        "python introduction/guardar_almacen.py --endpoint URL",
    )


@pytest.mark.server
@pytest.mark.s3
def test_nobody_answering_at_the_endpoint_is_said_at_once(saved, module_server):
    dead = f"http://127.0.0.1:{free_port()}"
    save_block(
        module_server, "cache-apagada", storage_block("resultados-busqueda", dead, "x")
    )
    search_refuses(
        module_server,
        "cache-apagada",
        f"Nadie responde en {dead}: no hay un servicio S3 ahí.",
        "moto_server -H 127.0.0.1 -p 9000",
    )


@pytest.mark.server
@pytest.mark.s3
def test_a_missing_bucket_is_named_and_nothing_is_saved(saved, module_server, local_s3):
    args = chapter_save_command(local_s3)
    args[args.index("--bucket") + 1] = "no-hay-tal"
    args.remove("--crear-bucket")
    result = save(module_server, local_s3, *args)
    assert result.returncode == 1
    assert f"No existe el bucket 'no-hay-tal' en {local_s3.endpoint}." in result.stderr
    assert "Traceback" not in result.stderr
    # Los bloques siguen siendo los de antes
    assert block_document(module_server, BLOCK)["data"]["bucket_name"] == (
        "resultados-busqueda"
    )
    bucket = storage_block("no-hay-tal", local_s3.endpoint, local_s3.key_id)
    save_block(module_server, "cache-sin-bucket", bucket)
    search_refuses(
        module_server,
        "cache-sin-bucket",
        f"No existe el bucket 'no-hay-tal' en {local_s3.endpoint}.",
        "--crear-bucket",
    )


@pytest.mark.server
@pytest.mark.s3
def test_a_wrong_secret_key_is_refused_by_the_service(saved, module_server, local_s3):
    result = save(
        module_server, local_s3, *chapter_save_command(local_s3), secret="mala"
    )
    assert result.returncode == 1
    assert "El servicio no acepta las claves para el bucket 'resultados-busqueda'" in (
        result.stderr
    )
    assert "(respuesta 403)" in result.stderr
    assert "Traceback" not in result.stderr
    secret = block_document(module_server, SECRET, secrets=True)
    assert secret["data"]["value"] == local_s3.secret  # no se guardó la mala
    # Alguien cambia la clave en la UI por una que no es
    from prefect.blocks.system import Secret

    save_block(module_server, SECRET, Secret(value=SecretStr("mala")))
    try:
        search_refuses(
            module_server,
            BLOCK,
            "El servicio no acepta las claves para el bucket 'resultados-busqueda'",
            f"(bloque {SECRET!r}); guárdalas otra vez con",
        )
    finally:
        save_block(module_server, SECRET, Secret(value=local_s3.secret))


@pytest.mark.server
@pytest.mark.s3
def test_a_missing_secret_block_is_named_and_how_to_save_it(
    saved, module_server, local_s3
):
    deleted = prefect_cli(
        module_server, "--no-prompt", "block", "delete", "secret/clave-s3"
    )
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    try:
        search_refuses(
            module_server,
            BLOCK,
            "No hay un bloque Secret llamado 'clave-s3' con la clave secreta de S3.",
            "Blocks, +, Secret.",
        )
    finally:
        from prefect.blocks.system import Secret

        save_block(module_server, SECRET, Secret(value=local_s3.secret))


@pytest.mark.server
@pytest.mark.s3
def test_another_region_is_kept_in_the_block_and_its_bucket_is_created_there(
    saved, module_server, local_s3
):
    # "con AWS, la región (--region)": el bloque la guarda y el bucket se crea en
    # ella (fuera de us-east-1, S3 pide LocationConstraint)
    args = chapter_save_command(local_s3)
    args[args.index("--bucket") + 1] = "resultados-europa"
    result = save(module_server, local_s3, *args, "--region", "eu-west-1")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        bucket = block_document(module_server, BLOCK)
        assert bucket["data"]["credentials"]["region_name"] == "eu-west-1"
        location = local_s3.client().get_bucket_location(Bucket="resultados-europa")
        assert location["LocationConstraint"] == "eu-west-1"
    finally:  # los bloques del capítulo, como estaban
        restored = save(module_server, local_s3, *chapter_save_command(local_s3))
        assert restored.returncode == 0, restored.stdout + restored.stderr
