"""Fintalk settings: every knob is an environment variable, read here and only here.

Values are cast once and fail loudly when malformed (a typo in FINTALK_AUTH must not quietly
turn authentication off). `.env.example` and the README list every variable read below.
Why one module of ~400 lines: configuration lives in one place (each block names its issue), so
every variable can be found, and checked against `.env.example`, in one file.
"""
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use true or false.")


def env_number(name: str, default, cast=int):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a {cast.__name__}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Django core -------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
# The API signs nothing, so a random per-process key keeps a fresh checkout runnable; the console's
# sessions need DJANGO_SECRET_KEY set (with a random key a sign-in lasts one worker's lifetime and
# another worker does not recognise it).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or os.urandom(32).hex()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: /api/docs/ needs no CDN
    "bank",
    "api",
    "console",
    "calls",
    "outbound",  # #21: the bank's outbound calls
    "demo",  # the offline demo model (FINTALK_LLM=demo), registered with the agent in its ready()
    "rehearse",  # #29: simulated callers, their results and console pages
    "fintalk",  # its system checks (fintalk/checks.py)
]

MIDDLEWARE = [
    "api.observability.RequestRecordMiddleware",
    # Sessions, users and messages for /admin/ and /playground/ only (fintalk/middleware.py).
    "fintalk.middleware.ConsoleMiddleware",
    # Django's SecurityMiddleware run without thread hops. CommonMiddleware is left out: with
    # APPEND_SLASH and PREPEND_WWW off and no DISALLOWED_USER_AGENTS it would only cost two hops.
    "fintalk.middleware.SecurityMiddleware",
]

# Session, Authentication and Message middleware run inside ConsoleMiddleware, per path, so that the
# API never pays their thread hops; CSRF is the console views' own csrf_protect. Django's checks
# look for them in MIDDLEWARE only, so exactly those complaints are silenced: admin.E408,
# admin.E409, admin.E410 (session, auth, message middleware) and security.W003 (CSRF).
# security.W001 looks for django.middleware.security.SecurityMiddleware by name: ours is a subclass
# (fintalk/checks.py runs Django's checks of its settings for it, so silencing W001 hides nothing).
# security.W002: no XFrameOptionsMiddleware, since fintalk.middleware.SecurityMiddleware sets
# X-Frame-Options (X_FRAME_OPTIONS) on every response without its thread hop.
# security.W008: TLS ends at the proxy, which redirects http to https; the app must not redirect,
# since a 301 turns a POST into a GET and probes and Prometheus reach it over plain HTTP in the cluster.
# security.W021: HSTS preload commits the bank's whole domain to browsers' lists: its owner's decision.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W003", "security.W001",
                          "security.W002", "security.W008", "security.W021"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
LOGIN_URL = "admin:login"  # the console signs staff in on the admin's login page
# Origins allowed to post the console's forms when a proxy's scheme or host differs from the one
# Django sees (e.g. https://fintalk.example.com behind a TLS-terminating proxy).
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Production security: Django's SecurityMiddleware settings (fintalk.middleware) ---------------
# DJANGO_HTTPS=true: clients reach Fintalk over HTTPS at a proxy that terminates TLS and sets
# X-Forwarded-Proto itself (deploy/nginx.conf does), and nothing reaches the app around that proxy.
# Requests carrying `X-Forwarded-Proto: https` are then secure, the console's cookies go over HTTPS
# only, and HTTPS responses tell browsers to keep to HTTPS (HSTS). Off: plain HTTP (local use).
DJANGO_HTTPS = env_bool("DJANGO_HTTPS", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if DJANGO_HTTPS else None
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = DJANGO_HTTPS
SECURE_HSTS_SECONDS = env_number("DJANGO_HSTS_SECONDS", 31_536_000) if DJANGO_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # names under the API's own host only
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # the playground takes its token from the page, never from the cookie

ROOT_URLCONF = "fintalk.urls"
ASGI_APPLICATION = "fintalk.asgi.application"
WSGI_APPLICATION = "fintalk.wsgi.application"
APPEND_SLASH = False  # routes match with and without the slash; a redirect would turn a POST into a GET

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_number("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue instead of failing with "database is locked" (several workers, concurrent blocks);
    # tests use a file too, since SQLite's shared in-memory cache fails table locks at once.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # One file per test process, so that two suites in one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The rate limiter's counters and the card lockout's wrong-digit counts. Local memory is per process;
# with several workers or hosts set FINTALK_CACHE_URL=redis://host:6379/0 so that every worker counts
# against the same limit and sees the same lockouts.
FINTALK_CACHE_URL = env_str("FINTALK_CACHE_URL", "")
if FINTALK_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": FINTALK_CACHE_URL}}
elif FINTALK_CACHE_URL:
    raise ImproperlyConfigured(f"FINTALK_CACHE_URL={FINTALK_CACHE_URL!r}: use a redis:// URL or leave it empty.")
else:
    # Django's local memory keeps 300 entries, then drops the least recently used third: a worker with a
    # few hundred calls (a caller summary, a verified level, code and lockout counters each) lost its
    # lockouts and verified callers, and re-read callers from the database (#32: the CPU cliff between
    # 300 and 400 calls per worker). 100,000 entries of a few hundred bytes hold thousands of calls.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fintalk",
                          "OPTIONS": {"MAX_ENTRIES": 100_000}}}

