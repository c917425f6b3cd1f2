"""Where forecasts are computed: in this process (locally, where statsmodels is installed), or by
the forecaster function on AWS (the API's and the alerts evaluator's Lambdas have no room for
statsmodels, scipy and pandas). The composition root chooses (tally.services.container: the
function when TALLY_FORECASTER_FUNCTION names one).

Either way a caller gets a TotalForecast or one of tally.foresight.forecast's errors: too little
history (ForecastUnavailableError), or no forecaster to be had (ForecastLibraryMissingError; from
the function: ForecasterUnavailableError for a failure, a timeout or an answer that is not one),
which the API answers 503 and an allocation's status notes instead of a forecast.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

from tally.foresight.forecast import ForecasterUnavailableError, TotalForecast, forecast_total
from tally.foresight.forecast_wire import (
    ForecastRequest,
    WireError,
    decode_answer,
    encode_request,
)

#: An answer is a few kB (one number per day of the horizon); more is not an answer.
MAX_ANSWER_BYTES = 1_000_000


class Forecaster(Protocol):
    def forecast_total(
        self, history: Sequence[float], first_day: date, horizon: int, first_counted: int = 0
    ) -> TotalForecast: ...


class InProcessForecaster:
    """statsmodels in this process (tally.foresight.forecast)."""

    def forecast_total(
        self, history: Sequence[float], first_day: date, horizon: int, first_counted: int = 0
    ) -> TotalForecast:
        return forecast_total(history, first_day, horizon, first_counted)


class LambdaForecaster:
    """The forecaster function, invoked synchronously through a boto3 Lambda client (built on the
    first forecast, so processes that never forecast never build it)."""

    def __init__(self, client: Callable[[], Any], function_name: str) -> None:
        self._client_factory = client
        self._client: Any = None
        # Request threads share one client; boto3 builds clients unsafely across threads.
        self._lock = threading.Lock()
        self.function_name = function_name

    def forecast_total(
        self, history: Sequence[float], first_day: date, horizon: int, first_counted: int = 0
    ) -> TotalForecast:
        if horizon < 1 or not 0 <= first_counted < horizon:
            raise ValueError("forecast at least one day, counting from a day inside the horizon")
        request = ForecastRequest(tuple(float(v) for v in history), first_day, horizon, first_counted)
        payload = self._invoke(json.dumps(encode_request(request), allow_nan=False).encode())
        try:
            return decode_answer(json.loads(payload), request)
        except (WireError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ForecasterUnavailableError(f"the forecaster's answer is not a forecast: {error}") from error

    def _invoke(self, body: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with self._lock:
                if self._client is None:
                    self._client = self._client_factory()
            response = self._client.invoke(
                FunctionName=self.function_name, InvocationType="RequestResponse", Payload=body
            )
            payload = response["Payload"].read(MAX_ANSWER_BYTES + 1)
        except (BotoCoreError, ClientError) as error:  # refused, throttled, unreachable, timed out
            raise ForecasterUnavailableError(f"the forecaster could not be reached: {error}") from error
        if response.get("FunctionError"):
            raise ForecasterUnavailableError(
                f"the forecaster failed ({response['FunctionError']}): {payload[:300]!r}"
            )
        if len(payload) > MAX_ANSWER_BYTES:
            raise ForecasterUnavailableError("the forecaster's answer is over a megabyte: not a forecast")
        return bytes(payload)
