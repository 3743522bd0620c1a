from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = _("Catalog and option trees")

    def ready(self) -> None:
        from kakaoplugin.gate import register_fast_path

        from .apis import option_tree

        register_fast_path("options", option_tree)  # option T1: served from cached bytes
        from .hot_reads import watch_catalog_writes

        watch_catalog_writes()  # the copies of option T2's tree and payment T1's plan (catalog.hot_reads)