# --- #19 degraded modes ---
# A Redis that is down or unreachable costs each request at most this many seconds (connect, and each
# reply), then the request goes on without it (core/degraded.py says how); redis-py waits forever.
FINTALK_CACHE_TIMEOUT = env_number("FINTALK_CACHE_TIMEOUT", 0.5, float)
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES["default"]["OPTIONS"] = {"socket_connect_timeout": FINTALK_CACHE_TIMEOUT,
                                    "socket_timeout": FINTALK_CACHE_TIMEOUT}

# Bodies larger than this get a 413 OpenAI-style error (Django checks it when the body is read).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_number("FINTALK_MAX_BODY_BYTES", 1_048_576)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by whitenoise ahead of Django (fintalk/static_files.py), gzip variants made by collectstatic
# (the Docker build runs it). Without collectstatic the apps' static/ folders are served directly.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_ROOT.is_dir()

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- REST framework ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasApiKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],  # DRF's, with a nesting limit
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # A client's address is the ASGI peer, which uvicorn already takes from X-Forwarded-For when the
    # peer is a trusted proxy (gunicorn --forwarded-allow-ips): DRF must not trust the header again.
    "NUM_PROXIES": 0,
    # No Accept header makes a 406: what cannot be negotiated is answered as JSON (api/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.negotiation.JSONFallbackNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI document at /api/schema/ and its Swagger UI at /api/docs/ (api/schema.py).
SPECTACULAR_SETTINGS = {
    "TITLE": "Fintalk API",
    "DESCRIPTION": "OpenAI-compatible chat completions, responses, completions, embeddings and models, "
                   "answered by Fintalk Bank's voice agent. Every path is also served under /v1/.",
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"FunctionTypeEnum": ["function"]},
    "PREPROCESSING_HOOKS": ["api.schema.only_api_paths"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.add_components"],
}

# --- Fintalk ------------------------------------------------------------------------------------
FINTALK_AUTH = env_str("FINTALK_AUTH", "enabled").strip().lower()
if FINTALK_AUTH not in {"enabled", "disabled"}:
    raise ImproperlyConfigured(f"FINTALK_AUTH={FINTALK_AUTH!r}: use 'enabled' (default) or 'disabled'.")
FINTALK_API_KEYS = env_list("FINTALK_API_KEYS")
# Region assumed for phone numbers written without a country code (phonenumbers region code).
FINTALK_PHONE_REGION = env_str("FINTALK_PHONE_REGION", "US")
# Whose account a turn acts on comes from the request's structured caller (Vapi's customer.number,
# the native endpoint's phone_number), else from a [phone: ...] tag: `any` trusts a tag in a
# system/developer message, and in a user message of a request that is not a voice-platform call
# (curl, the demo); `system` only system/developer tags; `off` no tag (tags are stripped all the same).
FINTALK_PHONE_TAGS = env_str("FINTALK_PHONE_TAGS", "any").strip().lower()
if FINTALK_PHONE_TAGS not in {"any", "system", "off"}:
    raise ImproperlyConfigured(f"FINTALK_PHONE_TAGS={FINTALK_PHONE_TAGS!r}: use any (default), system or off.")
# After this many wrong last-four digits for one phone within FINTALK_CARD_LOCKOUT_SECONDS, card
# actions for that phone are refused for FINTALK_CARD_LOCKOUT_SECONDS (counted in the cache above).
FINTALK_CARD_LOCKOUT_ATTEMPTS = env_number("FINTALK_CARD_LOCKOUT_ATTEMPTS", 5)
FINTALK_CARD_LOCKOUT_SECONDS = env_number("FINTALK_CARD_LOCKOUT_SECONDS", 900)
if FINTALK_CARD_LOCKOUT_ATTEMPTS < 1 or FINTALK_CARD_LOCKOUT_SECONDS < 1:
    raise ImproperlyConfigured("FINTALK_CARD_LOCKOUT_ATTEMPTS and FINTALK_CARD_LOCKOUT_SECONDS must be at least 1.")

