"""The bank's data in Django's admin, for the operations team (staff only).

A card's status changes only through `bank.services` (the block / unblock actions), so every
change is one conditional update plus one audit event naming the staff user; the form never
edits the status. Loan products are edited here and the agent reads them live. The audit trail
is read-only for everyone, superusers included.
"""
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from bank import dates, services, totp
from bank.models import (Account, AppApproval, AuditEvent, Authenticator, Card, CardPayment, CardReplacement, Customer,
                         Dispute, FlaggedNumber, LoanProduct, Transaction)
from core.admin import ReadOnlyAdmin
from core.masking import mask_phone


class CardInline(admin.TabularInline):
    model = Card
    fields = ("network", "last4", "status", "blocked_at", "block_reason")
    readonly_fields = ("status", "blocked_at", "block_reason")
    extra = 0
    show_change_link = True


class AccountInline(admin.TabularInline):
    model = Account
    fields = ("kind", "last4", "balance", "currency")
    readonly_fields = ("balance",)
    extra = 0
    show_change_link = True


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "masked_phone", "card_count")
    # A term matches part of the name, or the end of the phone ("0001" finds +15550100001).
    search_fields = ("name", "phone__endswith")
    search_help_text = "Search by name or by the last digits of the phone."
    inlines = [AccountInline, CardInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(card_count=Count("cards"))

    @admin.display(description="phone")
    def masked_phone(self, customer):
        return mask_phone(customer.phone)

    @admin.display(description="cards", ordering="card_count")
    def card_count(self, customer):
        return customer.card_count


def _change_cards(request, queryset, change, done_outcome) -> tuple[int, dict[str, int]]:
    """Run a card service for each selected card as this staff user; report what happened."""
    counts: dict[str, int] = {}
    record = getattr(request, "fintalk", None)
    for card in queryset.select_related("customer"):
        result = change(phone=card.customer.phone, last4=card.last4, actor=request.user.get_username(),
                        request_id=record.request_id if record else "")
        counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
    return counts.pop(done_outcome.value, 0), counts


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    list_display = ("last4", "network", "customer", "masked_phone", "status", "blocked_at", "block_reason",
                    "current_balance", "payment_due_date")
    list_filter = ("status", "network")
    search_fields = ("last4", "customer__name", "customer__phone__endswith")
    list_select_related = ("customer",)
    readonly_fields = ("status", "blocked_at", "block_reason")
    actions = ["block_cards", "unblock_cards"]  # outbound/admin.py adds "Place payment reminder"

    @admin.display(description="phone")
    def masked_phone(self, card):
        return mask_phone(card.customer.phone)

    @admin.action(description="Block selected cards", permissions=["change"])
    def block_cards(self, request, queryset):
        def block(**kwargs):
            return services.card_block(reason="blocked by bank staff", **kwargs)

        done, other = _change_cards(request, queryset, block, services.BlockOutcome.BLOCKED)
        self._report(request, done, "blocked", other)

    @admin.action(description="Unblock selected cards", permissions=["change"])
    def unblock_cards(self, request, queryset):
        done, other = _change_cards(request, queryset, services.card_unblock, services.UnblockOutcome.UNBLOCKED)
        self._report(request, done, "unblocked", other)

    def _report(self, request, done: int, verb: str, other: dict[str, int]):
        if done:
            self.message_user(request, f"{done} card{'s' if done != 1 else ''} {verb}.", messages.SUCCESS)
        for outcome, count in other.items():
            self.message_user(request, f"{count} card{'s' if count != 1 else ''}: {outcome.replace('_', ' ')}, "
                                       "nothing changed.", messages.WARNING)


@admin.register(LoanProduct)
class LoanProductAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "apr_min", "apr_max", "term_min_months", "term_max_months",
                    "amount_min", "amount_max")
    list_filter = ("kind",)
    search_fields = ("name", "description")


def _short(identifier: str):
    """A long id in a list column: its first 8 characters, the whole id on hover and in search."""
    if len(identifier) <= 12:
        return identifier or "—"
    return format_html('<span title="{}">{}…</span>', identifier, identifier[:8])


