"""Plugin URLs of the callbacks app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths)."""

urlpatterns: list = []