# --- #18 the bank's phone line: verification, one-time codes, payments, a human ---
FINTALK_BANK_NAME = env_str("FINTALK_BANK_NAME", "Fintalk Bank")
# Level 1 (bank.verification) lasts this long for a call, in the shared cache.
FINTALK_VERIFICATION_SECONDS = env_number("FINTALK_VERIFICATION_SECONDS", 3600)
# One-time codes: valid this long; this many wrong codes (or wrong security answers) lock the phone's
# verification for FINTALK_CODE_LOCKOUT_SECONDS.
FINTALK_CODE_TTL_SECONDS = env_number("FINTALK_CODE_TTL_SECONDS", 300)
FINTALK_CODE_LOCKOUT_ATTEMPTS = env_number("FINTALK_CODE_LOCKOUT_ATTEMPTS", 3)
FINTALK_CODE_LOCKOUT_SECONDS = env_number("FINTALK_CODE_LOCKOUT_SECONDS", 900)
# Codes sent: a pause before a resend, at most this many per call and per phone a day (SMS pumping).
FINTALK_CODE_RESEND_SECONDS = env_number("FINTALK_CODE_RESEND_SECONDS", 30)
FINTALK_CODE_MAX_PER_CALL = env_number("FINTALK_CODE_MAX_PER_CALL", 3)
FINTALK_CODE_MAX_PER_PHONE_DAY = env_number("FINTALK_CODE_MAX_PER_PHONE_DAY", 10)
if min(FINTALK_VERIFICATION_SECONDS, FINTALK_CODE_TTL_SECONDS, FINTALK_CODE_LOCKOUT_ATTEMPTS,
       FINTALK_CODE_LOCKOUT_SECONDS, FINTALK_CODE_RESEND_SECONDS, FINTALK_CODE_MAX_PER_CALL,
       FINTALK_CODE_MAX_PER_PHONE_DAY) < 1:
    raise ImproperlyConfigured("FINTALK_VERIFICATION_SECONDS, FINTALK_CODE_* must be at least 1.")
# Who sends the codes (bank.sms): console (development: the server's stderr), file, sns, or a dotted path.
FINTALK_SMS_BACKEND = env_str("FINTALK_SMS_BACKEND", "console").strip()
FINTALK_SMS_FILE_PATH = env_str("FINTALK_SMS_FILE_PATH", "")
if FINTALK_SMS_BACKEND == "file" and not FINTALK_SMS_FILE_PATH:
    raise ImproperlyConfigured("FINTALK_SMS_BACKEND=file needs FINTALK_SMS_FILE_PATH (the file messages are appended to).")
# --- #31 level 2 (step-up): an authenticator app or an approval in the bank's app; trust in the line ---
# The second factors a caller may use for level 2 (bank.totp, bank.push): "totp", "push" or both.
FINTALK_STEP_UP_FACTORS = env_list("FINTALK_STEP_UP_FACTORS", "totp,push")
if not set(FINTALK_STEP_UP_FACTORS) <= {"totp", "push"}:
    raise ImproperlyConfigured(f"FINTALK_STEP_UP_FACTORS={FINTALK_STEP_UP_FACTORS!r}: use totp, push or both.")
# Which actions need which level, above what each declares (never below): "change_email=2,prepare_card_payment=2".
FINTALK_ACTION_LEVELS = {name.strip(): level.strip() for name, _, level in
                         (item.partition("=") for item in env_list("FINTALK_ACTION_LEVELS")) if name.strip()}
if any(level not in ("0", "1", "2") for level in FINTALK_ACTION_LEVELS.values()):
    raise ImproperlyConfigured("FINTALK_ACTION_LEVELS: name=level pairs, each level 0, 1 or 2, e.g. change_email=2.")
