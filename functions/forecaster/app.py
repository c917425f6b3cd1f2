"""Lambda entry point of the forecaster: one usage forecast per synchronous invocation, for the API
and the alerts evaluator (tally.foresight.forecaster.LambdaForecaster), whose Lambdas have no room
for statsmodels. It runs on its own layer alone (layers/forecast: numpy, scipy, pandas, patsy,
statsmodels and Tally's forecast modules), not the core layer. The event and the answer are the
wire format of tally.foresight.forecast_wire; a request it cannot answer gets an error answer.
"""

from __future__ import annotations

from typing import Any

from tally.foresight.forecast_wire import handle, preload

preload()  # once per sandbox, in the init phase


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(event)
