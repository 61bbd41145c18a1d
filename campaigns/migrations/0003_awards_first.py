"""Awards are written in the request, their grants in the background: an award
records its prize, reservation, unit of the slot's stock, grant key and status;
activities point at the award (whose grant follows) instead of the grant."""

import django.db.models.deletion
from django.db import migrations, models


def fill(apps, schema_editor):
    Award = apps.get_model("campaigns", "Award")
    Activity = apps.get_model("campaigns", "Activity")
    for award in Award.objects.select_related("grant").iterator():
        award.prize_id = award.grant.prize_id
        award.reservation_id = award.grant.reservation_id
        award.key = award.grant.idempotency_key
        award.status = "granted"
        award.save(update_fields=["prize", "reservation", "key", "status"])
    by_grant = dict(Award.objects.values_list("grant_id", "pk"))
    for activity in Activity.objects.filter(grant__isnull=False).iterator():
        activity.award_id = by_grant.get(activity.grant_id)
        activity.save(update_fields=["award"])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_runtime"),
        ("rewards", "0002_dispatch"),
    ]

    operations = [
        migrations.AddField(
            model_name="award", name="unit", field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="award", name="prize",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="rewards.prize"),
        ),
        migrations.AddField(
            model_name="award", name="reservation",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="rewards.reservation"),
        ),
        migrations.AddField(
            model_name="award", name="key",
            field=models.CharField(max_length=120, null=True, verbose_name="grant idempotency key"),
        ),
        migrations.AddField(
            model_name="award", name="status",
            field=models.CharField(
                choices=[("queued", "queued for granting"), ("granted", "granted"), ("failed", "refused by the prize pool")],
                default="queued", max_length=16, verbose_name="status",
            ),
        ),
        migrations.AddField(
            model_name="award", name="failure",
            field=models.CharField(blank=True, max_length=300, verbose_name="why it failed"),
        ),
        migrations.AlterField(
            model_name="award", name="grant",
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="rewards.grant"),
        ),
        migrations.AddField(
            model_name="activity", name="award",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="campaigns.award"),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RemoveField(model_name="activity", name="grant"),
        migrations.AlterField(
            model_name="award", name="prize",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="rewards.prize"),
        ),
        migrations.AlterField(
            model_name="award", name="key",
            field=models.CharField(max_length=120, unique=True, verbose_name="grant idempotency key"),
        ),
        migrations.AddConstraint(
            model_name="award",
            constraint=models.UniqueConstraint(fields=("campaign", "slot_key", "unit"), name="award_unit_once"),
        ),
        migrations.AddIndex(
            model_name="award",
            index=models.Index(condition=models.Q(("status", "queued")), fields=["at"], name="award_queued"),
        ),
    ]