FINTALK_ACTION_LEVELS = {name: int(level) for name, level in FINTALK_ACTION_LEVELS.items()}
# Authenticator secrets are kept sealed with Fernet under a key derived (HKDF) from this setting. Set it
# to a long random string and keep it: without it no authenticator can be enrolled or checked.
FINTALK_SEALING_KEY = env_str("FINTALK_SEALING_KEY", "")
# TOTP (RFC 6238): codes of the previous and next FINTALK_TOTP_DRIFT_STEPS 30-second steps are accepted too.
FINTALK_TOTP_DRIFT_STEPS = env_number("FINTALK_TOTP_DRIFT_STEPS", 1)
FINTALK_TOTP_ISSUER = env_str("FINTALK_TOTP_ISSUER", "Fintalk Bank")
# The bank's app backend (bank.push): none, http (POST FINTALK_APP_BACKEND_URL/approvals), demo (an app
# that approves at once, through the signed callback) or a dotted path. The backend answers at
# /api/app/approvals/callback, signed with FINTALK_APP_CALLBACK_SECRET (HMAC-SHA256 over "timestamp.body").
FINTALK_APP_BACKEND = env_str("FINTALK_APP_BACKEND", "none").strip()
FINTALK_APP_BACKEND_URL = env_str("FINTALK_APP_BACKEND_URL", "").rstrip("/")
FINTALK_APP_CALLBACK_SECRET = env_str("FINTALK_APP_CALLBACK_SECRET", "")
FINTALK_APP_CALLBACK_URL = env_str("FINTALK_APP_CALLBACK_URL", "")  # what the backend calls back (public URL)
FINTALK_APP_CALLBACK_TOLERANCE_SECONDS = env_number("FINTALK_APP_CALLBACK_TOLERANCE_SECONDS", 300)
# A tool waits this long for the caller's answer in the app; the approval expires after FINTALK_APP_APPROVAL_SECONDS.
FINTALK_APP_WAIT_SECONDS = env_number("FINTALK_APP_WAIT_SECONDS", 4.0, float)
FINTALK_APP_APPROVAL_SECONDS = env_number("FINTALK_APP_APPROVAL_SECONDS", 120)
if FINTALK_APP_BACKEND == "http" and not (FINTALK_APP_BACKEND_URL and FINTALK_APP_CALLBACK_SECRET):
    raise ImproperlyConfigured("FINTALK_APP_BACKEND=http needs FINTALK_APP_BACKEND_URL and FINTALK_APP_CALLBACK_SECRET.")
# Trust in the line (bank.line): none (caller ID is enough for level 0), standin (the platform's STIR/SHAKEN
# verstat, and a SIM-swap lookup at FINTALK_LINE_CHECK_URL in the CAMARA SIM Swap API's format) or a dotted path.
FINTALK_LINE_CHECK = env_str("FINTALK_LINE_CHECK", "none").strip()
FINTALK_LINE_CHECK_URL = env_str("FINTALK_LINE_CHECK_URL", "").rstrip("/")
FINTALK_SIM_SWAP_HOURS = env_number("FINTALK_SIM_SWAP_HOURS", 240)  # a swap this recent means no SMS code
# Notices of changed details go to the old phone (bank.sms) and the old email (Django's email backend).
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("DJANGO_EMAIL_FILE_PATH", "")
DEFAULT_FROM_EMAIL = env_str("FINTALK_FROM_EMAIL", "notices@fintalk.example")
# A card payment by phone: at most this much (in the card's currency); a quote waits this long for the yes.
FINTALK_PAYMENT_MAX_AMOUNT = env_number("FINTALK_PAYMENT_MAX_AMOUNT", Decimal("10000"), Decimal)
FINTALK_PAYMENT_QUOTE_SECONDS = env_number("FINTALK_PAYMENT_QUOTE_SECONDS", 600)
# Said when a caller wants a person and the voice platform offers no transferCall tool.
# Said as the end of a sentence the agent closes itself: one trailing full stop is taken off, so that a
# value ending in "8 p.m." is not said "8 p.m.." (the sentence's stop is the abbreviation's).
FINTALK_HUMAN_CONTACT = env_str("FINTALK_HUMAN_CONTACT",
                                "call our customer service team on 1-800-555-0199, any day from 8 a.m. to 8 p.m.")
FINTALK_HUMAN_CONTACT = FINTALK_HUMAN_CONTACT.strip().removesuffix(".")
# While the database is unreachable, loan products read within this many seconds are still offered.
FINTALK_LOAN_CACHE_SECONDS = env_number("FINTALK_LOAN_CACHE_SECONDS", 300)

FINTALK_LLM = env_str("FINTALK_LLM", "bedrock").strip().lower()
if FINTALK_LLM not in {"bedrock", "demo"}:
    raise ImproperlyConfigured(f"FINTALK_LLM={FINTALK_LLM!r}: use 'bedrock' (default) or 'demo'.")
BEDROCK_MODEL_ID = env_str("BEDROCK_MODEL_ID", "") or "amazon.nova-lite-v1:0"
# Several Bedrock chat models at once, comma-separated: a request gets the one it names, the first is
# the default. When set it replaces BEDROCK_MODEL_ID (the one-model setting), which then names that default.
BEDROCK_MODEL_IDS = list(dict.fromkeys(env_list("BEDROCK_MODEL_IDS"))) or [BEDROCK_MODEL_ID]
BEDROCK_MODEL_ID = BEDROCK_MODEL_IDS[0]
# A request naming a model this server does not offer: `fallback` answers it with the default model
# of its kind (the response names the model used), `reject` answers 404 model_not_found.
FINTALK_UNKNOWN_MODEL = env_str("FINTALK_UNKNOWN_MODEL", "fallback").strip().lower()
if FINTALK_UNKNOWN_MODEL not in {"fallback", "reject"}:
    raise ImproperlyConfigured(f"FINTALK_UNKNOWN_MODEL={FINTALK_UNKNOWN_MODEL!r}: use fallback (default) or reject.")
