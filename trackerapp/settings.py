"""Settings: every knob comes from the environment.

The defaults run the embedded mode (SQLite, tasks in-process, DEBUG on) so a fresh checkout
works with no other service. Production sets ``DEBUG=0``, ``SECRET_KEY``, ``ALLOWED_HOSTS``,
``DATABASE_URL`` and ``CELERY_BROKER_URL``; with DEBUG off the secure defaults below apply.
"""

import os
from pathlib import Path

import dj_database_url
import orjson
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

from trackerapp import logs, sentry

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

_DEV_SECRET_KEY = "dev-only-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or _DEV_SECRET_KEY
if not DEBUG and SECRET_KEY == _DEV_SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Absolute links (run pages in API answers, e-mails) are built from this.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "evaluations",
]

MIDDLEWARE = [
    # First, so that every log line of a request, whichever layer writes it, carries its id.
    "trackerapp.middleware.RequestIdMiddleware",
    "trackerapp.http_metrics.HttpMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered above this line, so they carry neither header below.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "trackerapp.middleware.PrivatePagesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trackerapp.urls"
WSGI_APPLICATION = "trackerapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "trackerapp.staticfiles.PlotlyFinder",  # vendor/plotly.min.js from the plotly package
]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Series reads are cached; with CACHE_URL (e.g. redis://127.0.0.1:6379/1) the processes
# share one cache, else each keeps its own in memory. CACHE_KEY_PREFIX keeps apart two
# deployments that share one Redis database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", ""),
    }
    if os.environ.get("CACHE_URL")
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 200},
    }
}

# In the embedded mode static files are served straight from static/ (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# A request body larger than this is refused (the API answers 413) before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 5 * 1024 * 1024)

