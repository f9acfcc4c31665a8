"""The dataset card of a generation run lives in `perpetuum.card.text`; this name is kept for existing imports."""

from perpetuum.card.text import *  # noqa: F401,F403
from perpetuum.card.text import __all__  # noqa: F401