BEDROCK_EMBEDDING_MODEL_ID = env_str("BEDROCK_EMBEDDING_MODEL_ID", "amazon.titan-embed-text-v2:0")
AWS_REGION = env_str("AWS_REGION", "us-east-1")
# Vapi hangs up on a turn with no first token after 20 s, and FINTALK_FIRST_TOKEN_TIMEOUT (18 s) speaks
# an apology before that. botocore's own retry (standard mode, the first attempt included) must end
# well inside it, so that a retry that succeeds is heard and a Bedrock that keeps failing is
# apologised for early: a stalled Bedrock costs BEDROCK_MAX_ATTEMPTS x BEDROCK_READ_TIMEOUT
# (3 x 4 = 12 s) plus a jittered backoff of at most 0.05 + 0.1 s; throttling answers at once and
# waits at most 1 + 2 s between attempts; an unreachable endpoint costs 3 x 2 s to connect. A voice
# model's first byte comes in about a second, so 4 s without data means a stuck attempt.
# tests/test_degraded.py checks these defaults against the first-token timeout.
BEDROCK_CONNECT_TIMEOUT = env_number("BEDROCK_CONNECT_TIMEOUT", 2.0, float)
BEDROCK_READ_TIMEOUT = env_number("BEDROCK_READ_TIMEOUT", 4.0, float)
BEDROCK_MAX_ATTEMPTS = env_number("BEDROCK_MAX_ATTEMPTS", 3)  # total, the first attempt included
# One worker holds hundreds of streams: botocore's default pool of 10 connections would queue them.
BEDROCK_MAX_POOL_CONNECTIONS = env_number("BEDROCK_MAX_POOL_CONNECTIONS", 500)
FINTALK_DEFAULT_MAX_TOKENS = env_number("FINTALK_DEFAULT_MAX_TOKENS", 512)

# --- #22 production Bedrock: prompt caching, failover, latency-optimized inference, guardrails, cost ---
# Prompt caching: `auto` puts cachePoints where the model family caches (agent/models.py: Nova caches
# the system prompt and the history, Claude also the tool specs; other families and the demo none).
BEDROCK_PROMPT_CACHING = env_str("BEDROCK_PROMPT_CACHING", "auto").strip().lower()
if BEDROCK_PROMPT_CACHING not in {"auto", "off"}:
    raise ImproperlyConfigured(f"BEDROCK_PROMPT_CACHING={BEDROCK_PROMPT_CACHING!r}: use auto (default) or off.")
# Model ids or inference profiles tried in order when a turn's model is throttled, failing (5xx), not
# ready or silent past BEDROCK_FAILOVER_TIMEOUT before its first word; a target that failed is
# skipped for BEDROCK_FAILOVER_COOLDOWN_SECONDS by every worker (the cache above).
BEDROCK_FALLBACK_MODEL_IDS = list(dict.fromkeys(env_list("BEDROCK_FALLBACK_MODEL_IDS")))
BEDROCK_FAILOVER_COOLDOWN_SECONDS = env_number("BEDROCK_FAILOVER_COOLDOWN_SECONDS", 30.0, float)
BEDROCK_FAILOVER_TIMEOUT = env_number("BEDROCK_FAILOVER_TIMEOUT", 5.0, float)
if BEDROCK_FAILOVER_COOLDOWN_SECONDS < 0 or BEDROCK_FAILOVER_TIMEOUT <= 0:
    raise ImproperlyConfigured("BEDROCK_FAILOVER_COOLDOWN_SECONDS must be >= 0 and BEDROCK_FAILOVER_TIMEOUT > 0.")
# Models asked for latency-optimized inference (performanceConfig; some models and regions only).
BEDROCK_LATENCY_OPTIMIZED_MODEL_IDS = env_list("BEDROCK_LATENCY_OPTIMIZED_MODEL_IDS")
# A Bedrock guardrail on every model call (empty: none). Async stream mode speaks at once and cuts later
# chunks; an intervention ends the turn with the guardrail's message or FINTALK_GUARDRAIL_REFUSAL.
BEDROCK_GUARDRAIL_ID = env_str("BEDROCK_GUARDRAIL_ID", "").strip()
BEDROCK_GUARDRAIL_VERSION = env_str("BEDROCK_GUARDRAIL_VERSION", "DRAFT").strip()
BEDROCK_GUARDRAIL_STREAM_MODE = env_str("BEDROCK_GUARDRAIL_STREAM_MODE", "async").strip().lower()
if BEDROCK_GUARDRAIL_STREAM_MODE not in {"async", "sync"}:
    raise ImproperlyConfigured(f"BEDROCK_GUARDRAIL_STREAM_MODE={BEDROCK_GUARDRAIL_STREAM_MODE!r}: use async or sync.")
