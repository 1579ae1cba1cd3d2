"""`focus(x,y)`: the crop's centre as fractions of the upright picture (renditions.py says why)."""

from __future__ import annotations

from thumbor.filters import PHASE_PRE_LOAD, BaseFilter, filter_method


class Filter(BaseFilter):
    phase = PHASE_PRE_LOAD

    @filter_method(BaseFilter.DecimalNumber, BaseFilter.DecimalNumber)
    async def focus(self, x, y):
        if 0 <= x <= 1 and 0 <= y <= 1:
            self.context.request.edge_focus = (x, y)
