"""manage.py purge_personal_data [--dry-run]: the retention purge, as the daily task runs it."""

from django.conf import settings
from django.core.management.base import BaseCommand

from callbacks.services import retention_purge


class Command(BaseCommand):
    help = (
        "Purge members' personal data older than CALLBACKS_PERSONAL_RETENTION_DAYS and raw callback "
        "payloads older than CALLBACKS_RAW_RETENTION_DAYS (logged as a retention purge in the admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would go, remove nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        run = retention_purge(triggered_by="manage.py purge_personal_data", dry_run=dry_run)
        verb = "would purge" if dry_run else "purged"
        self.stdout.write(
            f"retention purge #{run.pk} {verb} (personal data before {run.personal_cutoff:%Y-%m-%d %H:%M} UTC, "
            f"{settings.CALLBACKS_PERSONAL_RETENTION_DAYS} days; raw payloads before "
            f"{run.raw_cutoff:%Y-%m-%d %H:%M} UTC, {settings.CALLBACKS_RAW_RETENTION_DAYS} days):"
        )
        for name, count in run.counts.items():
            self.stdout.write(f"  {name}: {count}")