BEDROCK_GUARDRAIL_TRACE = env_str("BEDROCK_GUARDRAIL_TRACE", "enabled").strip().lower()
if BEDROCK_GUARDRAIL_TRACE not in {"enabled", "disabled", "enabled_full"}:
    raise ImproperlyConfigured(f"BEDROCK_GUARDRAIL_TRACE={BEDROCK_GUARDRAIL_TRACE!r}: use enabled, disabled or "
                               "enabled_full.")
FINTALK_GUARDRAIL_REFUSAL = env_str("FINTALK_GUARDRAIL_REFUSAL", "I'm sorry, I can't help with that.")
# USD per million tokens: input, output, cache read, cache write; a model id matches the longest key it
# contains. These are on-demand list prices (us-east-1) to check against your own: BEDROCK_PRICES (JSON,
# e.g. {"amazon.nova-lite": {"input": 0.06, "output": 0.24, "cache_read": 0.015, "cache_write": 0.06}})
# replaces or adds entries. A model with no entry has no cost (null).
BEDROCK_PRICES = {
    "amazon.nova-micro": {"input": "0.035", "output": "0.14", "cache_read": "0.00875", "cache_write": "0.035"},
    "amazon.nova-lite": {"input": "0.06", "output": "0.24", "cache_read": "0.015", "cache_write": "0.06"},
    "amazon.nova-pro": {"input": "0.8", "output": "3.2", "cache_read": "0.2", "cache_write": "0.8"},
    "anthropic.claude-3-5-haiku": {"input": "0.8", "output": "4", "cache_read": "0.08", "cache_write": "1"},
    "anthropic.claude-3-5-sonnet": {"input": "3", "output": "15", "cache_read": "0.3", "cache_write": "3.75"},
}
try:
    BEDROCK_PRICES.update(json.loads(env_str("BEDROCK_PRICES", "") or "{}"))
    BEDROCK_PRICES = {marker: {kind: Decimal(str(price[kind])) for kind in ("input", "output", "cache_read",
                                                                            "cache_write")}
                      for marker, price in BEDROCK_PRICES.items()}
except (ValueError, TypeError, KeyError, ArithmeticError, AttributeError) as exc:
    raise ImproperlyConfigured(f"BEDROCK_PRICES: give a JSON object of model id -> {{input, output, cache_read, "
                               f"cache_write}} in USD per million tokens ({exc!r}).") from None

# Requests per API key (DRF rate syntax). Off by default: one key often carries all of a bank's calls.
FINTALK_RATE_LIMIT = env_str("FINTALK_RATE_LIMIT", "off").strip().lower()
if FINTALK_RATE_LIMIT not in {"", "off"} and not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)",
                                                             FINTALK_RATE_LIMIT):
    raise ImproperlyConfigured(f"FINTALK_RATE_LIMIT={FINTALK_RATE_LIMIT!r}: use e.g. 600/min, 20/s or off.")
FINTALK_METRICS_AUTH = env_str("FINTALK_METRICS_AUTH", "enabled").strip().lower()
if FINTALK_METRICS_AUTH not in {"enabled", "disabled"}:
    raise ImproperlyConfigured(f"FINTALK_METRICS_AUTH={FINTALK_METRICS_AUTH!r}: use enabled or disabled.")
# Streaming: wait this long for the first token before starting the stream, then send `: ping`
# keep-alives at this interval; give up when no token came FINTALK_FIRST_TOKEN_TIMEOUT seconds
# after the request arrived (Vapi hangs up at 20 s).
FINTALK_KEEPALIVE_SECONDS = env_number("FINTALK_KEEPALIVE_SECONDS", 2.0, float)
FINTALK_FIRST_TOKEN_TIMEOUT = env_number("FINTALK_FIRST_TOKEN_TIMEOUT", 18.0, float)

# A short phrase spoken when the agent decides to call a tool: auto (Vapi requests only), on, off.
FINTALK_TOOL_FILLER = env_str("FINTALK_TOOL_FILLER", "auto").strip().lower()
if FINTALK_TOOL_FILLER not in {"auto", "on", "off"}:
    raise ImproperlyConfigured(f"FINTALK_TOOL_FILLER={FINTALK_TOOL_FILLER!r}: use auto, on or off.")
