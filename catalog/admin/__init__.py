"""The catalog admin (registered on import by Django's admin autodiscovery).

- :mod:`.product`: the product list and the product's page with its whole option tree (the save
  flow: the one tree validator decides);
- :mod:`.inlines`, :mod:`.forms`: the tree page's nested rows and the tools' forms;
- :mod:`.tree_rows`, :mod:`.fast_widgets`: what keeps a 1,000-option page fast (the tree loaded
  once per request, the rows' widgets written in Python);
- :mod:`.tools`: import, T1 preview, price and stock grid (and CSV), combination generator;
- :mod:`.subscription`: subscription plans (정기결제).
"""

from . import product, subscription  # noqa: F401  (register the admins)
from .forms import GroupForm, OptionForm, SubGroupForm  # noqa: F401
from .product import ProductAdmin  # noqa: F401
