"""Settings → adapters → services: the only package that imports adapters.

``assemble`` builds what a role needs, one module per concern: ``store`` (database,
migrations, vault), ``bus`` (bus, cache, registry), ``auth``, ``llm``, ``tools``,
``artifacts`` (blob store, files), ``vectors`` (embedder, vector index) and
``pipeline``. A start that cannot reach a backing service fails with one line naming
the setting (``startup.StartupError``). Only ``chatorch.api`` and ``chatorch.cli``
import this package; they get a ``chatorch.container.Container`` from it.
"""

from chatorch.wiring.assemble import assemble
from chatorch.wiring.bus import live_processes
from chatorch.wiring.startup import StartupError
from chatorch.wiring.store import migrate_database, store_only, vault_for

__all__ = [
    "StartupError",
    "assemble",
    "live_processes",
    "migrate_database",
    "store_only",
    "vault_for",
]
