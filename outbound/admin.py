"""Outbound requests in the console: read-only records of every call asked for and its attempts,
with a "Cancel" action (it stops retries; a call already ringing goes on) and a "Retry" action (a failed
or cancelled request's call asked for again, as a new request). Requests are added from
the transaction and card pages (outbound.admin_actions), the REST endpoint, or the reminder job."""
from django.contrib import admin, messages

from bank import dates
from bank.admin import CardAdmin, TransactionAdmin
from core.masking import mask_phone
from outbound import services
from outbound.admin_actions import place_fraud_alert, place_payment_reminder
from outbound.models import OutboundAttempt, OutboundRequest

# The bank's pages get the outbound actions from here, the app above them (bank never imports outbound).
TransactionAdmin.actions = [*TransactionAdmin.actions, place_fraud_alert]
CardAdmin.actions = [*CardAdmin.actions, place_payment_reminder]


class OutboundAttemptInline(admin.TabularInline):
    model = OutboundAttempt
    fields = ("number", "status", "vapi_call_id", "ended_reason", "error", "started_at", "placed_at", "ended_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboundRequest)
class OutboundRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "purpose", "customer", "masked_phone", "status", "outcome", "attempts", "next_attempt",
                    "created_by", "created_at")
    list_filter = ("purpose", "status", "outcome")
    search_fields = ("customer__name", "customer__phone__endswith", "created_by")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    readonly_fields = ("purpose", "customer", "transaction", "card", "due_date", "status", "outcome", "outcome_at",
                       "promised_date", "attempts", "max_attempts", "retry_seconds", "next_attempt_at", "waits_for_hours",
                       "created_by", "created_at", "updated_at")
    inlines = [OutboundAttemptInline]
    actions = ["cancel_requests", "retry_requests"]

    @admin.display(description="phone")
    def masked_phone(self, request):
        return mask_phone(request.customer.phone)

    @admin.display(description="next attempt (customer's time)", ordering="next_attempt_at")
    def next_attempt(self, request):
        return dates.shown(request.next_attempt_at, request.customer, with_seconds=False) or "—"

    @admin.action(description="Cancel selected requests (stops their retries)", permissions=["change"])
    def cancel_requests(self, request, queryset):
        cancelled = sum(services.request_cancel(request_id=pk, actor=request.user.get_username())[1]
                        for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"{cancelled} request{'s' if cancelled != 1 else ''} cancelled.",
                          messages.SUCCESS if cancelled else messages.WARNING)

    @admin.action(description="Retry selected failed or cancelled requests (asks for the call again)",
                  permissions=["change"])
    def retry_requests(self, request, queryset):
        retried = []
        for pk in queryset.values_list("pk", flat=True):
            try:
                again, created = services.request_retry(request_id=pk, actor=request.user.get_username())
            except services.OutboundInputError as refused:
                self.message_user(request, f"Request {pk}: {refused.message}", messages.WARNING)
                continue
            if created:
                retried.append(f"#{again.pk}")
            else:
                self.message_user(request, f"Request {pk}: request #{again.pk} for the same call is already "
                                           f"{again.status}; nothing added.", messages.INFO)
        if retried:
            self.message_user(request, f"Asked again as request{'s' if len(retried) != 1 else ''} {', '.join(retried)}; "
                                       "the workers place them within the calling hours.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        """The list's actions (Cancel, Retry) need the change permission; a request's own page is read-only
        (no Save): its fields change only through those actions and the workers."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # a request is the record of a call asked for: cancelled, never deleted
