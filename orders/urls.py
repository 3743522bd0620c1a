"""Plugin URLs of the orders app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

urlpatterns: list = []
