"""Plugin URLs of the orders app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from .option_apis import OptionSelect

urlpatterns: list = [
    path(PATHS["option"], OptionSelect.as_view(), name="option"),
]
