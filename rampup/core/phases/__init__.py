"""Phase types (being split by role: see the next commit)."""

from .decays import *  # noqa: F403
from .decays import INF, _Knots, _Ramp  # noqa: F401