FINTALK_TOOL_FILLER_TEXT = env_str("FINTALK_TOOL_FILLER_TEXT", "One moment while I check that.")
# A tool call of the agent is cut after this many seconds (a slow core-banking system): the
# model is told the system is unavailable and the caller hears an apology, not silence. Tools that
# change an account (agent.tools.ACCOUNT_CHANGES: the card block) are never cut: they are awaited
# to the end, since a change may commit and must then be reported.
FINTALK_TOOL_TIMEOUT = env_number("FINTALK_TOOL_TIMEOUT", 5.0, float)
if FINTALK_APP_WAIT_SECONDS >= FINTALK_TOOL_TIMEOUT:
    raise ImproperlyConfigured("FINTALK_APP_WAIT_SECONDS must be under FINTALK_TOOL_TIMEOUT: check_app_approval would be cut.")
# The agent's instructions: a Django template (plain text) the bank may edit or replace.
FINTALK_SYSTEM_PROMPT_FILE = env_str("FINTALK_SYSTEM_PROMPT_FILE", "") or str(BASE_DIR / "agent" / "system_prompt.txt")
# Rehearsals (#29): "Make a scenario from this call" on a call's console page writes the scenario
# here (review it, then move it into scenarios/ to run it with the others).
FINTALK_RECORDED_SCENARIOS_DIR = env_str("FINTALK_RECORDED_SCENARIOS_DIR", "") or str(BASE_DIR / "recorded-scenarios")
# What the instructions say about a caller (name, cards) is cached this long per call.
FINTALK_CALLER_CACHE_SECONDS = env_number("FINTALK_CALLER_CACHE_SECONDS", 300)
# The history a turn sends (system prompt included) is trimmed to this estimate, oldest first.
FINTALK_MAX_INPUT_TOKENS = env_number("FINTALK_MAX_INPUT_TOKENS", 12000)
# More LlamaIndex tools for the agent, "module:attribute" each (a BaseTool, a list, or a factory).
FINTALK_EXTRA_TOOLS = env_list("FINTALK_EXTRA_TOOLS")

# --- #20 call records, Vapi webhooks, retention ---
# Every turn is kept as part of its Call (calls/): masked text, tools, outcome, latency. Written by a
# background thread from a bounded queue; when the database lags, records beyond
# FINTALK_CALL_RECORD_QUEUE are dropped and counted (fintalk_call_records_dropped_total).
FINTALK_CALL_RECORDS = env_bool("FINTALK_CALL_RECORDS", True)
FINTALK_CALL_RECORD_QUEUE = env_number("FINTALK_CALL_RECORD_QUEUE", 10_000)
# `manage.py purge_calls` (a daily CronJob) deletes calls that started longer ago than this.
FINTALK_CALL_RETENTION_DAYS = env_number("FINTALK_CALL_RETENTION_DAYS", 90)
if FINTALK_CALL_RECORD_QUEUE < 1 or FINTALK_CALL_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("FINTALK_CALL_RECORD_QUEUE and FINTALK_CALL_RETENTION_DAYS must be at least 1.")
# The secret of Vapi's server credential for POST /api/vapi/events (X-Vapi-Secret, Bearer, or HMAC).
# Unset: the endpoint refuses every event, unless FINTALK_AUTH=disabled (local development).
FINTALK_VAPI_WEBHOOK_SECRET = env_str("FINTALK_VAPI_WEBHOOK_SECRET", "")
# --- #30 Vapi's server side: the assistant Vapi asks for, transfers, live control, signed callers ---
# Where Vapi reaches this server (https://fintalk.example.com): the transient assistant's model URL
# and server URL. Empty: the URL the assistant-request came to (right unless a proxy rewrites it).
FINTALK_PUBLIC_URL = env_str("FINTALK_PUBLIC_URL", "").rstrip("/")
# An assistant configured in Vapi's dashboard for inbound calls: the assistant-request's answer names
# it and overrides only its first message. Empty: the answer is a transient assistant (calls/assistant.py).
FINTALK_VAPI_INBOUND_ASSISTANT_ID = env_str("FINTALK_VAPI_INBOUND_ASSISTANT_ID", "")
FINTALK_VAPI_LLM_MODEL = env_str("FINTALK_VAPI_LLM_MODEL", "fintalk")
# The bank's teams for transfers, team=+E.164 (fraud, cards, general): calls/transfers.py picks one.
FINTALK_TRANSFER_NUMBERS = dict(item.split("=", 1) for item in env_list(
    "FINTALK_TRANSFER_NUMBERS", "fraud=+15550109001,cards=+15550109002,general=+15550109000") if "=" in item)
if any(not number.startswith("+") or not number[1:].isdigit() for number in FINTALK_TRANSFER_NUMBERS.values()):
    raise ImproperlyConfigured("FINTALK_TRANSFER_NUMBERS: give each team an E.164 number, e.g. fraud=+15550109001.")
