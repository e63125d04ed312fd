"""Un servidor con contraseña: explicar en español un 401 en lugar de un traceback.

Con `PREFECT_SERVER_API_AUTH_STRING`, `prefect server start` responde 401
(Unauthorized) a todo cliente que no mande el mismo "usuario:contraseña" en
`PREFECT_API_AUTH_STRING`. Ver "Un servidor con contraseña" en el capítulo 9.
"""

import sys

import httpx
from prefect.settings import get_current_settings

NO_ACCESS = """El servidor {url} pide usuario y contraseña (401 Unauthorized):
PREFECT_API_AUTH_STRING {problem}. Pide la contraseña a quien abrió el servidor y
ejecuta
  prefect config set PREFECT_API_AUTH_STRING='usuario:contraseña'
(capitulos/09-hacia-produccion.md, 'Un servidor con contraseña')."""


def exit_if_unauthorized(error: BaseException) -> None:
    """Salir con código 1 y el motivo si el servidor rechazó la contraseña."""
    if isinstance(error, httpx.HTTPStatusError) and error.response.status_code == 401:
        settings = get_current_settings()
        given = settings.api.auth_string
        problem = "no coincide con la del servidor" if given else "no está definida"
        sys.exit(NO_ACCESS.format(url=settings.api.url, problem=problem))
