"""Un `prefect server start` propio, para las pruebas, las capturas y las mediciones.

No es una lección: es la herramienta con la que el repositorio comprueba sus
lecciones como las ejecutaría quien aprende. `PrefectServer` levanta el servidor
en un puerto libre con su propio PREFECT_HOME, lo consulta por la API REST, sirve
deployments con los scripts de las lecciones, empieza workers y cocineros (task
workers) y lo detiene por su PID. El clúster
de Dask está en `cluster_dask.py`, PostgreSQL en `postgres.py` y lo que se lee
del README en `documentos.py`.
"""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from herramientas.documentos import readme_lines
from herramientas.procesos import (  # noqa: F401 (también se importan desde aquí)
    ROOT,
    ctrl_c_works,
    free_port,
    run_checked,
    run_python,
    start_logged,
    stop_process,
    wait_for_line,
)


class PrefectServer:
    """Un `prefect server start` propio, con su puerto y su PREFECT_HOME."""

    def __init__(
        self,
        home: Path,
        port: int,
        set_api_port: bool = True,
        auth: str | None = None,
        host: str | None = None,
        **server_env: str,
    ) -> None:
        self.home = Path(home)
        self.port = port
        self.host = host  # --host: dónde escucha (127.0.0.1 si no se dice)
        # Variables solo del servidor: la base de datos, la contraseña, ...
        self.server_env = server_env
        # "usuario:contraseña" para las consultas de las pruebas a la API
        self.auth = auth
        # PREFECT_SERVER_API_PORT igual a --port: sin él, la UI llama al 4200
        self.set_api_port = set_api_port
        self.url = f"http://127.0.0.1:{port}"
        self.api_url = f"{self.url}/api"
        self.log_path = self.home / "servidor.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """El comando que escribe quien aprende (con --port si no es el 4200)."""
        args = ["prefect", "server", "start"]
        if self.host:
            args += ["--host", self.host]
        return args if self.port == 4200 else [*args, "--port", str(self.port)]

    def env(self, **extra: str) -> dict[str, str]:
        """Entorno para un proceso que usa este servidor, sin telemetría."""
        env = {**os.environ, "PREFECT_HOME": str(self.home), **extra}
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env["PYTHONUTF8"] = "1"
        env.pop("PREFECT_PROFILE", None)
        if self.auth:  # el cliente que sabe la contraseña
            env.setdefault("PREFECT_API_AUTH_STRING", self.auth)
        return env

    def start(self, timeout: float = 120) -> "PrefectServer":
        """Iniciar el servidor y esperar a que /api/health responda."""
        self.home.mkdir(parents=True, exist_ok=True)
        program = self._prefect()
        env = self.env(**self.server_env)
        if self.set_api_port:
            env["PREFECT_SERVER_API_PORT"] = str(self.port)
        env.pop("PREFECT_API_URL", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [*program, *self.command()[1:]],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=os.name == "posix",
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"El servidor terminó al iniciar:\n{self.output()}")
            try:
                if self.get("/health") is True:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"El servidor no respondió en {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """Detener el servidor por su PID (y sus hijos), aunque algo haya fallado."""
        if self.process:
            stop_process(self.process, signal.SIGTERM)

    def output(self) -> str:
        """Lo que el servidor escribió en su terminal hasta ahora."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _headers(self, csrf: bool = False) -> dict[str, str]:
        """La contraseña y, para escribir con CSRF activado, un token pedido antes."""
        if not self.auth:
            return {}
        token = base64.b64encode(self.auth.encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        csrf_setting = "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED"
        if csrf and self.server_env.get(csrf_setting, "").lower() == "true":
            client = "pruebas"
            csrf_token = self.get(f"/csrf-token?client={client}")["token"]
            headers |= {"Prefect-Csrf-Token": csrf_token, "Prefect-Csrf-Client": client}
        return headers

    def get(self, path: str):
        """Leer un recurso de la API REST."""
        request = urllib.request.Request(self.api_url + path, headers=self._headers())
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def post(self, path: str, body: dict):
        """Consultar la API REST con un filtro en JSON."""
        request = urllib.request.Request(
            self.api_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._headers(csrf=True)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def flow_runs(self, flow_name: str) -> list[dict]:
        """Las corridas de un flow, de la más nueva a la más vieja."""
        body = {"flows": {"name": {"any_": [flow_name]}}, "sort": "START_TIME_DESC"}
        return self.post("/flow_runs/filter", body)

    def deployment_runs(
        self, deployment_id: str, name: str | None = None
    ) -> list[dict]:
        """Las corridas de un deployment; con `name`, solo las de ese nombre."""
        body: dict = {"deployments": {"id": {"any_": [deployment_id]}}}
        if name:
            body["flow_runs"] = {"name": {"any_": [name]}}
        return self.post("/flow_runs/filter", body)

    def task_runs(self, flow_run_id: str) -> list[dict]:
        """Las task runs de una corrida, en el orden en que empezaron."""
        body = {
            "flow_runs": {"id": {"any_": [flow_run_id]}},
            "sort": "EXPECTED_START_TIME_ASC",
        }
        return self.post("/task_runs/filter", body)

    def deployment(self, name: str, timeout: float = 90) -> dict:
        """Esperar a que un deployment exista y devolverlo."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get(f"/deployments/name/{name}")
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    @contextlib.contextmanager
    def serving(self, script: str, *args: str, **extra_env: str):
        """Ejecutar un script que sirve un deployment; detenerlo con Ctrl+C al salir."""
        # Sondeo cada 1 s (el valor por defecto es 10 s), salvo que se pida otro
        env = self.env(
            **{"PREFECT_RUNNER_POLL_FREQUENCY": "1", **extra_env},
            PREFECT_API_URL=self.api_url,
        )
        log_path = self.home / f"{Path(script).stem}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, script, *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=os.name == "posix",
                preexec_fn=ctrl_c_works(),
            )
            try:
                self._wait_until_served(process, log_path)
                yield process
            finally:
                stop_process(process, signal.SIGINT)  # Ctrl+C

    @staticmethod
    def _wait_until_served(process, log_path: Path, timeout: float = 120) -> None:
        """Esperar el aviso de `serve`, como quien aprende antes de anunciar algo.

        Al volver a servir un deployment, `serve` borra sus automatizaciones y las
        crea de nuevo: un evento emitido en ese hueco no dispara nada. El aviso
        "is being served" se imprime cuando los disparadores ya existen.
        """
        deadline = time.monotonic() + timeout
        while True:
            shown = " ".join(log_path.read_text(errors="replace").split())
            if "is being served" in shown:
                return
            if process.poll() is not None:
                raise RuntimeError(f"{log_path.name}: serve terminó antes:\n{shown}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{log_path.name}: serve no avisó en {timeout} s")
            time.sleep(0.2)

    @contextlib.contextmanager
    def workers(self, **extra_env: str):
        """Los `prefect worker start` del README, cada uno como en su terminal.

        Devuelve {nombre del worker: su proceso}; su salida queda en
        `worker-<nombre>.log` del PREFECT_HOME. Al salir, Ctrl+C a cada uno.
        """
        env = self.env(PREFECT_API_URL=self.api_url, **extra_env)
        started: dict[str, subprocess.Popen] = {}
        try:
            for args in readme_lines("prefect worker start "):
                name = args[args.index("--name") + 1]
                with open(self.home / f"worker-{name}.log", "wb") as log:
                    started[name] = subprocess.Popen(
                        [*self._prefect(), *args[1:]],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=os.name == "posix",
                        preexec_fn=ctrl_c_works(),
                    )
            deadline = time.monotonic() + 120
            for name, process in started.items():
                while f"Worker '{name}' started!" not in self.worker_output(name):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"El worker {name} no arrancó:\n{self.worker_output(name)}"
                        )
                    time.sleep(0.2)
            yield started
        finally:
            for process in started.values():
                stop_process(process, signal.SIGINT)

    @contextlib.contextmanager
    def cook(self, nombre: str, *args: str, **extra_env: str):
        """Un cocinero del capítulo 11 (`restaurant/cocineros.py`), como en su
        terminal, conectado a la cola: el servidor lo lista entre sus task
        workers. Su salida queda en `cocinero-<nombre>.log` (`process.log_path`);
        al salir, Ctrl+C."""
        env = self.env(PREFECT_API_URL=self.api_url, **extra_env)
        log_path = self.home / f"cocinero-{nombre}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "restaurant/cocineros.py", "--nombre", nombre, *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=os.name == "posix",
                preexec_fn=ctrl_c_works(),
            )
        process.log_path = log_path
        try:
            deadline = time.monotonic() + 120
            while not any(
                worker["identifier"].endswith(f"-{process.pid}")
                for worker in self.post("/task_workers/filter", {})
            ):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{nombre} no se conectó a la cola:\n"
                        + log_path.read_text(encoding="utf-8", errors="replace")
                    )
                time.sleep(0.2)
            yield process
        finally:
            stop_process(process, signal.SIGINT)

    def in_background(self, *args: str, name: str, **extra_env: str):
        """Un script de las lecciones contra este servidor, sin esperarlo, como
        en otra terminal; su salida queda en `<name>.log` (`process.log_path`)."""
        env = self.env(PREFECT_API_URL=self.api_url, **extra_env)
        return start_logged(list(args), env, self.home / f"{name}.log")

    def worker_output(self, name: str) -> str:
        """Lo que escribió en su terminal el worker `name`."""
        path = self.home / f"worker-{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _prefect() -> list[str]:
        prefect = Path(sys.executable).parent / "prefect"
        return [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]

    def __enter__(self) -> "PrefectServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextlib.contextmanager
def manager_phone(log_dir: Path, port: int):
    """El teléfono del gerente del capítulo 12 (`restaurant/gerente.py`), como
    en su terminal, escuchando en `port`; su salida queda en
    `gerente-<port>.log` (`process.log_path`). Al salir, Ctrl+C."""
    process = start_logged(
        ["restaurant/gerente.py", "--puerto", str(port)],
        dict(os.environ),
        log_dir / f"gerente-{port}.log",
    )
    try:
        wait_for_line(process, "escucha avisos", timeout=30)
        yield process
    finally:
        stop_process(process, signal.SIGINT)


def quick_start(home: Path, timeout: float = 300) -> str:
    """El inicio rápido del README: run_iris.py sin servidor, en `home`.

    Como quien aprende, sin PREFECT_API_URL ni PREFECT_SERVER_ANALYTICS_ENABLED en
    el entorno: la telemetría la apaga el prefect.toml del repositorio.
    """
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONUTF8": "1"}
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED"):
        env.pop(name, None)
    return run_checked(["introduction/run_iris.py"], env, timeout)


def run_lesson(
    server: PrefectServer,
    *args: str,
    timeout: float = 300,
    columns: int = 110,
    **extra_env: str,
) -> str:
    """Ejecutar un script contra el servidor y devolver lo que mostró, en color."""
    env = server.env(
        PREFECT_API_URL=server.api_url,
        PREFECT_UI_URL=f"{server.url}/v2",
        FORCE_COLOR="1",
        COLUMNS=str(columns),
        **extra_env,
    )
    return run_checked(list(args), env, timeout)
