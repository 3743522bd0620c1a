"""The back office: admin pages that read several apps (the dashboard on the admin index, the
member page). Above orders, catalog, callbacks and kakaoplugin; nothing imports it."""
