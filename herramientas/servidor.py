"""Un `prefect server start` propio, para las pruebas, las capturas y las mediciones.

No es una lección: es la herramienta con la que el repositorio comprueba sus
lecciones como las ejecutaría quien aprende. `PrefectServer` levanta el servidor
en un puerto libre con su propio PREFECT_HOME, lo consulta por la API REST, sirve
deployments con los scripts de las lecciones y lo detiene por su PID.
`DaskCluster` levanta, igual, el clúster de Dask de los comandos del README.
"""

import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port(preferred: int | None = None) -> int:
    """Devolver `preferred` si está libre; si no, un puerto libre cualquiera."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred or 0))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, first_signal: int) -> None:
    """Detener un proceso y los suyos: primero con una señal, luego a la fuerza."""
    if process.poll() is not None:
        return
    if os.name == "posix":
        os.killpg(process.pid, first_signal)
    else:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=30)


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
            )
            try:
                self._wait_until_served(process, log_path)
                yield process
            finally:
                stop_process(process, signal.SIGINT)

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


def run_python(
    args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Ejecutar Python desde la raíz del repositorio (así vale prefect.toml)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def run_checked(args: list[str], env: dict[str, str], timeout: float) -> str:
    """Ejecutar un script y devolver su salida; si falla, RuntimeError con ella."""
    result = run_python(args, env, timeout)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} terminó con {result.returncode}:\n{output}"
        )
    return output


README_DASK_PORT = "8786"  # el puerto de los comandos de Dask del README


def readme_dask_command(program: str) -> list[str]:
    """El comando `dask scheduler` o `dask worker` del README, como argumentos."""
    (line,) = readme_lines(f"dask {program} ")
    return line[1:]


class DaskCluster:
    """El clúster de Dask del README: `dask scheduler` y `dask worker` como en otras
    terminales (en un puerto libre), que las pruebas detienen por su PID.

    `worker_args`, si se da, reemplaza las opciones del worker del README: una
    lista por cada proceso `dask worker` que se inicia.
    """

    def __init__(self, server, worker_args: list[list[str]] | None = None, **env):
        self.server = server
        self.port = str(free_port())
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.worker_args = worker_args
        defaults = {
            "PREFECT_API_URL": server.api_url,
            "DASK_LOGGING__DISTRIBUTED": "info",
        }
        # Como en otra terminal después de `prefect config set PREFECT_API_URL=...`
        self.env = server.env(**{**defaults, **env})
        self.logs: list[Path] = []
        self.processes: list[subprocess.Popen] = []

    def _start(self, args: list[str]) -> subprocess.Popen:
        args = [arg.replace(README_DASK_PORT, self.port) for arg in args]
        log = self.server.home / f"dask-{args[0]}-{self.port}-{len(self.logs)}.log"
        self.logs.append(log)
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dask"), *args],
            # Fuera del repositorio: el código de las tasks lo manda el script
            cwd=self.server.home,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # para detenerlo con los suyos
        )
        self.processes.append(process)
        return process

    def __enter__(self) -> "DaskCluster":
        self._start(readme_dask_command("scheduler"))
        worker = readme_dask_command("worker")
        if self.worker_args is None:
            processes = int(worker[worker.index("--nworkers") + 1])
            self._start(worker)
        else:
            processes = len(self.worker_args)
            for args in self.worker_args:
                self._start([*worker[:2], *args])
        from distributed import Client  # solo quien usa Dask lo importa

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(processes, timeout=120)
        return self

    def worker_output(self, index: int) -> str:
        """Lo que escribió el comando `dask worker` número `index` (desde 0)."""
        return self.logs[1 + index].read_text(encoding="utf-8", errors="replace")

    def __exit__(self, *exc_info) -> None:
        for process in reversed(self.processes):
            stop_process(process, signal.SIGTERM)


def postgres_bin() -> Path:
    """La carpeta de los programas de PostgreSQL (la versión más nueva instalada)."""
    if os.environ.get("POSTGRES_BIN"):
        return Path(os.environ["POSTGRES_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
    )
    if not found:
        raise FileNotFoundError(
            "No encuentro PostgreSQL: instálalo (apt-get install postgresql) "
            "o indica su carpeta bin en POSTGRES_BIN."
        )
    return found[-1]


class PostgresCluster:
    """Un PostgreSQL de usar y tirar: su carpeta, un puerto libre, solo en 127.0.0.1.

    PostgreSQL no arranca como root: si las pruebas corren como root, sus
    programas se ejecutan como el usuario `postgres` que crea el paquete de
    Debian. El superusuario `postgres` entra por el socket sin contraseña; por
    TCP (127.0.0.1), como Prefect, hace falta la contraseña del usuario.
    Se detiene con `pg_ctl stop` y, si no responde, por el PID del postmaster.
    """

    def __init__(self, port: int | None = None) -> None:
        # Su propia carpeta en /tmp: el usuario `postgres` no puede entrar en las
        # carpetas temporales de las pruebas (son solo de quien las creó)
        self.directory = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        self.port = port or free_port()
        self.bin = postgres_bin()

    def run(self, program: str, *args: str, check: bool = True):
        """Ejecutar un programa de PostgreSQL (como `postgres` si somos root)."""
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=self.directory
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{program} terminó con {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def client_args(self) -> list[str]:
        """El socket del clúster, para psql y createdb como `sudo -u postgres`."""
        return ["-h", str(self.directory), "-p", str(self.port), "-U", "postgres"]

    def start(self) -> "PostgresCluster":
        """Crear el clúster la primera vez e iniciarlo; esperar a que acepte."""
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        if not self.data.exists():
            # Por el socket (como `sudo -u postgres`), sin contraseña; por TCP, con
            # contraseña, como el PostgreSQL de Debian
            self.run(
                "initdb",
                *("-D", str(self.data), "-U", "postgres"),
                *("--auth-local=trust", "--auth-host=scram-sha-256"),
            )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200"
        )
        self.run(
            "pg_ctl",
            *("-D", str(self.data), "-l", str(self.log_path), "-o", options),
            *("-w", "-t", "120", "start"),
        )
        return self

    def pid(self) -> int | None:
        """El PID del postmaster (la primera línea de postmaster.pid)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split()[0])

    def stop(self) -> None:
        """Detener el clúster; si `pg_ctl` no puede, matar el postmaster por su PID."""
        pid = self.pid()
        if pid is None:
            return
        result = self.run(
            "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False
        )
        if result.returncode != 0 and self.pid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove(self) -> None:
        """Detener el clúster y borrar su carpeta."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, user: str = "prefect", password: str = "prefect") -> str:
        """La dirección que Prefect usa para conectarse a la base `prefect`."""
        return f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{self.port}/prefect"

    def create_prefect_database(self) -> None:
        """El usuario `prefect` (contraseña `prefect`) y su base, como en el README."""
        for line in readme_postgres_setup():
            self.run(line[0], *self.client_args(), *line[1:])

    def __enter__(self) -> "PostgresCluster":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.remove()


def readme_lines(start: str) -> list[list[str]]:
    """Las líneas de comandos del README que empiezan con `start`, como argumentos."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(rf"^{re.escape(start)}.*$", readme, flags=re.MULTILINE)
    return [shlex.split(line) for line in lines]


def readme_postgres_setup() -> list[list[str]]:
    """Los comandos `sudo -u postgres ...` del README que crean el usuario y la base."""
    return [line[3:] for line in readme_lines("sudo -u postgres ")]


def readme_protected_settings() -> dict[str, str]:
    """Las variables con que el README abre el servidor con contraseña."""
    (line,) = readme_lines("PREFECT_SERVER_API_AUTH_STRING=")
    assert line[-3:] == ["prefect", "server", "start"], line
    return dict(arg.split("=", 1) for arg in line[:-3])
