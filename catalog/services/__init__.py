"""Writes of the catalog: import an option tree, generate combinations, edit prices and stock in
bulk.  Every write validates the resulting tree with :mod:`catalog.tree` (the one validator) inside
its transaction and forgets the product's cached T1 (:func:`product_tree_changed`).

- :mod:`.trees`: a product's tree imported whole, checked, its cache forgotten;
- :mod:`.combinations`: the combination generator;
- :mod:`.option_grid`: the admin's grid and its CSV.

The names other code calls are importable from here (``from catalog import services``).
"""

from ..selectors import option_paths
from .combinations import (
    MAX_COMBINATIONS,
    combination_count,
    combinations_generate,
    combinations_tree,
    parse_axes,
)
from .option_grid import (
    CSV_COLUMNS,
    GRID_FIELDS,
    NUMBER_FIELDS,
    options_bulk_update,
    options_csv_export,
    options_csv_import,
    parse_cell,
)
from .trees import (
    PRODUCT_SETTINGS,
    OptionHeld,
    option_tree_import,
    product_tree_changed,
    product_tree_check,
    product_tree_problems,
    unwrap,
)

__all__ = [
    "CSV_COLUMNS",
    "GRID_FIELDS",
    "MAX_COMBINATIONS",
    "NUMBER_FIELDS",
    "PRODUCT_SETTINGS",
    "OptionHeld",
    "combination_count",
    "combinations_generate",
    "combinations_tree",
    "option_paths",
    "option_tree_import",
    "options_bulk_update",
    "options_csv_export",
    "options_csv_import",
    "parse_axes",
    "parse_cell",
    "product_tree_changed",
    "product_tree_check",
    "product_tree_problems",
    "unwrap",
]
