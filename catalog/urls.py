"""Plugin URLs of the catalog app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

urlpatterns: list = []
