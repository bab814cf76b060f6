#!/usr/bin/env python3
"""Generate a realistic, deterministic autoprov import CSV for benchmarks.

Usage: gen_users.py N OUT.csv [--web-password] [--seed S]

Writes N users, each with one desk phone, using the canonical column names of
docs/reference/csv.md:

  username,first_name,last_name,display_name,email,mobile,extension,
  sip_password,language,timezone,transport,mac,phone_model,blf,site
  (+ web_password with --web-password)

Every row is valid for autoprov: unique usernames ([a-z0-9._-]), unique
6-digit extensions starting at 100000, unique unicast MACs under real vendor
OUIs with a matching phone_model (spelt aabbccddeeff, aa:bb:.. or AA-BB-..),
BLF keys like `100001;100002:Bob` that point at other generated extensions.
Some first names are non-ASCII (Jürgen, Zoë) and some display names contain a
comma (so they are quoted). As in real exports some optional cells are empty
(mobile, display_name, timezone, blf). Rows average ~154 bytes, so 100,000
rows are about 15 MB. The output depends only on N, the seed and the
flag (the same arguments always produce the same bytes).

Python standard library only.
"""

import argparse
import csv
import random
import sys

COLUMNS = [
    "username", "first_name", "last_name", "display_name", "email", "mobile",
    "extension", "sip_password", "language", "timezone", "transport", "mac",
    "phone_model", "blf", "site",
]

FIRST_EXTENSION = 100000

# (weight, OUI, phone models) — OUIs are real vendor prefixes (see src/vendor.rs).
VENDORS = [
    (35, (0x80, 0x5E, 0xC0), ["yealink-t54w"]),
    (15, (0x00, 0x04, 0xF2), ["polycom-vvx450"]),
    (15, (0x00, 0x26, 0x99), ["cisco-8841"]),
    (15, (0x00, 0x0B, 0x82), ["grandstream-grp2614"]),
    (10, (0x00, 0x04, 0x13), ["snom-d785"]),
    (10, (0x0C, 0x38, 0x3E), ["fanvil-x4u"]),
]

# (weight, language, timezones, mobile country code, first names, last names)
LOCALES = [
    (30, "de-DE", ["Europe/Berlin"], "+49",
     ["Jürgen", "Jörg", "Günther", "Anna", "Lena", "Thomas", "Stefan", "Sabine",
      "Michael", "Katrin", "Uwe", "Björn", "Sören", "Petra", "Klaus", "Heike"],
     ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
      "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter",
      "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann"]),
    (8, "de-AT", ["Europe/Vienna"], "+43",
     ["Lukas", "Katharina", "Florian", "Theresa", "Maximilian"],
     ["Gruber", "Huber", "Bauer", "Wagner", "Pichler", "Steiner", "Moser"]),
    (5, "de-CH", ["Europe/Zurich"], "+41",
     ["Reto", "Urs", "Nicole", "Beat", "Corinne"],
     ["Meier", "Keller", "Brunner", "Baumann", "Frei", "Gerber"]),
    (20, "fr-FR", ["Europe/Paris"], "+33",
     ["Zoë", "Léa", "Hélène", "Chloé", "François", "Jérôme", "Céline", "Amélie",
      "Pierre", "Julien", "Nicolas", "Camille", "Maël", "Anaïs"],
     ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit",
      "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Girard"]),
    (20, "en-US", ["America/New_York", "America/Chicago", "America/Denver",
                   "America/Los_Angeles"], "+1",
     ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael",
      "Linda", "David", "Elizabeth", "William", "Barbara", "Zoë", "Chris"],
     ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
      "Davis", "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor"]),
    (8, "en-GB", ["Europe/London"], "+44",
     ["Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah"],
     ["Jones", "Evans", "Davies", "Roberts", "Walker", "Wright", "Hughes"]),
    (5, "nl-NL", ["Europe/Amsterdam"], "+31",
     ["Daan", "Emma", "Sem", "Julia", "Bram"],
     ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"]),
    (4, "es-ES", ["Europe/Madrid"], "+34",
     ["José", "María", "Lucía", "Andrés", "Begoña"],
     ["García", "Fernández", "González", "Rodríguez", "López", "Martínez"]),
]

