from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = "Outbound calls"

    def ready(self):
        from outbound import actions, receivers  # noqa: F401  (declares its actions; connects to calls.signals.vapi_event)
