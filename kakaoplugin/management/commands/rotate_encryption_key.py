"""``manage.py rotate_encryption_key [--dry-run] [--batch-size N]``: re-encrypt stored secrets with
the first key of ``FIELD_ENCRYPTION_KEY`` (idempotent, resumable; see kakaoplugin.key_rotation)."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError

from kakaoplugin.key_rotation import rotate_encryption_key


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest FIELD_ENCRYPTION_KEY (first of the list)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
        parser.add_argument("--batch-size", type=int, default=500, help="rows per committed batch")

    def handle(self, *args, dry_run: bool, batch_size: int, **options):
        try:
            reports = rotate_encryption_key(batch_size=batch_size, dry_run=dry_run)
        except InvalidToken as exc:
            raise CommandError(
                "a stored secret cannot be decrypted by any key of FIELD_ENCRYPTION_KEY: keep the old key "
                "in the list (after the new one) until the rotation has run"
            ) from exc
        for report in reports:
            self.stdout.write(str(report))
        total = sum(r.rotated for r in reports)
        self.stdout.write(("would re-encrypt" if dry_run else "re-encrypted") + f" {total} value(s)")
