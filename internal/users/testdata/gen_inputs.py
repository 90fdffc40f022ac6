"""The registration inputs fed to drf_oracle.py (see there)."""
import json

OK_NAME, OK_EMAIL, OK_PW = "Alice", "alice@example.com", "s3cret-pass"
cases = []


def add(name=OK_NAME, email=OK_EMAIL, password=OK_PW):
    cases.append({"name": name, "email": email, "password": password})


# Names.
for n in ["", "   ", "\t\n", "A", "  Bob  ", "x" * 100, "x" * 101, " " + "x" * 100 + " ", "é" * 100, "é" * 101,
          "a\x00b", "\u3000name\u3000", "\x1cname\x1f"]:
    add(name=n)

# Emails.
emails = [
    "", "  ", "alice@example.com", "  alice@example.com  ", "ALICE@EXAMPLE.COM", "Bob@EXAMPLE.COM",
    "not-an-email", "@example.com", "alice@", "alice@@example.com", "a@b@example.com",
    "alice@example", "alice@localhost", "alice@LOCALHOST", "alice@localhost.localdomain",
    "alice@example.com.", "alice@.example.com", "alice@example..com", ".alice@example.com",
    "alice.@example.com", "al..ice@example.com", "a.l.i.c.e@example.com", "alice+tag@example.com",
    "!#$%&'*+/=?^_`{|}~-@example.com", "alice(comment)@example.com", "alice,bob@example.com",
    "alice;@example.com", "<alice>@example.com", "ali ce@example.com", "alice@exa mple.com",
    "alice@example.c", "alice@example.co", "alice@example.123", "alice@123.123.123.123",
    "alice@-example.com", "alice@example-.com", "alice@ex-ample.com", "alice@example.-com",
    "alice@example.com-", "alice@example.c-m", "alice@x.xn--p1ai", "alice@example_domain.com",
    "alice@" + "a" * 63 + ".com", "alice@" + "a" * 64 + ".com", "alice@example." + "a" * 63,
    "alice@example." + "a" * 64,
    "alice@[127.0.0.1]", "alice@[127.0.0.256]", "alice@[127.0.0.01]", "alice@[::1]",
    "alice@[2001:db8::1]", "alice@[IPv6:2001:db8::1]", "alice@[::ffff:1.2.3.4]", "alice@[]",
    "alice@[127.0.0.1", "alice@127.0.0.1]", "alice@[1.2.3]", "alice@[gggg::1]",
    '"alice"@example.com', '"ali ce"@example.com', '"ali\\"ce"@example.com', '"ali\\\\ce"@example.com',
    '"alice@example.com', '"alice\\"@example.com', '""@example.com', '"a"b"@example.com',
    '"ali@ce"@example.com', 'a"b@example.com',
    "alice@bücher.de", "alice@BÜCHER.de", "alice@münchen.de", "alice@例え.jp", "alice@ß.de",
    "alice@xn--bcher-kva.de", "alice@xn--.de", "alice@bücher", "alice@bücher.de.",
    "alice@bü..de", "élodie@example.com", "alice@exämple.cöm",
    "a\x00lice@example.com", "alice\t@example.com", "alice@example.com\n",
    "x" * 88 + "@example.com", "x" * 89 + "@example.com", "x" * 200 + "@example.com",
    "x" * 64 + "@" + ("a" * 60 + ".") * 4 + "com", "x@" + ("a" * 60 + ".") * 5 + "com",
    "@", "a@b", "a@b.c", "a@b.cd", "1@2.34",
]
for e in emails:
    add(email=e)

# Passwords.
passwords = [
    "", "   ", "\t", "s3cret-pass", "  padded-pass  ", "1", "12345678", "123456789012", "password",
    "Password", "PASSWORD1", "qwertyuiop", "iloveyou", "abc", "abcdefg", "abcdefgh", "short1!",
    "x" * 128, "x" * 129, " " + "x" * 128 + " ", "é" * 128, "é" * 129,
    "alice@example.com", "alice", "ALICE2024", "alice2024", "elpmaxe.ecila", "example1", "examplecom",
    "moc.elpmaxe@ecila", "alicealicealice", "alice" * 10, "a" * 200,
    "²²²²²²²²", "١٢٣٤٥٦٧٨", "①②③④⑤⑥⑦⑧", "12345678 ", "0" * 7, "0" * 8,
    "pass\x00word123", "\x1cpadded-sep\x1f", "\u3000ideographic-space\u3000", "\u00a0nbsp-pass\u00a0",
    "correct horse battery staple", "Tr0ub4dor&3",
]
for p in passwords:
    add(password=p)

# The password compared with other emails.
for e, p in [("bob@example.com", "bob12345"), ("bob@example.com", "bobexample"), ("ab@c.de", "abcdefghijklmnopqrstuvwxyz"),
             ("ab@c.de", "ab" * 10), ("a@b.cd", "a" * 10), ("a@b.cd", "ab" * 5), ("john.smith@mail.org", "smithjohn"),
             ("john.smith@mail.org", "johnsmith99"), ("john_smith@mail.org", "john_smith"), ("", "short"),
             ("not-an-email", "not-an-email"), ("x" * 101 + "@example.com", "x" * 20)]:
    add(email=e, password=p)

# Combinations.
add("", "", "")
add("   ", "not-an-email", "1")
add("x" * 101, "x" * 101, "x" * 129)
add("", "alice@example.com", "alice")
add("Al", "bad", "12345678")
add("\x00", "\x00", "\x00")

json.dump(cases, __import__("sys").stdout, ensure_ascii=False)
