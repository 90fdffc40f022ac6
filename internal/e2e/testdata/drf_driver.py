"""Test driver: a Django REST Framework + SimpleJWT resource server configured
by drf_settings.py (the README's snippet), requests made in-process with
Django's test client. One JSON request per stdin line, one JSON answer per
stdout line:

  {"token": "...", "view": "stateless"}  GET /whoami/ (JWTStatelessUserAuthentication)
  {"token": "...", "view": "local"}      GET /whoami-local/ (JWTAuthentication: local user rows)
  {"op": "create_user", "id": N, "email": "..."}  add a local user row with that primary key
  -> {"ok": status == 200, "status": n, "body": {...}, "error": "..."}

The first line names the verifiers, their versions, and what SimpleJWT says
to ALGORITHM EdDSA."""
import json
import sys

import django
from django.conf import settings

import drf_settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="e2e-only-not-a-secret",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    MIDDLEWARE=[],
    USE_TZ=True,
    SIMPLE_JWT=drf_settings.SIMPLE_JWT,
    REST_FRAMEWORK=drf_settings.REST_FRAMEWORK,
)
django.setup()

from importlib.metadata import version  # noqa: E402

import jwt  # noqa: E402
import rest_framework  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import IsAuthenticated  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402
from rest_framework_simplejwt.backends import TokenBackend  # noqa: E402


class WhoAmI(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user_id": request.user.id, "email": getattr(request.user, "email", None)})


class WhoAmILocal(WhoAmI):
    authentication_classes = [JWTAuthentication]


urlpatterns = [path("whoami/", WhoAmI.as_view()), path("whoami-local/", WhoAmILocal.as_view())]


def eddsa():
    try:
        TokenBackend("EdDSA")
        return "supported"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def handle(req, client):
    if req.get("op") == "create_user":
        get_user_model().objects.create_user(id=req["id"], username=req["email"], email=req["email"])
        return {"ok": True}
    url = "/whoami-local/" if req.get("view") == "local" else "/whoami/"
    try:
        r = client.get(url, HTTP_AUTHORIZATION="Bearer " + req["token"])
    except Exception as e:  # an exception in a view is a 500 in production
        return {"ok": False, "status": 500, "error": f"{type(e).__name__}: {e}"}
    body = r.json()
    answer = {"ok": r.status_code == 200, "status": r.status_code, "body": body, "user_id": body.get("user_id")}
    if r.status_code != 200:
        answer["error"] = f"{r.status_code} {body.get('code', '')}: {body.get('detail', '')}"
    return answer


def main():
    call_command("migrate", verbosity=0)
    client = Client()
    print(json.dumps({
        "name": "DRF+SimpleJWT",
        "version": version("djangorestframework-simplejwt"),
        "runtime": f"Django {django.get_version()}, DRF {rest_framework.VERSION}, PyJWT {jwt.__version__}",
        "eddsa": eddsa(),
    }), flush=True)
    for line in sys.stdin:
        print(json.dumps(handle(json.loads(line), client)), flush=True)


if __name__ == "__main__":
    main()