# The most results one export of runs writes (a row each; 500,000 stream in about 12 s): a
# larger one is refused, naming the filters that narrow it, rather than cut short or left to
# outlive the web worker's timeout (gunicorn's 30 s).
EXPORT_MAX_ROWS = env_int("EXPORT_MAX_ROWS", 500_000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["evaluations.api.authentication.ProjectTokenAuthentication"],
    # A view that declares nothing is read-for-any-token, write-for-admin (the safe side).
    "DEFAULT_PERMISSION_CLASSES": ["evaluations.api.permissions.ReadIngestWriteAdmin"],
    "DEFAULT_PARSER_CLASSES": ["evaluations.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "evaluations.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "evaluations.api.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "evaluations.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Datetimes are written like DRF writes them (UTC with a Z); error lists keyed by index.
    "ORJSON_RENDERER_OPTIONS": (orjson.OPT_UTC_Z, orjson.OPT_NON_STR_KEYS),
}

# Content-Security-Policy on every answer (django-csp): the pages load scripts, styles and
# images from this origin only, and may not be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        # plotly.js (4.1) writes its own rules (the hover layer's pointer-events among them)
        # into a <style> element it creates and sets some style attributes: without
        # 'unsafe-inline' hovering and the mode bar break, and it ships no stylesheet to load
        # instead (plotly/plotly.js#7543). Inline styles cannot run code, and scripts stay
        # strictly 'self'.
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Model metrics tracker API",
    "DESCRIPTION": (
        "Evaluation results posted by CI, the history of every metric, and (later) the "
        "regression gate. Authenticate with `Authorization: Bearer <project token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served from the sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"FindingKindEnum": "evaluations.models.Finding.Kind"},
}

# Celery: no broker configured means tasks run eagerly in-process (embedded mode).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker or beat waits out a broker outage of any length (Celery's default gives up after
# 100 tries, about 45 minutes, and exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Reconnects where Celery 5.7.0's own consumer exits (README: "Keeping the worker and beat alive").
CELERY_WORKER_CONSUMER = "trackerapp.consumer:Consumer"
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A post must not hang on a dead broker: the series stays dirty and is swept later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# Jobs are acknowledged when done (late acks), so a message a dead worker held is delivered
# again once the visibility timeout passes. It is set longer than any countdown a task gets
# (an alert held back by the rate limit waits up to an hour), so that a held task is never
# delivered twice while it waits; the analysis does not wait for it: the sweep re-queues a
# dead job's series within its grace.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "visibility_timeout": env_int("BROKER_VISIBILITY_TIMEOUT_SECONDS", 2 * 3600),
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# LOG_FORMAT=json writes one JSON object per line (level, time, logger, message, request and
# task ids, exception), for web, worker and beat alike (trackerapp/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
if LOG_FORMAT not in logs.FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be one of {', '.join(logs.FORMATS)}.")
LOGGING = logs.logging_config(log_format=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO"))

# Errors go to Sentry when SENTRY_DSN is set (web, worker and beat: each reads these settings).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    sentry.init_sentry(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT")
        or ("development" if DEBUG else "production"),
        release=os.environ.get("SENTRY_RELEASE") or None,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
    )

# /metrics answers requests carrying "Authorization: Bearer <METRICS_TOKEN>"; without a token
# set, only the development server (DEBUG) and loopback clients (README: "Metrics").
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# Secure defaults once DEBUG is off; each can be relaxed from the environment
# (e.g. SECURE_SSL_REDIRECT=0 behind a proxy that already redirects).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and Prometheus scrape over the private network, in plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# A run's analysis starts this long after it is stored, so that a burst of posts touching
# the same series is analysed once.
ANALYSIS_DELAY_SECONDS = env_int("ANALYSIS_DELAY_SECONDS", 5)

# Every SWEEP_INTERVAL_SECONDS the sweep re-queues series still due SWEEP_GRACE_SECONDS
# after their job was queued (a job lost with a worker or the broker, or one that failed;
# a series that failed waits out its backoff), and series not analysed for
# REANALYSE_AFTER_SECONDS (baselines, rules, marks move). A job lost at any moment is thus
# re-run within grace + interval (6 minutes by default); a shorter grace re-queues a long
# backlog that is merely waiting, which costs work but loses nothing.
SWEEP_GRACE_SECONDS = env_int("SWEEP_GRACE_SECONDS", 300)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 60)
REANALYSE_AFTER_SECONDS = env_int("REANALYSE_AFTER_SECONDS", 24 * 3600)
# Beat sends a heartbeat every HEARTBEAT_INTERVAL_SECONDS and a worker handles it; /healthz
# reports either as stale when its heartbeat is older than HEARTBEAT_STALE_SECONDS, and the
# analysis as lagging when a series (not failing) has waited more than ANALYSIS_LAG_SECONDS:
# by default a lost job's grace and three sweeps, when the sweep re-queues within one.
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 30)
HEARTBEAT_STALE_SECONDS = env_int("HEARTBEAT_STALE_SECONDS", 4 * HEARTBEAT_INTERVAL_SECONDS)
ANALYSIS_LAG_SECONDS = env_int(
    "ANALYSIS_LAG_SECONDS", SWEEP_GRACE_SECONDS + 3 * SWEEP_INTERVAL_SECONDS
)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "evaluations.tasks.heartbeat",
        "schedule": HEARTBEAT_INTERVAL_SECONDS,
        # A heartbeat that waited longer than this in the queue tells nothing more: dropped.
        "options": {"expires": HEARTBEAT_INTERVAL_SECONDS},
    },
    "sweep-dirty-series": {
        "task": "evaluations.tasks.sweep_series",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "sweep-pending-notifications": {
        "task": "evaluations.tasks.sweep_notifications",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
}

# E-mail: SMTP when EMAIL_HOST is set; otherwise (the embedded mode) each message is written
# as a file under EMAIL_FILE_PATH.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "outbox"))
DEFAULT_FROM_EMAIL = os.environ.get(
    "DEFAULT_FROM_EMAIL", "Model metrics tracker <alerts@localhost>"
)
# Sending an alert (e-mail, webhook, Slack, Teams) is retried with exponential backoff (5 s,
# 10 s, ... up to 10 minutes apart) this many times; EMAIL_MAX_RETRIES is its older name.
ALERT_MAX_RETRIES = env_int("ALERT_MAX_RETRIES", env_int("EMAIL_MAX_RETRIES", 12))
# Notifications still pending this long after they were recorded are queued again.
NOTIFICATION_GRACE_SECONDS = env_int("NOTIFICATION_GRACE_SECONDS", 3600)
# Findings recorded within this many seconds of each other reach a recipient as one digest.
ALERT_DIGEST_SECONDS = env_int("ALERT_DIGEST_SECONDS", 60)
# At most this many alerts per destination (an address, a webhook) per hour; the rest wait
# for the next one.
ALERT_RATE_LIMIT_PER_HOUR = env_int("ALERT_RATE_LIMIT_PER_HOUR", 6)
# How long a webhook, Slack or Teams end may take to answer before the attempt is retried.
CHANNEL_TIMEOUT_SECONDS = env_int("CHANNEL_TIMEOUT_SECONDS", 10)
