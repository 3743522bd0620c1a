"""The back office's admin pages: the dashboard on the admin index (backoffice.dashboard) and the
member page (backoffice.members), added to whatever member admin is registered (kakaoplugin's,
extended by callbacks')."""

from __future__ import annotations

from django.contrib import admin

admin.site.index_template = "backoffice/index.html"  # the admin's index with the dashboard on top
