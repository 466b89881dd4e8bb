"""What a call cost: per-million-token prices, and ``Usage`` to US dollars.

The default prices ship as a data file (``prices.toml`` beside this module:
input, cached input, cache write and output prices for common OpenAI,
Anthropic, Google, DeepSeek and xAI models). Prices change, so a table is
a value you can replace or extend::

    prices = PriceTable.default().merged({"my-finetune": Price(input=1.0, output=4.0)})
    prices = PriceTable.load("my-prices.toml")  # same format as prices.toml
    usd = prices.cost(response.usage, response.model)

A model matches its exact name, else (after dropping a ``vendor/`` or
``models/`` prefix) the longest listed name it starts with followed by
``-`` — ``gpt-4o-2024-08-06`` is priced as ``gpt-4o``.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from actrio.types import Usage

__all__ = ("Price", "PriceNotFound", "PriceTable", "cost")

_PER: Final = 1_000_000


class PriceNotFound(LookupError):
    """No price is known for a model."""


def _price(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "cache_write":
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"Price.{attribute.name}: expected a number, got {value!r}")
    if value < 0:
        raise ValueError(f"Price.{attribute.name}: must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class Price:
    """US dollars per million tokens for one model.

    Attributes:
        input: An uncached prompt token.
        output: A generated token (reasoning included).
        cached_input: A prompt token read from the cache (default: ``input``).
        cache_write: A prompt token written to the cache (default: ``input``).
    """

    input: float = attrs.field(validator=_price)
    output: float = attrs.field(validator=_price)
    cached_input: float = attrs.field(
        default=attrs.Factory(lambda self: self.input, takes_self=True), validator=_price
    )
    cache_write: float | None = attrs.field(default=None, validator=_price)

    def cost(self, usage: Usage) -> float:
        """Dollars for ``usage`` at this price."""
        write = usage.cache_write_tokens
        cached = usage.cached_input_tokens
        plain = max(usage.input_tokens - cached - write, 0)
        write_price = self.input if self.cache_write is None else self.cache_write
        return (
            plain * self.input
            + cached * self.cached_input
            + write * write_price
            + usage.output_tokens * self.output
        ) / _PER


def _frozen_prices(prices: Mapping[str, Price]) -> Mapping[str, Price]:
    return MappingProxyType(dict(prices))


@attrs.frozen
class PriceTable:
    """Prices by model name; immutable (``merged`` gives a new table)."""

    prices: Mapping[str, Price] = attrs.field(converter=_frozen_prices)

    @classmethod
    def default(cls) -> PriceTable:
        """The prices shipped with actrio (``prices.toml``), parsed once per process.

        The table is immutable, so every caller can share it.
        """
        return _default()

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        """Read a table from a TOML file in the format of ``prices.toml``.

        Raises:
            ValueError: If the file is not valid TOML or a price is malformed;
                the message names the file and the model.
        """
        path = Path(path)
        return cls.parse(path.read_text("utf-8"), where=str(path))

    @classmethod
    def parse(cls, text: str, *, where: str = "<prices>") -> PriceTable:
        """Parse TOML text in the format of ``prices.toml``.

        Raises:
            ValueError: On invalid TOML or a malformed entry, naming ``where``.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{where}: {exc}") from None
        models = data.get("models")
        if not isinstance(models, dict):
            raise ValueError(f'{where}: expected a [models."name"] table per model')
        prices: dict[str, Price] = {}
        for name, entry in models.items():
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: models.{name!r} must be a table")
            unknown = set(entry) - {"input", "cached_input", "cache_write", "output"}
            if unknown:
                raise ValueError(f"{where}: models.{name!r} has unknown keys {sorted(unknown)}")
            try:
                prices[name] = Price(**entry)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: models.{name!r}: {exc}") from None
        return cls(prices)

    def merged(self, other: PriceTable | Mapping[str, Price]) -> PriceTable:
        """A new table: these prices, overridden and extended by ``other``."""
        extra = other.prices if isinstance(other, PriceTable) else other
        for name, price in extra.items():
            if not isinstance(price, Price):
                raise TypeError(f"price for {name!r}: expected a Price, got {type(price).__name__}")
        return PriceTable({**self.prices, **extra})

    def get(self, model: str) -> Price | None:
        """The price for ``model`` (exact, then longest ``name-`` prefix), or ``None``."""
        price = self.prices.get(model)
        if price is not None:
            return price
        name = model.rsplit("/", 1)[-1]
        price = self.prices.get(name)
        if price is not None:
            return price
        best = ""
        for known in self.prices:
            if name.startswith(known + "-") and len(known) > len(best):
                best = known
        return self.prices[best] if best else None

    def price(self, model: str) -> Price:
        """The price for ``model``.

        Raises:
            PriceNotFound: If the table has none.
        """
        price = self.get(model)
        if price is None:
            raise PriceNotFound(
                f"no price for model {model!r}; add one with PriceTable.merged() or load a table"
            )
        return price

    def cost(self, usage: Usage, model: str) -> float:
        """Dollars ``usage`` of ``model`` cost.

        Raises:
            PriceNotFound: If the table has no price for ``model``.
        """
        return self.price(model).cost(usage)


@functools.cache
def _default() -> PriceTable:
    text = resources.files("actrio.adapters").joinpath("prices.toml").read_text("utf-8")
    return PriceTable.parse(text, where="actrio/adapters/prices.toml")


def cost(usage: Usage, model: str, prices: PriceTable | None = None) -> float:
    """Dollars ``usage`` of ``model`` cost, at ``prices`` or the default table.

    Raises:
        PriceNotFound: If no price is known for ``model``.
    """
    return (prices or _default()).cost(usage, model)