@admin.register(FlaggedNumber)
class FlaggedNumberAdmin(admin.ModelAdmin):
    """Numbers whose calls go straight to a person (calls/assistant.py)."""

    list_display = ("masked", "reason", "created_at", "created_by")
    search_fields = ("phone", "reason")
    readonly_fields = ("created_at", "created_by")

    @admin.display(description="phone")
    def masked(self, flagged):
        return mask_phone(flagged.phone)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):  # the trail is evidence: nobody adds, edits or deletes it
    list_display = ("created_at", "action", "outcome", "card_last4", "masked_phone", "actor_or_caller", "detail",
                    "call", "request")
    list_filter = ("action", "outcome")
    search_fields = ("card_last4", "request_id", "actor", "call_id", "detail")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")  # newest first: what happened last is what staff look for

    @admin.display(description="call id", ordering="call_id")
    def call(self, event):
        return _short(event.call_id)

    @admin.display(description="request id", ordering="request_id")
    def request(self, event):
        return _short(event.request_id)

    @admin.display(description="actor", ordering="actor")
    def actor_or_caller(self, event):
        return event.actor or "caller (voice agent)"


# A case or a ledger row is made by the bank's services (with its audit event), never edited here.



@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("last4", "kind", "customer", "balance", "currency")
    list_filter = ("kind", "currency")
    search_fields = ("last4", "customer__name")
    list_select_related = ("customer",)
    readonly_fields = ("balance",)  # money moves only through bank.services (payments), with an audit event


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("posted", "customer", "merchant", "amount", "currency", "direction", "where",
                    "confirmed_genuine_at")
    list_filter = ("direction", "currency")
    search_fields = ("merchant", "customer__name", "card__last4", "account__last4")
    list_select_related = ("customer", "card", "account")
    date_hierarchy = "posted_at"
    actions = []  # outbound/admin.py adds "Place fraud alert"

    @admin.display(description="on")
    def where(self, item):
        return str(item.card or item.account)

    @admin.display(description="posted (customer's time)", ordering="posted_at")
    def posted(self, item):
        return dates.shown(item.posted_at, item.customer, with_seconds=False)


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("reference", "created_at", "customer", "reason", "status", "transaction", "call_id")
    list_filter = ("reason", "status")
    search_fields = ("reference", "customer__name", "call_id")
    list_select_related = ("customer", "transaction")


@admin.register(CardReplacement)
class CardReplacementAdmin(ReadOnlyAdmin):
    list_display = ("reference", "created_at", "card", "call_id")
    search_fields = ("reference", "card__last4", "call_id")
    list_select_related = ("card",)


@admin.register(CardPayment)
class CardPaymentAdmin(ReadOnlyAdmin):
    list_display = ("reference", "created_at", "card", "from_account", "amount", "currency", "call_id")
    search_fields = ("reference", "card__last4", "call_id")
    list_select_related = ("card", "from_account")


class EnrolForm(forms.ModelForm):
    class Meta:
        model = Authenticator
        fields = ("customer",)

    def clean(self):
        if not settings.FINTALK_SEALING_KEY:
            raise forms.ValidationError("Set FINTALK_SEALING_KEY (a long random string, kept) before enrolling "
                                        "authenticators: their secrets are sealed with it.")
        return super().clean()


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    """Enrolment by staff (bank.totp): adding one makes a new secret, sealed, and shows it once as the
    key and the otpauth:// URI for the customer's app. It is never shown again; enrol anew to replace it."""

    list_display = ("customer", "enrolled_at", "enrolled_by")
    search_fields = ("customer__name", "customer__phone__endswith")
    form = EnrolForm

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        found, secret = totp.enrol(obj.customer, actor=request.user.get_username())
        obj.pk, obj.enrolled_at, obj.enrolled_by = found.pk, found.enrolled_at, found.enrolled_by
        request.fintalk_enrolled = (obj.customer, secret)  # shown once, in this response only

    def response_add(self, request, obj, post_url_continue=None):
        customer, secret = request.fintalk_enrolled
        return TemplateResponse(request, "admin/bank/authenticator_enrolled.html", {
            **self.admin_site.each_context(request), "title": "Authenticator enrolled", "customer": customer,
            "secret": secret, "uri": totp.provisioning_uri(customer, secret), "opts": self.model._meta})


@admin.register(AppApproval)
class AppApprovalAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "customer", "status", "decided_at", "call_id")
    list_filter = ("status",)
    search_fields = ("customer__name", "call_id")
    list_select_related = ("customer",)
