"""The campaign runtime: what serves live campaigns to customers through the
channel API — per-process compiled campaigns (``state``), Redis counters
changed by Lua scripts (``counters``), the participation engine (``engine``)
and the lottery's alias draws (``alias``)."""
