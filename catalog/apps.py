from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog and option trees"

    def ready(self) -> None:
        from kakaoplugin.gate import register_fast_path

        from .apis import option_tree

        register_fast_path("options", option_tree)  # option T1: served from cached bytes
