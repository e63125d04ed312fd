"""El clúster de Dask de los comandos del README, para las pruebas y las mediciones.

No es una lección: `DaskCluster` levanta `dask scheduler` y `dask worker` como
los escribe quien aprende, contra un `PrefectServer`.
"""

import signal
import subprocess
import sys
from pathlib import Path

from herramientas.documentos import readme_lines
from herramientas.procesos import free_port, stop_process

README_DASK_PORT = "8786"  # el puerto de los comandos de Dask del README


def readme_dask_command(program: str) -> list[str]:
    """El comando `dask scheduler` o `dask worker` del README, como argumentos."""
    (line,) = readme_lines(f"dask {program} ")
    return line[1:]


class DaskCluster:
    """El clúster de Dask del README: `dask scheduler` y `dask worker` como en otras
    terminales (en un puerto libre), que las pruebas detienen por su PID.

    `worker_args`, si se da, reemplaza las opciones del worker del README: una
    lista por cada proceso `dask worker` que se inicia. `cwd` es la carpeta desde
    donde arrancan (por defecto, el PREFECT_HOME del servidor).
    """

    def __init__(
        self,
        server,
        worker_args: list[list[str]] | None = None,
        cwd: Path | None = None,
        **env,
    ):
        self.server = server
        self.cwd = cwd or server.home
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
            cwd=self.cwd,
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
