"""REST endpoint for the bank's systems (its fraud engine, its collections tools): ask for an
outbound call, read requests, cancel one. The API's keys (with their own scope) and OpenAI-style errors;
input the bank cannot act on (an unknown transaction, another customer's card, a reminder with
nothing due) is a 4xx and places no call.

Each route needs an API key with the `outbound` scope (README "API keys"): the key Vapi and the
chat clients hold (`chat`) gets a 403, so it cannot place calls. `api_scope` is read by the API's
key check (DRF's default permission, api.authentication.HasApiKey).

Not in the published OpenAPI document (/api/schema/ describes the OpenAI-compatible API the voice
platform uses); the README's "Outbound calls" documents these routes.
"""
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from outbound import services
from outbound.models import OutboundRequest
from outbound.serializers import OutboundListQuerySerializer, OutboundRequestCreateSerializer, request_data


def _caller(request) -> str:
    return f"api:{getattr(request.user, 'label', 'unknown')}"


def _get(pk: int) -> OutboundRequest:
    found = OutboundRequest.objects.prefetch_related("call_attempts").filter(pk=pk).first()
    if found is None:
        raise services.OutboundNotFound(f"No outbound request {pk}.", param="id")
    return found


class OutboundView(APIView):
    api_scope = "outbound"


class OutboundRequestListView(OutboundView):
    @extend_schema(exclude=True)
    def get(self, request):
        query = OutboundListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = {key: value for key, value in query.validated_data.items() if key != "limit"}
        requests = OutboundRequest.objects.filter(**filters).prefetch_related("call_attempts")
        return Response({"object": "list",
                         "data": [request_data(found) for found in requests[:query.validated_data["limit"]]]})

    @extend_schema(exclude=True)
    def post(self, request):
        data = OutboundRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if fields["purpose"] == OutboundRequest.Purpose.FRAUD_ALERT:
            created_request, created = services.fraud_alert_create(
                customer_id=fields["customer"], transaction_id=fields["transaction"], created_by=_caller(request))
        else:
            created_request, created = services.payment_reminder_create(
                customer_id=fields["customer"], card_id=fields["card"], created_by=_caller(request))
        # 201 for a new request; 200 with the live one when the same call was already asked for.
        return Response(request_data(_get(created_request.pk)), status=201 if created else 200)


class OutboundRequestDetailView(OutboundView):
    @extend_schema(exclude=True)
    def get(self, request, pk: str):
        return Response(request_data(_get(int(pk))))


class OutboundRequestCancelView(OutboundView):
    @extend_schema(exclude=True)
    def post(self, request, pk: str):
        services.request_cancel(request_id=int(pk), actor=_caller(request))
        return Response(request_data(_get(int(pk))))
