"""Hard budgets: a run stops before the model request that could cross a limit in dollars, tokens or seconds.

Before a request is sent, its worst case is reserved: its prompt tokens plus its `max_tokens`, priced with the
price table. The prompt is counted exactly where the backend can (`count_prompt_tokens`: the embedded model
tokenizes its chat-templated prompt); elsewhere `prompt_token_bound` gives a bound no byte-level tokenizer exceeds
(each token covers at least one UTF-8 byte): the bytes of every message's content and role, plus a template
allowance per message and per request, plus the bytes of the JSON schema for backends that may put it in the
prompt. A request whose worst case does not fit beside what is spent and what requests in flight have reserved is
refused, and so is every request after it: the run stops, finished records are kept, and `--resume` with a raised
limit goes on from there. After an answer, its reservation is replaced by what it really used.

Seconds are wall time over every session of the run; a request is refused when the time spent plus the longest
request this backend has taken so far would pass the limit. Cache hits cost nothing and are never refused. The
ledger pickles (its lock and clock restart on the other side), so a Ray run keeps one in an actor that every record
actor reserves from (`perpetuum.scale.ray_budget`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from perpetuum.errors import RunStopped, SpecError

__all__ = ["BudgetLedger", "Reservation", "price_for", "prompt_token_bound", "prompt_tokens_for"]

# Template tokens allowed per message (role markers, separators: ChatML spends 5, Llama 3 about 5, the longest
# common templates under 16) and per request (BOS, the assistant header the generation starts from, a default
# system prompt some templates add: SmolLM's ChatML adds about 20).
TEMPLATE_TOKENS_PER_MESSAGE = 16
TEMPLATE_TOKENS_PER_REQUEST = 64


def prompt_token_bound(messages: list[dict], json_schema: dict | None = None) -> int:
    """An upper bound on a chat request's prompt tokens for any byte-level tokenizer (BPE over bytes, or
    SentencePiece with byte fallback): a token covers at least one byte, so content and role bytes bound their
    tokens, and the template allowances bound what the chat template adds."""
    import json

    total = TEMPLATE_TOKENS_PER_REQUEST
    for message in messages:
        content = message.get("content", "")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        total += len(text.encode("utf-8")) + len(str(message.get("role", "")).encode("utf-8"))
        total += TEMPLATE_TOKENS_PER_MESSAGE
    if json_schema is not None:  # an API may describe the schema to the model inside the prompt
        total += len(json.dumps(json_schema, ensure_ascii=False).encode("utf-8")) + TEMPLATE_TOKENS_PER_REQUEST
    return total


async def prompt_tokens_for(backend, messages: list[dict], json_schema: dict | None = None) -> int:
    """The prompt tokens to reserve for one request: the backend's exact count when it has one
    (`async count_prompt_tokens(messages, json_schema) -> int | None`), else `prompt_token_bound`."""
    count = getattr(backend, "count_prompt_tokens", None)
    if count is not None:
        exact = await count(messages, json_schema)
        if exact is not None:
            return int(exact)
    return prompt_token_bound(messages, json_schema)


def price_for(backend: str, info: dict, prices: dict):
    """The backend's Price (by spec name, then model name); a zero price for an embedded model; None if unknown."""
    from perpetuum.pipeline.spec import Price

    price = prices.get(backend) or prices.get(info.get("model", ""))
    if price is None and info.get("kind") == "embedded":
        return Price()
    return price


@dataclass
class Reservation:
    backend: str
    tokens: int
    usd: float


