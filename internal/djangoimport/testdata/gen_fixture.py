"""Makes the Django fixture of internal/djangoimport's tests: a real database
of the tutorial app (djangoapp/: the seed's models.py and managers.py
verbatim, its migration made by makemigrations) with users in every
password-hash format, plus what `manage.py dumpdata djangojwtapp.User`
writes for it, plus the known passwords.

    /usr/bin/python3 internal/djangoimport/testdata/gen_fixture.py

writes, beside this script:
  django.sqlite3      the app's db.sqlite3 after `migrate` and the users below
  dumpdata.json       manage.py dumpdata djangojwtapp.User --indent 1
  users.json          each user's id, email, password and what an import
                      must do with the row (the tests' expectations)
  django_postgres.sql the app's tables as Django's Postgres backend creates
                      them (`manage.py sqlmigrate` for each migration), for
                      the tests' Postgres copy of this database; needs
                      DJANGO_PG_NAME=<a database on 127.0.0.1> (it only reads)

Debian 12's packages (make e2e-deps): python3-django 3.2,
python3-djangorestframework, python3-argon2, python3-bcrypt. Costs are
lowered (except for alice, Django 3.2's default PBKDF2) so tests stay fast.
"""
import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
APP = os.path.join(HERE, "djangoapp")
DB = os.path.join(HERE, "django.sqlite3")
warnings.simplefilter("ignore", DeprecationWarning)  # the crypt module


def manage(*args):
    env = dict(os.environ, DJANGO_DB=DB)
    subprocess.run([sys.executable, "manage.py", *args], cwd=APP, env=env, check=True,
                   stdout=subprocess.PIPE if args[0] == "dumpdata" else None)


