"""特定健診 once per person and 年度, guaranteed by the database.

Each record gets its 年度 (from the checkup date) and its person key (保険者番号 + 記号 + 番号 + 枝番,
NFKC without spaces — the same as ``kenshin.rules.person_key``, restated here so that this migration
does not change when the code does). Two partial unique indexes then hold among accepted records:
(person, 年度) and (保険者番号, 受診券整理番号, 年度). The business key (保険者番号, 受診券整理番号,
健診実施日) no longer covers records without a 受診券 (個別契約 without tickets).

Records accepted before this rule that repeat an earlier accepted one (by person or by 受診券 in
the same 年度) stay accepted and billed as they were; their 年度 is left empty so the indexes can
be built, and they are listed in the log of this migration.
"""

import logging
import unicodedata

from django.db import migrations, models

logger = logging.getLogger(__name__)
BATCH = 2000


def _person_key(insurer, symbol, number, branch):
    insurer = insurer.strip()
    if len(insurer) == 6 and insurer.isascii() and insurer.isdigit():
        insurer = "00" + insurer
    parts = (insurer, symbol or "", number or "", branch or "")
    return "|".join(unicodedata.normalize("NFKC", part).replace(" ", "") for part in parts)[:64]


def _fiscal_year(day):
    return day.year if day.month >= 4 else day.year - 1


def populate(apps, schema_editor):
    Record = apps.get_model("intake", "Record")
    people, tickets, legacy = set(), set(), []
    batch = []
    rows = Record.objects.order_by("checked_at", "pk").values_list(
        "pk", "status", "insurer_number", "card_symbol", "card_number", "card_branch", "ticket_number", "checkup_date"
    )
    for pk, status, insurer, symbol, number, branch, ticket, day in rows.iterator(chunk_size=BATCH):
        key = _person_key(insurer, symbol, number, branch)
        year = _fiscal_year(day) if day is not None else None
        if status == "accepted" and year is not None:
            person, card = (key, year), (insurer, ticket, year)
            if person in people or (ticket and card in tickets):
                legacy.append(pk)
                year = None
            else:
                people.add(person)
                if ticket:
                    tickets.add(card)
        batch.append(Record(pk=pk, person_key=key, fiscal_year=year))
        if len(batch) >= BATCH:
            Record.objects.bulk_update(batch, ["person_key", "fiscal_year"])
            batch = []
    if batch:
        Record.objects.bulk_update(batch, ["person_key", "fiscal_year"])
    if legacy:
        logger.warning("accepted records repeating an earlier checkup of the same 年度 (kept, outside the index): %s", legacy)


class Migration(migrations.Migration):

    dependencies = [
        ('agency', '0008_contract_prices_only'),
        ('intake', '0003_routing_models_moved'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='record',
            name='record_accepted_business_key_unique',
        ),
        migrations.AddField(
            model_name='record',
            name='fiscal_year',
            field=models.PositiveSmallIntegerField(blank=True, null=True, verbose_name='年度'),
        ),
        migrations.AddField(
            model_name='record',
            name='person_key',
            field=models.CharField(blank=True, max_length=64, verbose_name='受診者キー'),
        ),
        migrations.RunPython(populate, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='record',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'accepted'), models.Q(('ticket_number', ''), _negated=True)), fields=('insurer_number', 'ticket_number', 'checkup_date'), name='record_accepted_business_key_unique'),
        ),
        migrations.AddConstraint(
            model_name='record',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'accepted'), ('fiscal_year__isnull', False), models.Q(('person_key', ''), _negated=True)), fields=('person_key', 'fiscal_year'), name='record_accepted_person_year_unique'),
        ),
        migrations.AddConstraint(
            model_name='record',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'accepted'), ('fiscal_year__isnull', False), models.Q(('ticket_number', ''), _negated=True)), fields=('insurer_number', 'ticket_number', 'fiscal_year'), name='record_accepted_ticket_year_unique'),
        ),
    ]
