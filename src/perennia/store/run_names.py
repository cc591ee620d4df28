"""Friendly generated run names (`brave-otter-042`), so an unnamed run is still easy to point at."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "agile amber bold brave bright calm clever crisp daring eager fancy fierce gentle glad golden "
    "grand happy honest jolly keen kind lively lucky merry mighty nimble noble polite proud quick "
    "quiet rapid serene sharp shy silent smooth steady sunny swift tidy vivid warm wise witty"
).split()
_NOUNS = (
    "otter falcon heron lynx badger panda koala gecko bison crane dolphin eagle ferret gazelle hare "
    "ibis jaguar kestrel lemur marten newt ocelot owl puffin quail raven salmon seal tapir toucan "
    "viper walrus wombat yak zebra finch moose mole swan whale"
).split()


def generate_run_name(rng: random.Random | None = None) -> str:
    """Return a random name such as `brave-otter-042`."""
    rng = rng or random
    return f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randrange(1000):03d}"
