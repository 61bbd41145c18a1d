"""Campaign models: the configuration staff edit and approve (``config``) and
what the runtime records while customers take part (``runtime``) and what the
analysis keeps (``analysis``)."""

from campaigns.models.analysis import *  # noqa: F403
from campaigns.models.config import *  # noqa: F403
from campaigns.models.config import MONEY as MONEY
from campaigns.models.runtime import *  # noqa: F403
