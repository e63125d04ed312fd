"""El disparador del seed: cuando llega una persona, se atiende a su grupo.

`serve` registra el deployment `atender-persona/llegadas` con un disparador:
cada evento `restaurante.persona.llegada` crea una corrida cuyo parámetro
`grupo` es el del evento. Necesita `prefect server start` y PREFECT_API_URL.
Ejecutar con ``python restaurant/serve_restaurant.py`` y anunciar llegadas en
otra terminal con ``python restaurant/anunciar_llegada.py``; Ctrl+C detiene.
"""

import asyncio

from prefect.events import DeploymentEventTrigger

from run_restaurant import open_restaurant, serve_party

ARRIVAL_EVENT = "restaurante.persona.llegada"

arrival_trigger = DeploymentEventTrigger(
    name="llegada-de-una-persona",
    expect={ARRIVAL_EVENT},
    match={"prefect.resource.id": "restaurante.persona.*"},
    # Un valor que es solo una expresión conserva su tipo: aquí, el grupo entero
    parameters={"grupo": "{{ event.payload.grupo }}"},
)


if __name__ == "__main__":
    # Las mesas son límites de concurrencia del servidor: valen para todas las
    # corridas, aunque cada una se ejecute en su propio proceso
    asyncio.run(open_restaurant())
    serve_party.serve(name="llegadas", triggers=[arrival_trigger])
