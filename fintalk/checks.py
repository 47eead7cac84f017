"""Django's deploy checks of the security settings, run for our own SecurityMiddleware.

Django checks HSTS, nosniff, the HTTPS redirect, the referrer and opener policies and
X-Frame-Options only when `django.middleware.security.SecurityMiddleware` (and
`XFrameOptionsMiddleware`) are in MIDDLEWARE by name. Ours (fintalk/middleware.py) is a subclass
that does both jobs without thread hops, so Django skips them and reports W001/W002 instead,
which settings silence. This runs Django's own check functions as if those names were there, so
`manage.py check --deploy` still says what a production configuration lacks.

Patches Django 5.2.19's internals: the private `_security_middleware` and `_xframe_middleware`
of `django.core.checks.security.base`, and the list of check functions that consult them
(`SETTINGS_CHECKS`). On an upgrade, re-check that both helpers still exist and still decide
whether the checks run, and add any new check that consults them to `SETTINGS_CHECKS`; then
update the pins below. `tests/test_forks.py` fails while the installed Django, those helpers'
sources, or the set of checks that consult them differ from what is recorded here.
"""
from unittest import mock

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks.security import base
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware
from django.utils.module_loading import import_string

# What this patch was checked against (tests/test_forks.py): sha256 of `inspect.getsource`, 16 hex digits.
UPSTREAM_VERSIONS = {"Django": "5.2.19"}
UPSTREAM_SOURCES = {
    "django.core.checks.security.base:_security_middleware": "e3e716d19c284d45",
    "django.core.checks.security.base:_xframe_middleware": "617ba4b512a45824",
}

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