def main():
    pg = os.environ.pop("DJANGO_PG_NAME", "")  # only for sqlmigrate below
    if os.path.exists(DB):
        os.remove(DB)
    manage("migrate", "--verbosity", "0")
    os.environ["DJANGO_DB"] = DB
    os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
    sys.path.insert(0, APP)
    import django
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth import hashers as h

    User = get_user_model()

    class PBKDF2SHA1(h.PBKDF2SHA1PasswordHasher):
        iterations = 1000

    class PBKDF2(h.PBKDF2PasswordHasher):
        iterations = 1000

    class Argon2id(h.Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 1024, 2

    class Argon2i(h.Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 1024, 1

        def params(self):
            p = super().params()
            p.type = self._load_library().low_level.Type.I
            return p

    class BCryptSHA256(h.BCryptSHA256PasswordHasher):
        rounds = 4

    class BCrypt(h.BCryptPasswordHasher):
        rounds = 4

    def scrypt(pw, salt="fixtureSaltScrypt01", n=1024, r=8, p=1):
        # Django 4.2's ScryptPasswordHasher.encode (Django 3.2 has none).
        key = hashlib.scrypt(pw.encode(), salt=salt.encode(), n=n, r=r, p=p, dklen=64)
        return "scrypt$%d$%s$%d$%d$%s" % (n, salt, r, p, base64.b64encode(key).decode())

    t0 = dt.datetime(2023, 5, 1, 9, 30, tzinfo=dt.timezone.utc)
    expected = []

    def add(email, password, hasher=None, encoded=None, expect="imported", reason="", name=None,
            last_login=None, super_=False, first="", last="", **flags):
        extra = dict(name=name if name is not None else email.split("@")[0].title(),
                     first_name=first, last_name=last, **flags)
        if super_:
            u = User.objects.create_superuser(email, password, **extra)
        else:
            u = User.objects.create_user(email, password, **extra)
        if hasher is not None:
            u.password = h.make_password(password, hasher=hasher)
        if encoded is not None:
            u.password = encoded
        if password is None:
            u.set_unusable_password()
        u.last_login = last_login
        u.save()
        # date_joined is auto_now_add: set a known value afterwards.
        User.objects.filter(pk=u.pk).update(date_joined=t0 + dt.timedelta(days=u.pk))
        fmt = "unusable" if password is None else h.identify_hasher(u.password).algorithm if u.password and not encoded else ""
        expected.append({"id": u.pk, "email": u.email, "password": password, "format": fmt,
                         "expect": expect, "reason": reason})
        return u

    login = lambda days: t0 + dt.timedelta(days=days, hours=3)  # noqa: E731
    add("alice@example.com", "alice-pbkdf2-260k", super_=True, name="Alice Admin", last_login=login(200), is_admin=True)
    add("bob@example.com", "bob-pbkdf2-sha1", PBKDF2SHA1(), last_login=login(10), expect="conflict")
    add("carol@example.com", "carol-argon2id", Argon2id(), name="", first="Carol", last="Jones")
    add("dave@example.com", "dave-argon2i", Argon2i())
    add("erin@example.com", "erin-bcrypt-sha256 and a passphrase longer than bcrypt's seventy-two bytes!", BCryptSHA256())
    add("frank@example.com", "frank-bcrypt", BCrypt(), is_staff=True)
    add("grace@example.com", "grace-scrypt", encoded=scrypt("grace-scrypt"))
    add("heidi@example.com", "heidi-md5", h.MD5PasswordHasher(), expect="weak")
    add("ivan@example.com", "ivan-sha1", h.SHA1PasswordHasher(), expect="weak")
    add("judy@example.com", "judy-unsalted-md5", h.UnsaltedMD5PasswordHasher(), expect="weak")
    add("mallory@example.com", "mallory-unsalted-sha1", h.UnsaltedSHA1PasswordHasher(), expect="weak")
    add("niaj@example.com", "niaj-crypt", h.CryptPasswordHasher(), expect="weak")
    add("olivia@example.com", None, expect="unusable")
    add("peggy@example.com", "peggy-inactive", PBKDF2(), is_active=False)
    # Django's normalize_email lowercases only the domain: a second Bob.
    add("Bob@EXAMPLE.com", "big-bob-pbkdf2", PBKDF2(), last_login=login(300), expect="conflict")
    add("long@example.com", "long-name", PBKDF2(), name="L" * 101, expect="refused", reason="name_too_long")
    add("not-an-email", "no-email", PBKDF2(), expect="refused", reason="invalid_email")
    add("broken@example.com", "broken-hash", encoded="pbkdf2_sha256$260000$salt$not!base64", expect="refused",
        reason="malformed_hash")
    gone = add("deleted@example.com", "deleted", PBKDF2())
    expected.pop()
    gone.delete()  # a gap in the ids
    add("trent@example.com", "trent-staff-admin", PBKDF2(), is_staff=True, is_admin=True, last_login=login(30))

    with open(os.path.join(HERE, "users.json"), "w") as f:
        json.dump({"django": django.get_version(), "users": expected}, f, indent=1)
        f.write("\n")
    out = subprocess.run([sys.executable, "manage.py", "dumpdata", "djangojwtapp.User", "--indent", "1"],
                         cwd=APP, env=dict(os.environ, DJANGO_DB=DB), check=True, stdout=subprocess.PIPE).stdout
    with open(os.path.join(HERE, "dumpdata.json"), "wb") as f:
        f.write(out)
    if pg:
        sqls = []
        for app, mig in [("contenttypes", "0001"), ("contenttypes", "0002"), ("auth", "0001")] + \
                [("auth", "%04d" % i) for i in range(2, 13)] + [("djangojwtapp", "0001")]:
            sqls.append(subprocess.run([sys.executable, "manage.py", "sqlmigrate", app, mig], cwd=APP,
                                       env=dict(os.environ, DJANGO_PG_NAME=pg), check=True,
                                       stdout=subprocess.PIPE, text=True).stdout)
        with open(os.path.join(HERE, "django_postgres.sql"), "w") as f:
            f.write("-- Made by gen_fixture.py: manage.py sqlmigrate on Django %s's Postgres backend.\n"
                    % django.get_version())
            f.write("CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL, "
                    "name varchar(255) NOT NULL, applied timestamp with time zone NOT NULL);\n")
            f.write("".join(sqls))
    import sqlite3
    con = sqlite3.connect(DB)
    con.execute("VACUUM")
    con.close()


if __name__ == "__main__":
    main()
