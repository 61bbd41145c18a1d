import argparse

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import ApiChannelKind
from campaigns.services import channels


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


class Command(BaseCommand):
    help = (
        "Create an API channel and print its key id and secret. The secret is shown only now; "
        "rotate it in the channel's page if it is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="unique name of the channel")
        parser.add_argument("--kind", choices=ApiChannelKind.values, default=ApiChannelKind.APP, help="default: app")
        parser.add_argument("--rate", type=_positive, help="requests per minute for the whole channel")
        parser.add_argument("--customer-rate", type=_positive, help="requests per minute about any one customer")

    def handle(self, *args, name, kind, rate=None, customer_rate=None, **options):
        try:
            channel, secret = channels.channel_create(
                actor=None, name=name, kind=kind, rate_per_minute=rate, customer_rate_per_minute=customer_rate
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=1) from None
        self.stdout.write(f"channel: {channel.name} ({channel.kind})")
        self.stdout.write(f"key id: {channel.key_id}")
        self.stdout.write(f"secret: {secret}")