TRANSPORTS = ["udp"] * 6 + ["tcp"] * 1 + ["tls"] * 3
EMAIL_DOMAINS = ["acme.de", "acme.fr", "acme.com"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# Transliteration for the ASCII identifiers (username, email local part).
ASCII_MAP = str.maketrans({
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue",
    "é": "e", "è": "e", "ê": "e", "ë": "e", "à": "a", "â": "a", "ç": "c",
    "ï": "i", "î": "i", "ô": "o", "ù": "u", "û": "u", "í": "i", "ó": "o",
    "ú": "u", "ñ": "n", "á": "a", "ø": "o", "å": "a", " ": "",
})


def ascii_slug(s):
    s = s.lower().translate(ASCII_MAP)
    return "".join(c for c in s if c.isascii() and (c.isalnum() or c in "._-"))


def mac_suffix(i):
    """A bijection on 0..2^24-1: distinct i give distinct (scattered) suffixes."""
    return (i * 0x9E3779 + 0x5A17) & 0xFFFFFF


def mobile_number(rng, cc):
    if rng.random() < 0.5:
        return ""  # not everyone has a company mobile
    if cc == "+1":
        n = "%03d %03d %04d" % (rng.randint(201, 989), rng.randint(200, 999),
                                rng.randint(0, 9999))
        return rng.choice(["+1 " + n, "+1 (" + n[:3] + ") " + n[4:].replace(" ", "-")])
    body = "%d %07d" % (rng.randint(150, 179), rng.randint(0, 9999999))
    return rng.choice([cc + " " + body, cc + body.replace(" ", "")])


def generate(n, out, web_password, seed):
    rng = random.Random(seed)
    # Own stream, so --web-password adds a column without changing the users.
    pw_rng = random.Random(seed + 1)
    loc_weights = [l[0] for l in LOCALES]
    ven_weights = [v[0] for v in VENDORS]
    seen = {}

    # First pass: identities, so BLF labels can name the watched colleague.
    people = []
    for _ in range(n):
        loc = rng.choices(LOCALES, loc_weights)[0]
        first = rng.choice(loc[4])
        last = rng.choice(loc[5])
        base = ascii_slug(first)[:1] + ascii_slug(last)
        count = seen.get(base, 0)
        seen[base] = count + 1
        username = base if count == 0 else "%s%d" % (base, count)
        people.append((loc, first, last, username))

    header = COLUMNS + (["web_password"] if web_password else [])
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for i, (loc, first, last, username) in enumerate(people):
        ext = FIRST_EXTENSION + i
        r = rng.random()
        if r < 0.07:
            display = "%s, %s" % (last, first)  # "Müller, Jürgen" → quoted cell
        elif r < 0.65:
            display = "%s %s" % (first, last)
        else:
            display = ""  # autoprov defaults it to "first last"
        email = "%s@%s" % (username, rng.choice(EMAIL_DOMAINS))
        _, oui, models = rng.choices(VENDORS, ven_weights)[0]
        s = mac_suffix(i)
        mac = "%02x%02x%02x%06x" % (oui[0], oui[1], oui[2], s)
        r = rng.random()
        if r < 0.25:  # the spellings admins' exports really contain
            mac = ":".join(mac[k:k + 2] for k in range(0, 12, 2))
        elif r < 0.40:
            mac = "-".join(mac[k:k + 2] for k in range(0, 12, 2)).upper()
        blf_keys = []
        watched = {i}  # never yourself, never the same colleague twice
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
            j = rng.randrange(n)
            if j in watched:
                continue
            watched.add(j)
            key = str(FIRST_EXTENSION + j)
            if rng.random() < 0.5:
                key += ":" + people[j][1]
            blf_keys.append(key)
        row = [
            username, first, last, display, email,
            mobile_number(rng, loc[3]),
            str(ext),
            "".join(rng.choices(ALNUM, k=20)),
            loc[1],
            rng.choice(loc[2]) if rng.random() < 0.7 else "",  # "" = site default
            rng.choice(TRANSPORTS),
            mac,
            rng.choice(models),
            ";".join(blf_keys),
            "default",
        ]
        if web_password:
            row.append("Passw0rd%04d" % pw_rng.randrange(10000))
        w.writerow(row)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("n", type=int, metavar="N", help="number of users")
    p.add_argument("out", metavar="OUT.csv", help="output file ('-' for stdout)")
    p.add_argument("--web-password", action="store_true",
                   help="add a web_password column (Passw0rd + 4 digits)")
    p.add_argument("--seed", type=int, default=20240501, help="RNG seed")
    a = p.parse_args()
    if a.n < 1 or a.n > 900000:
        p.error("N must be between 1 and 900000 (6-digit extensions from 100000)")
    if a.out == "-":
        sys.stdout.reconfigure(newline="")
        generate(a.n, sys.stdout, a.web_password, a.seed)
    else:
        with open(a.out, "w", encoding="utf-8", newline="") as f:
            generate(a.n, f, a.web_password, a.seed)


if __name__ == "__main__":
    main()
