"""``manage.py staff_roles [--reset] [--list]``: the staff roles as Django groups (kakaoplugin.roles)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from kakaoplugin.roles import ROLES, role_permissions, roles_sync


class Command(BaseCommand):
    help = "Create the staff roles (Owner, Order staff, Support (read-only), Developer) as Django groups."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="make each group exactly its role again")
        parser.add_argument("--list", action="store_true", help="print each role's permissions, change nothing")

    def handle(self, *args, reset: bool, list: bool, **options):
        if list:
            for role in ROLES.values():
                self.stdout.write(f"{role.group}: {role.summary}")
                for perm in role_permissions(role):
                    self.stdout.write(f"    {perm.content_type.app_label}.{perm.codename}")
            return
        for group, count in roles_sync(reset=reset).items():
            self.stdout.write(f"{group}: {count} permissions")
