"""Indexes for the analysis: the newest activity and award of a campaign and its
queued awards (the records version read on every analysis page), and business
events by time (an analysis reads the events of its window)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0004_analysis_results_taggings"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="activity",
            index=models.Index(fields=["campaign", "id"], name="activity_campaign_newest"),
        ),
        migrations.AddIndex(
            model_name="award",
            index=models.Index(fields=["campaign", "id"], name="award_campaign_newest"),
        ),
        migrations.AddIndex(
            model_name="award",
            index=models.Index(fields=["campaign", "status"], name="award_campaign_status"),
        ),
        migrations.AddIndex(
            model_name="businessevent",
            index=models.Index(fields=["occurred_at"], name="business_event_occurred_at"),
        ),
    ]
