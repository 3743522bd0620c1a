"""Plugin URLs of the catalog app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from .apis import option_tree

urlpatterns: list = [
    path(PATHS["options"], option_tree, name="options"),
]
