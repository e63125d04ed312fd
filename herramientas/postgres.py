"""Un PostgreSQL de usar y tirar, con los comandos del README, para las pruebas.

No es una lección: `PostgresCluster` crea un clúster propio en una carpeta
temporal (también como root, ver facts §16) y lo detiene al terminar.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from herramientas.documentos import readme_postgres_setup
from herramientas.procesos import free_port


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
