"""Admin actions that ask for outbound calls from the bank's own pages: "Place fraud alert" on
transactions and "Place payment reminder" on cards. outbound/admin.py adds them to the
bank's admins (bank never imports outbound); the rules are outbound.services', the same as the REST endpoint's."""
from django.contrib import admin, messages

from outbound import services


def _place(modeladmin, request, records, create, noun: str) -> None:
    created = existing = 0
    actor = request.user.get_username()
    for record in records:
        try:
            _, new = create(record, actor)
        except services.OutboundInputError as refused:
            modeladmin.message_user(request, f"{noun} {record.pk}: {refused.message}", messages.WARNING)
            continue
        created += new
        existing += not new
    if created:
        modeladmin.message_user(request, f"{created} call{'s' if created != 1 else ''} requested; the workers "
                                         "place them within the calling hours.", messages.SUCCESS)
    if existing:
        modeladmin.message_user(request, f"{existing} already had a call requested; nothing added.", messages.INFO)


@admin.action(description="Place fraud alert", permissions=["change"])
def place_fraud_alert(modeladmin, request, queryset):
    def create(spent, actor):
        return services.fraud_alert_create(customer_id=spent.customer_id, transaction_id=spent.pk, created_by=actor)

    _place(modeladmin, request, queryset, create, "Transaction")


@admin.action(description="Place payment reminder", permissions=["change"])
def place_payment_reminder(modeladmin, request, queryset):
    def create(card, actor):
        return services.payment_reminder_create(customer_id=card.customer_id, card_id=card.pk, created_by=actor)

    _place(modeladmin, request, queryset, create, "Card")