# Hosts a call's monitor.controlUrl may point at (live control from the console posts there); a
# leading "*." matches any subdomain. Anything else is refused, so a forged URL cannot make the
# console post elsewhere.
FINTALK_VAPI_CONTROL_HOSTS = env_list("FINTALK_VAPI_CONTROL_HOSTS", "*.vapi.ai")
# Other voice stacks sign the caller's number and call id (api/caller_signature.py): a signature
# older than this (seconds; one call's length) or from the future is not trusted.
FINTALK_CALLER_SIGNATURE_SECONDS = env_number("FINTALK_CALLER_SIGNATURE_SECONDS", 3600)
# Outbound calls: what is left on an answering machine (no account detail, no name: anyone may play
# it back), and how long after a voicemail the next try waits; a second voicemail ends the request.
FINTALK_VOICEMAIL_MESSAGE = env_str("FINTALK_VOICEMAIL_MESSAGE", "")
FINTALK_OUTBOUND_VOICEMAIL_RETRY_SECONDS = env_number("FINTALK_OUTBOUND_VOICEMAIL_RETRY_SECONDS", 14400.0, float)
# --- #21 outbound calls (fraud alerts, payment reminders): Vapi's API and the Celery workers -----
# Vapi's REST API: POST {FINTALK_VAPI_API_URL}/call with the private key, the assistant and the
# phone number the calls come from. Only the worker places calls; the web process never needs the key.
FINTALK_VAPI_API_URL = env_str("FINTALK_VAPI_API_URL", "https://api.vapi.ai").rstrip("/")
FINTALK_VAPI_API_KEY = env_str("FINTALK_VAPI_API_KEY", "")
FINTALK_VAPI_ASSISTANT_ID = env_str("FINTALK_VAPI_ASSISTANT_ID", "")
FINTALK_VAPI_PHONE_NUMBER_ID = env_str("FINTALK_VAPI_PHONE_NUMBER_ID", "")
FINTALK_VAPI_TIMEOUT = env_number("FINTALK_VAPI_TIMEOUT", 10.0, float)
# Calls in flight at once (all workers together), attempts per request, and the first retry's delay
# (doubled for each attempt after it); a call Vapi never reports ended is given up after the timeout.
FINTALK_OUTBOUND_CONCURRENCY = env_number("FINTALK_OUTBOUND_CONCURRENCY", 5)
FINTALK_OUTBOUND_MAX_ATTEMPTS = env_number("FINTALK_OUTBOUND_MAX_ATTEMPTS", 3)
FINTALK_OUTBOUND_RETRY_SECONDS = env_number("FINTALK_OUTBOUND_RETRY_SECONDS", 900.0, float)
FINTALK_OUTBOUND_CALL_TIMEOUT = env_number("FINTALK_OUTBOUND_CALL_TIMEOUT", 3600.0, float)
# How often the scheduler looks for requests that are due (retries, the calling hours' opening).
FINTALK_OUTBOUND_SWEEP_SECONDS = env_number("FINTALK_OUTBOUND_SWEEP_SECONDS", 15.0, float)
if min(FINTALK_OUTBOUND_CONCURRENCY, FINTALK_OUTBOUND_MAX_ATTEMPTS) < 1 or FINTALK_OUTBOUND_SWEEP_SECONDS <= 0:
    raise ImproperlyConfigured("FINTALK_OUTBOUND_CONCURRENCY and FINTALK_OUTBOUND_MAX_ATTEMPTS must be at least 1, "
                               "FINTALK_OUTBOUND_SWEEP_SECONDS above 0.")
# Local time in the customer's zone (Customer.time_zone) when calls may ring: HH:MM-HH:MM.
FINTALK_CALLING_HOURS = env_str("FINTALK_CALLING_HOURS", "08:00-21:00")
# Payment reminders go out this many days before a card's payment due date (checked hourly).
FINTALK_REMINDER_DAYS_BEFORE = env_number("FINTALK_REMINDER_DAYS_BEFORE", 3)
# Celery's broker (and result store): Redis, by default the cache's (FINTALK_CACHE_URL).
FINTALK_CELERY_BROKER_URL = env_str("FINTALK_CELERY_BROKER_URL", "") or FINTALK_CACHE_URL or "redis://127.0.0.1:6379/1"
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = FINTALK_CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # the LOGGING below (JSON, numbers masked) applies to workers too
CELERY_TIMEZONE = "UTC"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"mask_pii": {"()": "core.log_masking.MaskPIIFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["mask_pii"]},
    },
    "root": {"handlers": ["console"], "level": env_str("FINTALK_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}
