"""Generates django_hashes.json: password hashes made by Django's own hashers
(django.contrib.auth.hashers.make_password), one vector per hasher and
password, for internal/users' TestDjangoHashVectors.

Run with Debian's interpreter and packages (make e2e-deps installs them):

    /usr/bin/python3 internal/users/testdata/django_hashes.py > internal/users/testdata/django_hashes.json

Debian 12's Django is 3.2, whose hashers are all used as they are, except:
  - scrypt: ScryptPasswordHasher arrived in Django 4.0; ScryptHasher below
    is Django 4.2's encode() verbatim (hashlib.scrypt, dklen 64);
  - argon2i: Django 3.2 makes argon2id; Argon2iHasher makes what Django
    < 3.2 made (the same encoding with type I), which 3.2 still verifies;
  - cheaper costs (iterations, memory) beside the defaults, so tests stay
    fast; Django writes and reads any cost.
Every vector is checked with Django's check_password before it is written.
"""
import base64
import hashlib
import json
import sys
import warnings

import django
from django.conf import settings

warnings.simplefilter("ignore", DeprecationWarning)  # the crypt module

H = "django.contrib.auth.hashers."
settings.configure(
    PASSWORD_HASHERS=[
        H + "PBKDF2PasswordHasher",
        H + "PBKDF2SHA1PasswordHasher",
        H + "Argon2PasswordHasher",
        H + "BCryptSHA256PasswordHasher",
        H + "BCryptPasswordHasher",
        H + "SHA1PasswordHasher",
        H + "MD5PasswordHasher",
        H + "UnsaltedSHA1PasswordHasher",
        H + "UnsaltedMD5PasswordHasher",
        H + "CryptPasswordHasher",
        __name__ + ".ScryptHasher",
    ],
    INSTALLED_APPS=[],
)
django.setup()

from django.contrib.auth import hashers  # noqa: E402


class ScryptHasher(hashers.BasePasswordHasher):
    """Django 4.2's ScryptPasswordHasher.encode."""

    algorithm = "scrypt"
    block_size = 8
    maxmem = 0
    parallelism = 1
    work_factor = 2**14

    def encode(self, password, salt, n=None, r=None, p=None):
        n = n or self.work_factor
        r = r or self.block_size
        p = p or self.parallelism
        hash_ = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p,
                               maxmem=self.maxmem, dklen=64)
        hash_ = base64.b64encode(hash_).decode("ascii").strip()
        return "%s$%d$%s$%d$%d$%s" % (self.algorithm, n, salt, r, p, hash_)

    def verify(self, password, encoded):
        algorithm, n, salt, r, p, _ = encoded.split("$", 5)
        return hashers.constant_time_compare(encoded, self.encode(password, salt, int(n), int(r), int(p)))


class CheapPBKDF2(hashers.PBKDF2PasswordHasher):
    iterations = 1000


class CheapPBKDF2SHA1(hashers.PBKDF2SHA1PasswordHasher):
    iterations = 1000


class CheapArgon2(hashers.Argon2PasswordHasher):
    time_cost, memory_cost, parallelism = 1, 1024, 2


class Argon2iHasher(hashers.Argon2PasswordHasher):
    time_cost, memory_cost, parallelism = 1, 1024, 1

    def params(self):
        p = super().params()
        p.type = self._load_library().low_level.Type.I
        return p


class CheapBCryptSHA256(hashers.BCryptSHA256PasswordHasher):
    rounds = 4


class CheapBCrypt(hashers.BCryptPasswordHasher):
    rounds = 4


class CheapScrypt(ScryptHasher):
    work_factor = 2**10


PASSWORDS = ["s3cret-pass", "pässwörd ünïcode ✓", "x" * 80 + "-longer-than-bcrypt's-72-bytes"]

# (name, hasher, weak): weak formats are imported only with --allow-weak-hashes.
HASHERS = [
    ("pbkdf2_sha256-260000", hashers.PBKDF2PasswordHasher(), False),  # Django 3.2's default
    ("pbkdf2_sha256-1000", CheapPBKDF2(), False),
    ("pbkdf2_sha1-1000", CheapPBKDF2SHA1(), False),
    ("argon2id-default", hashers.Argon2PasswordHasher(), False),
    ("argon2id", CheapArgon2(), False),
    ("argon2i", Argon2iHasher(), False),
    ("bcrypt_sha256", CheapBCryptSHA256(), False),
    ("bcrypt", CheapBCrypt(), False),
    ("scrypt", CheapScrypt(), False),
    ("sha1", hashers.SHA1PasswordHasher(), True),
    ("md5", hashers.MD5PasswordHasher(), True),
    ("unsalted_sha1", hashers.UnsaltedSHA1PasswordHasher(), True),
    ("unsalted_md5", hashers.UnsaltedMD5PasswordHasher(), True),
    ("crypt", hashers.CryptPasswordHasher(), True),
]


def main():
    vectors = []
    for name, hasher, weak in HASHERS:
        pws = PASSWORDS
        if name in ("pbkdf2_sha256-260000", "argon2id-default"):
            pws = PASSWORDS[:1]  # slow: one is enough
        for pw in pws:
            encoded = hashers.make_password(pw, hasher=hasher)
            assert hasher.verify(pw, encoded), (name, encoded)
            assert not hasher.verify("!" + pw[1:], encoded), (name, encoded)
            vectors.append({"name": name, "password": pw, "encoded": encoded, "weak": weak})
    # "md5$$<hex>", which Django's identify_hasher also reads as unsalted md5.
    vectors.append({"name": "unsalted_md5-prefixed", "password": PASSWORDS[0],
                    "encoded": "md5$$" + hashlib.md5(PASSWORDS[0].encode()).hexdigest(), "weak": True})
    # Unusable: set_unusable_password() / make_password(None).
    unusable = hashers.make_password(None)
    assert not hashers.is_password_usable(unusable)
    out = {
        "django": django.get_version(),
        "python": sys.version.split()[0],
        "vectors": vectors,
        "unusable": [unusable, "!"],
    }
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
