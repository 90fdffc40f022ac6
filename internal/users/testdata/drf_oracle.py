"""Reference answers for registration validation, from the tutorial's own
stack: Django 3.2.25 and Django REST Framework 3.14.0 (the Debian bookworm
packages python3-django and python3-djangorestframework, unpacked on
PYTHONPATH). Not run by the Go tests: it produced registration_vectors.json.

    PYTHONPATH=…/dist-packages python3 drf_oracle.py < inputs.json > registration_vectors.json

Each input is {"name":…, "email":…, "password":…}. The serializer has the
fields the tutorial's ModelSerializer derives from its model (name
CharField(max_length=100), email EmailField(max_length=100), password
CharField(max_length=128)); idp adds Django's four default password
validators, run when the password field itself is valid, against a user
whose email is the (trimmed) email given.
"""
import json
import sys

import django
from django.conf import settings

settings.configure(
    USE_I18N=False,
    AUTH_PASSWORD_VALIDATORS=[
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
        {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    ],
)
django.setup()

from django.contrib.auth.password_validation import validate_password  # noqa: E402
from django.core.exceptions import FieldDoesNotExist, ValidationError  # noqa: E402
from rest_framework import serializers  # noqa: E402


class RegisterSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    email = serializers.EmailField(max_length=100)
    password = serializers.CharField(max_length=128)


class _Meta:
    def get_field(self, name):
        raise FieldDoesNotExist(name)


class _User:
    _meta = _Meta()
    username = first_name = last_name = None

    def __init__(self, email):
        self.email = email


def answer(data):
    s = RegisterSerializer(data=data)
    s.is_valid()
    errors = {k: [str(m) for m in v] for k, v in s.errors.items()}
    if "password" not in errors:
        password = str(data["password"]).strip()
        try:
            validate_password(password, _User(str(data["email"]).strip()))
        except ValidationError as e:
            errors["password"] = list(e.messages)
    # Fields in serializer order.
    return {k: errors[k] for k in ("name", "email", "password") if k in errors}


cases = json.load(sys.stdin)
json.dump([{"in": c, "want": answer(c)} for c in cases], sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
