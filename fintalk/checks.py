"""Django's deploy checks of the security settings, run for our own SecurityMiddleware.

Django checks HSTS, nosniff, the HTTPS redirect, the referrer and opener policies and
X-Frame-Options only when `django.middleware.security.SecurityMiddleware` (and
`XFrameOptionsMiddleware`) are in MIDDLEWARE by name. Ours (fintalk/middleware.py) is a subclass
that does both jobs without thread hops, so Django skips them and reports W001/W002 instead,
which settings silence. This runs Django's own check functions as if those names were there, so
`manage.py check --deploy` still says what a production configuration lacks.
"""
from unittest import mock

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.security import base
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware
from django.utils.module_loading import import_string

SETTINGS_CHECKS = (
    base.check_sts, base.check_sts_include_subdomains, base.check_sts_preload, base.check_content_type_nosniff,
    base.check_ssl_redirect, base.check_referrer_policy, base.check_cross_origin_opener_policy,
    base.check_xframe_deny,
)


def _runs_ours() -> bool:
    """A subclass of Django's SecurityMiddleware is in MIDDLEWARE, but not Django's own by name."""
    if "django.middleware.security.SecurityMiddleware" in settings.MIDDLEWARE:
        return False  # Django checks it itself
    return any(isinstance(cls := import_string(path), type) and issubclass(cls, DjangoSecurityMiddleware)
               for path in settings.MIDDLEWARE)


@register(Tags.security, deploy=True)
def security_settings(app_configs, **kwargs):
    if not _runs_ours():
        return []
    with mock.patch.object(base, "_security_middleware", return_value=True), \
            mock.patch.object(base, "_xframe_middleware", return_value=True):
        return [issue for check in SETTINGS_CHECKS for issue in check(app_configs)]
