"""The product catalog: per product, what the archive step exports and the reset step deletes or keeps."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from ruamel.yaml import YAML

#: Never deleted by any product's reset: the guides keep educators and organizations year over year.
ALWAYS_KEPT = frozenset({"educator_accounts", "organizations"})


class ProductPolicy(BaseModel):
    """One product's data policy."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    display_name: str
    archive: tuple[str, ...]
    delete: tuple[str, ...]
    keep: tuple[str, ...]
    student_data_export: bool = False

    @model_validator(mode="after")
    def _nothing_deleted_unarchived(self) -> ProductPolicy:
        # The product's central safety rule, enforced on the data itself.
        unarchived = set(self.delete) - set(self.archive)
        if unarchived:
            raise ValueError(f"deletes data it does not archive: {sorted(unarchived)}")
        kept_and_deleted = set(self.delete) & (set(self.keep) | ALWAYS_KEPT)
        if kept_and_deleted:
            raise ValueError(f"both deletes and keeps: {sorted(kept_and_deleted)}")
        return self


class Catalog(BaseModel):
    """All products, by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    products: dict[str, ProductPolicy] = Field(min_length=1)

    def policy(self, product: str) -> ProductPolicy:
        """The policy of a product; KeyError names the known ones."""
        try:
            return self.products[product]
        except KeyError:
            raise KeyError(
                f"unknown product {product!r}; known: {', '.join(sorted(self.products))}"
            ) from None


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with the package (rollover/data/products.yaml)."""
    text = files("rollover").joinpath("data/products.yaml").read_text(encoding="utf-8")
    return Catalog.model_validate(YAML(typ="safe").load(text))