class BudgetLedger:
    """What a run may still spend. `spent_before`: {"tokens", "usd"} paid by earlier sessions of the run;
    `seconds_before`: their wall time. Thread-safe."""

    def __init__(self, limits: dict[str, float], backends: dict[str, dict], prices: dict,
                 spent_before: dict | None = None, seconds_before: float = 0.0) -> None:
        self.limits = dict(limits)
        self.prices = {name: price_for(name, info, prices) for name, info in backends.items()}
        if "usd" in self.limits:
            unpriced = sorted(name for name, price in self.prices.items() if price is None)
            if unpriced:
                raise SpecError(f"execution.budget.usd: no price for backend(s) {', '.join(unpriced)}; add them to "
                                "the spec's `prices` (by backend or model name) or set a token budget instead")
        spent_before = spent_before or {}
        self.spent = {"tokens": int(spent_before.get("tokens", 0)), "usd": float(spent_before.get("usd", 0.0))}
        self.session_spent = {"tokens": 0, "usd": 0.0}
        self.reserved = {"tokens": 0, "usd": 0.0}
        self.seconds_before = float(seconds_before)
        self.started = time.monotonic()
        self.stopped: RunStopped | None = None
        self._longest_call: dict[str, float] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = {key: value for key, value in self.__dict__.items() if key not in ("_lock", "started")}
        state["seconds_before"] = self.seconds()  # monotonic clocks differ between processes and machines
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def seconds(self) -> float:
        return self.seconds_before + (time.monotonic() - self.started)

    def _usd(self, backend: str, prompt_tokens: float, completion_tokens: float) -> float:
        price = self.prices.get(backend)
        if price is None:
            return 0.0
        return prompt_tokens / 1e6 * price.input_per_million + completion_tokens / 1e6 * price.output_per_million

    def reserve(self, backend: str, prompt_tokens: int, max_tokens: int) -> Reservation:
        """Reserve the worst case of one request (`prompt_tokens` from `prompt_tokens_for`), or raise RunStopped
        (then and for every later request)."""
        with self._lock:
            if self.stopped is not None:
                raise self.stopped
            prompt = int(prompt_tokens)
            reservation = Reservation(backend, prompt + max_tokens, self._usd(backend, prompt, max_tokens))
            problem = self._over(reservation, backend)
            if problem:
                self.stopped = RunStopped(problem[1], kind="budget", limit=problem[0])
                raise self.stopped
            self.reserved["tokens"] += reservation.tokens
            self.reserved["usd"] += reservation.usd
            return reservation

    def _over(self, reservation: Reservation, backend: str) -> tuple[str, str] | None:
        tokens_limit = self.limits.get("tokens")
        if tokens_limit is not None:
            committed = self.spent["tokens"] + self.reserved["tokens"]
            if committed + reservation.tokens > tokens_limit:
                return "tokens", (f"token budget {tokens_limit:,.0f}: {self.spent['tokens']:,} spent and "
                                  f"{self.reserved['tokens']:,} reserved by requests in flight; the next request "
                                  f"could take up to {reservation.tokens:,} more")
        usd_limit = self.limits.get("usd")
        if usd_limit is not None:
            committed = self.spent["usd"] + self.reserved["usd"]
            if committed + reservation.usd > usd_limit:
                return "usd", (f"dollar budget ${usd_limit:,.4f}: ${self.spent['usd']:,.4f} spent and "
                               f"${self.reserved['usd']:,.4f} reserved by requests in flight; the next request "
                               f"could cost up to ${reservation.usd:,.4f} more")
        seconds_limit = self.limits.get("seconds")
        if seconds_limit is not None:
            elapsed, longest = self.seconds(), self._longest_call.get(backend, 0.0)
            if elapsed + longest > seconds_limit:
                return "seconds", (f"time budget {seconds_limit:,.0f} s: {elapsed:,.1f} s spent; the next request "
                                   f"could take {longest:,.1f} s (the longest so far)")
        return None

    def settle(self, reservation: Reservation, completion) -> None:
        """Replace a reservation by what the request used (`completion` None: it failed and is not counted)."""
        with self._lock:
            self.reserved["tokens"] -= reservation.tokens
            self.reserved["usd"] -= reservation.usd
            if completion is None:
                return
            prompt, output = int(completion.prompt_tokens), int(completion.completion_tokens)
            usd = self._usd(reservation.backend, prompt, output)
            for spent in (self.spent, self.session_spent):
                spent["tokens"] += prompt + output
                spent["usd"] += usd
            seconds = float(getattr(completion, "seconds", 0.0) or 0.0)
            self._longest_call[reservation.backend] = max(self._longest_call.get(reservation.backend, 0.0), seconds)

    def summary(self) -> dict:
        """For the card: the limits, what the whole run spent, and the stop (which limit, why) if there was one."""
        return {
            "limits": dict(self.limits),
            "spent": {"tokens": self.spent["tokens"], "usd": round(self.spent["usd"], 6),
                      "seconds": round(self.seconds(), 3)},
            "stopped_by": None if self.stopped is None else self.stopped.limit,
            "reason": None if self.stopped is None else self.stopped.reason,
        }
